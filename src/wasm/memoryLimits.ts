// The per-module memory cap: every memory a module defines gets a maximum no larger than the
// cap (so memory.grow beyond it returns -1, as the wasm spec lets an engine do), and a module
// whose memory starts larger than the cap is refused. Applied to the binary once, at parse, so
// every piece built from it (globals module, whole-module compile, imports of extracted
// functions) carries the same limits. The per-session cap needs the executor to create each
// memory itself, so the pieces that define one import it instead (importDefinedMemory).

import { ResourceExhausted } from '../core/errors.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import { decodeModuleBinary, SectionId, type ModuleBinary } from './moduleBinary.ts';
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

/**
 * Returns the binary with its defined memory turned into an import `module`.`name` of the same
 * limits, or null when it defines none. The executor creates every memory of the session this
 * way (counting it against the session's memory budget before any code of the module runs) and
 * hands it to the instance; the memory's index does not change, since a module has at most one.
 * Active data segments still initialize it at instantiation, as they would a defined memory.
 */
export function importDefinedMemory(bytes: Uint8Array, module: string, name: string): Uint8Array | null {
  const binary = decodeModuleBinary(bytes);
  const defined = binary.memories.slice(binary.importedMemories);
  if (defined.length === 0) return null;
  if (binary.memories.length > 1) throw new RangeError('multiple memories are not supported');
  const entry = new ByteWriter(module.length + name.length + 16).name(module).name(name).u8(0x02);
  encodeLimits(entry, defined[0]!);
  const importEntry = entry.finish();

  const out = new ByteWriter(bytes.length + importEntry.length + 8);
  out.bytes(bytes.subarray(0, 8));
  let imported = false;
  for (const s of binary.sections) {
    if (s.id === SectionId.memory) continue;
    if (s.id === SectionId.import) {
      const r = new ByteReader(bytes, s.payloadStart, s.end);
      const count = r.u32();
      out.section(SectionId.import, new ByteWriter(s.end - s.payloadStart + importEntry.length + 5).u32(count + 1).bytes(bytes.subarray(r.pos, s.end)).bytes(importEntry).finish());
      imported = true;
      continue;
    }
    // No import section: one goes right before the first section that must follow it.
    if (!imported && s.id !== SectionId.custom && s.id !== SectionId.type) {
      out.section(SectionId.import, new ByteWriter(importEntry.length + 1).u32(1).bytes(importEntry).finish());
      imported = true;
    }
    out.bytes(bytes.subarray(s.headerStart, s.end));
  }
  if (!imported) out.section(SectionId.import, new ByteWriter(importEntry.length + 1).u32(1).bytes(importEntry).finish());
  return out.finish();
}
