// The per-table cap, the twin of memoryLimits.ts: every table a module defines gets a maximum no
// larger than the cap (so table.grow beyond it returns -1, as wasm lets an engine do), and a
// module whose table starts larger than the cap is refused. Applied to the binary once, at
// parse, so every piece built from it carries the same limits.

import { ResourceExhausted } from '../core/errors.ts';
import { ByteWriter } from './bytes.ts';
import { capMaxima } from './memoryLimits.ts';
import { replaceSection, SectionId, type ModuleBinary } from './moduleBinary.ts';
import type { TableType } from './types.ts';

/** The largest size V8 lets a table have (its --wasm-max-table-size). */
export const MAX_TABLE_ELEMENTS = 10_000_000;

const REF_TYPE_BYTE: Readonly<Record<string, number>> = { funcref: 0x70, externref: 0x6f };

function encodeTableType(w: ByteWriter, t: TableType): void {
  const byte = REF_TYPE_BYTE[t.elementType];
  if (byte === undefined) throw new Error(`cannot encode a table of ${t.elementType}`);
  w.u8(byte).u8(t.maximum !== undefined ? 1 : 0).u32(t.initial);
  if (t.maximum !== undefined) w.u32(t.maximum);
}

/** Returns the binary with defined tables clamped to `maxElements` (the same bytes when nothing changes). */
export function clampTables(binary: ModuleBinary, maxElements: number): Uint8Array {
  const cap = Math.min(Math.max(0, Math.floor(maxElements)), MAX_TABLE_ELEMENTS);
  const defined = binary.tables.slice(binary.importedTables);
  const types = capMaxima(
    defined.map((t) => t.type),
    cap,
    (i) => new ResourceExhausted('tableElements', `Table ${binary.importedTables + i} starts with ${defined[i]?.type.initial} elements; the limit is ${cap}.`),
  );
  if (types === null) return binary.bytes;
  const payload = new ByteWriter();
  payload.u32(defined.length);
  defined.forEach((t, i) => {
    if (t.init !== null) payload.u8(0x40).u8(0x00);
    encodeTableType(payload, types[i] as TableType);
    if (t.init !== null) payload.bytes(binary.bytes.subarray(t.init.start, t.init.end));
  });
  return replaceSection(binary, SectionId.table, payload.finish());
}

/** Elements the tables `binary` defines (not imports) start with in all. */
export function definedTableElements(binary: ModuleBinary): number {
  let elements = 0;
  for (let i = binary.importedTables; i < binary.tables.length; i++) elements += binary.tables[i]?.type.initial ?? 0;
  return elements;
}
