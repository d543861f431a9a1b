// The per-module memory cap: every memory a module defines gets a maximum no larger than the
// cap (so memory.grow beyond it returns -1, as the wasm spec lets an engine do), and a module
// whose memory starts larger than the cap is refused. Applied to the binary once, at parse, so
// every piece built from it (globals module, whole-module compile, imports of extracted
// functions) carries the same limits. The per-session cap needs the executor to create each
// memory itself, so the pieces that define one import it instead (growInstrumentation.ts).

import { ResourceExhausted } from '../core/errors.ts';
import { ByteWriter } from './bytes.ts';
import { replaceSection, SectionId, type ModuleBinary } from './moduleBinary.ts';
import type { MemoryType } from './types.ts';

/** The largest maximum a 32-bit memory can declare, in 64 KiB pages. */
const MAX_PAGES_32 = 65536;

export function encodeLimits(w: ByteWriter, t: MemoryType): void {
  const flags = (t.maximum !== undefined ? 1 : 0) | (t.shared ? 2 : 0);
  w.u8(flags).u32(t.initial);
  if (t.maximum !== undefined) w.u32(t.maximum);
}

/**
 * `defined` with every maximum lowered to `cap` (an absent one set to it); null when none
 * changes. Throws `tooBig(i)` for the first that starts above the cap. Shared by memories and
 * tables (tableLimits.ts).
 */
export function capMaxima<T extends { readonly initial: number; readonly maximum?: number | undefined }>(
  defined: readonly T[],
  cap: number,
  tooBig: (i: number) => Error,
): T[] | null {
  let changed = false;
  const capped = defined.map((t, i) => {
    if (t.initial > cap) throw tooBig(i);
    if (t.maximum !== undefined && t.maximum <= cap) return t;
    changed = true;
    return { ...t, maximum: cap };
  });
  return changed ? capped : null;
}

/** Returns the binary with defined memories clamped to `maxPages` (the same bytes when nothing changes). */
export function clampMemories(binary: ModuleBinary, maxPages: number): Uint8Array {
  const cap = Math.min(Math.max(0, Math.floor(maxPages)), MAX_PAGES_32);
  const defined = binary.memories.slice(binary.importedMemories);
  const clamped = capMaxima(defined, cap, (i) => {
    const m = defined[i] as MemoryType;
    return new ResourceExhausted('memoryPages', `Memory ${binary.importedMemories + i} starts with ${m.initial} pages; the limit is ${cap} pages.`);
  });
  if (clamped === null) return binary.bytes;
  const payload = new ByteWriter();
  payload.u32(clamped.length);
  for (const m of clamped) encodeLimits(payload, m);
  return replaceSection(binary, SectionId.memory, payload.finish());
}
