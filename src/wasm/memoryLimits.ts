// The per-module memory cap: every memory a module defines gets a maximum no larger than the
// cap (so memory.grow beyond it returns -1, as the wasm spec lets an engine do), and a module
// whose memory starts larger than the cap is refused. Applied to the binary once, at parse, so
// every piece built from it (globals module, whole-module compile, imports of extracted
// functions) carries the same limits. The per-session cap needs the executor to create each
// memory itself, so the pieces that define one import it instead (growInstrumentation.ts).

import { ResourceExhausted } from '../core/errors.ts';
import { ByteWriter } from './bytes.ts';
import { SectionId, type ModuleBinary } from './moduleBinary.ts';
import type { MemoryType } from './types.ts';

/** The largest maximum a 32-bit memory can declare, in 64 KiB pages. */
const MAX_PAGES_32 = 65536;

export function encodeLimits(w: ByteWriter, t: MemoryType): void {
  const flags = (t.maximum !== undefined ? 1 : 0) | (t.shared ? 2 : 0);
  w.u8(flags).u32(t.initial);
  if (t.maximum !== undefined) w.u32(t.maximum);
}

/** Returns the binary with defined memories clamped to `maxPages` (the same bytes when nothing changes). */
export function clampMemories(binary: ModuleBinary, maxPages: number): Uint8Array {
  const cap = Math.min(Math.max(0, Math.floor(maxPages)), MAX_PAGES_32);
  const defined = binary.memories.slice(binary.importedMemories);
  let changed = false;
  const clamped = defined.map((m, i) => {
    if (m.initial > cap) {
      throw new ResourceExhausted(
        'memoryPages',
        `Memory ${binary.importedMemories + i} starts with ${m.initial} pages; the limit is ${cap} pages.`,
      );
    }
    if (m.maximum !== undefined && m.maximum <= cap) return m;
    changed = true;
    return { ...m, maximum: cap };
  });
  if (!changed) return binary.bytes;

  const section = binary.sections.find((s) => s.id === SectionId.memory);
  if (!section) throw new Error('defined memories without a memory section');
  const payload = new ByteWriter();
  payload.u32(clamped.length);
  for (const m of clamped) encodeLimits(payload, m);
  return new ByteWriter(binary.bytes.length + 16)
    .bytes(binary.bytes.subarray(0, section.headerStart))
    .section(SectionId.memory, payload.finish())
    .bytes(binary.bytes.subarray(section.end))
    .finish();
}
