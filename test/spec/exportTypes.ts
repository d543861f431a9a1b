// Reads the types of a module's exports from its binary. Node's JS API hands back bare numbers
// and cannot say whether an exported function returns i32 or f32 (type reflection is behind a
// flag), yet the direct target must turn every result back into exact bits of the right type.
// The project's own binary decoder (src/wasm/moduleBinary.ts, no binaryen) does the reading.

import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import type { FuncType, GlobalType } from '../../src/wasm/types.ts';

export type ExportType =
  | { readonly kind: 'function'; readonly type: FuncType }
  | { readonly kind: 'global'; readonly type: GlobalType }
  | { readonly kind: 'table' | 'memory' | 'tag' };

export function readExportTypes(bytes: Uint8Array): Map<string, ExportType> {
  const m = decodeModuleBinary(bytes);
  const exports = new Map<string, ExportType>();
  for (const e of m.exports) {
    if (e.kind === 'function') exports.set(e.name, { kind: 'function', type: m.types[m.funcTypes[e.index] as number] as FuncType });
    else if (e.kind === 'global') exports.set(e.name, { kind: 'global', type: (m.globals[e.index] as { type: GlobalType }).type });
    else exports.set(e.name, { kind: e.kind });
  }
  return exports;
}
