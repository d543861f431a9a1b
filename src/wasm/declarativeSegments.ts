// Declarative element segments, which binaryen drops when it reads a binary. A declarative
// segment only declares functions that `ref.func` may name, and is dropped at instantiation, so
// a `table.init` from it acts on an empty segment (elem.wast). binaryen losing it makes such a
// module fail to parse (the instruction names a segment that is gone). So, before binaryen
// reads the binary, each declarative segment becomes an empty passive segment at the same index
// (which every instruction sees exactly as it would see the dropped one), and its functions are
// declared again by a declarative segment appended after all others (an index no instruction
// names: binaryen may drop it, and declares what its own output references by itself).

import { ByteWriter } from './bytes.ts';
import { replaceSection, SectionId, type ElementSegment, type ModuleBinary } from './moduleBinary.ts';

function encodeSegment(w: ByteWriter, bytes: Uint8Array, seg: ElementSegment, flags: number, items: boolean): void {
  w.u32(flags);
  if (flags === 2 || flags === 6) w.u32(seg.table);
  if (seg.offset !== null) w.bytes(bytes.subarray(seg.offset.start, seg.offset.end));
  if (seg.rawKind !== null) w.bytes(seg.rawKind);
  if (!items) {
    w.u32(0);
    return;
  }
  if (seg.funcIndices !== null) {
    w.u32(seg.funcIndices.length);
    for (const f of seg.funcIndices) w.u32(f);
  } else {
    const exprs = seg.exprs ?? [];
    w.u32(exprs.length);
    for (const e of exprs) w.bytes(bytes.subarray(e.start, e.end));
  }
}

/** The binary with declarative segments emptied into passive ones (the same bytes when it has none). */
export function emptyDeclarativeSegments(binary: ModuleBinary): Uint8Array {
  const declarative = binary.elements.filter((s) => s.mode === 'declarative');
  if (declarative.length === 0) return binary.bytes;
  const { bytes } = binary;
  const payload = new ByteWriter();
  payload.u32(binary.elements.length + declarative.length);
  // Passive is declarative without the declarative bit: 3 -> 1, 7 -> 5.
  for (const seg of binary.elements) {
    if (seg.mode === 'declarative') encodeSegment(payload, bytes, seg, seg.flags & ~2, false);
    else encodeSegment(payload, bytes, seg, seg.flags, true);
  }
  for (const seg of declarative) encodeSegment(payload, bytes, seg, seg.flags, true);
  return replaceSection(binary, SectionId.element, payload.finish());
}
