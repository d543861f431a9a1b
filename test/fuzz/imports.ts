// What ttf modules import, provided the same way to both sides. binaryen's fuzzer expects a
// JS host ("fuzzing-support": log-*, call-export*, sleep, table-get/set...) and may import
// globals from "__fuzz_import". Here every one of them is a tiny *wasm* module: over HTTP it is
// added to a dylib named like the import module (the service resolves `(import "X" "f")` as
// symbol f of dylib X), and the direct side instantiates the very same binary. Wasm rather
// than JS functions, because a JS function cannot take a v128 (log-v128) and because both
// sides then run identical no-op code.

import binaryen from 'binaryen';
import { decodeModuleBinary, type ModuleBinary } from '../../src/wasm/moduleBinary.ts';
import type { FuncType, GlobalType } from '../../src/wasm/types.ts';

export const FUZZING_SUPPORT = 'fuzzing-support';
export const FUZZ_IMPORT = '__fuzz_import';

// The host functions, as no-ops with fixed answers: "call-export*" does not call back (a
// *-catch variant reports "nothing thrown"), "sleep" returns its id without sleeping, and
// "table-get" finds nothing.
const SUPPORT_FUNCTIONS: Readonly<Record<string, { type: FuncType; body: string }>> = {
  'log-i32': { type: { params: ['i32'], results: [] }, body: '' },
  'log-i64': { type: { params: ['i64'], results: [] }, body: '' },
  'log-f32': { type: { params: ['f32'], results: [] }, body: '' },
  'log-f64': { type: { params: ['f64'], results: [] }, body: '' },
  'log-v128': { type: { params: ['v128'], results: [] }, body: '' },
  'log-funcref': { type: { params: ['funcref'], results: [] }, body: '' },
  'log-externref': { type: { params: ['externref'], results: [] }, body: '' },
  'call-export': { type: { params: ['i32', 'i32'], results: [] }, body: '' },
  'call-export-catch': { type: { params: ['i32'], results: ['i32'] }, body: 'i32.const 0' },
  'call-ref': { type: { params: ['funcref', 'i32'], results: [] }, body: '' },
  'call-ref-catch': { type: { params: ['funcref'], results: ['i32'] }, body: 'i32.const 0' },
  sleep: { type: { params: ['i32', 'i32'], results: ['i32'] }, body: 'local.get 1' },
  'table-get': { type: { params: ['i32'], results: ['funcref'] }, body: 'ref.null func' },
  'table-set': { type: { params: ['i32', 'funcref'], results: [] }, body: '' },
};

export const FUZZING_SUPPORT_WAT = `(module\n${Object.entries(SUPPORT_FUNCTIONS)
  .map(([name, { type, body }]) => {
    const params = type.params.length ? ` (param ${type.params.join(' ')})` : '';
    const results = type.results.length ? ` (result ${type.results.join(' ')})` : '';
    return `  (func (export ${JSON.stringify(name)})${params}${results} ${body})`;
  })
  .join('\n')})`;

const ZERO: Readonly<Record<string, string>> = {
  i32: 'i32.const 0',
  i64: 'i64.const 0',
  f32: 'f32.const 0',
  f64: 'f64.const 0',
  v128: 'v128.const i64x2 0 0',
  funcref: 'ref.null func',
  externref: 'ref.null extern',
};

function globalWat(name: string, type: GlobalType): string {
  const t = type.mutable ? `(mut ${type.type})` : type.type;
  return `  (global (export ${JSON.stringify(name)}) ${t} (${ZERO[type.type]}))`;
}

/** A WAT module and its binary, for one side each. */
export interface Provider {
  readonly wat: string;
  readonly wasm: Uint8Array<ArrayBuffer>;
}

export function watToWasm(wat: string): Uint8Array<ArrayBuffer> {
  const mod = binaryen.parseText(wat);
  try {
    mod.setFeatures(binaryen.Features.All);
    if (!mod.validate()) throw new Error(`the support module does not validate:\n${wat}`);
    return new Uint8Array(mod.emitBinary());
  } finally {
    mod.dispose();
  }
}

export const FUZZING_SUPPORT_WASM = watToWasm(FUZZING_SUPPORT_WAT);

const sameType = (a: FuncType, b: FuncType) =>
  a.params.join() === b.params.join() && a.results.join() === b.results.join();

/**
 * The providers a module's imports need beyond the shared fuzzing-support one (the module's
 * own "__fuzz_import" globals), or a reason the harness cannot satisfy them.
 */
export function providersFor(binary: ModuleBinary): { providers: Record<string, Provider> } | { unsupported: string } {
  const fuzzGlobals: string[] = [];
  for (const imp of binary.imports) {
    const what = `${imp.module}.${imp.name} (${imp.kind})`;
    if (imp.module === FUZZING_SUPPORT && imp.kind === 'function') {
      const known = SUPPORT_FUNCTIONS[imp.name];
      const type = binary.types[binary.funcTypes[imp.index]!]!;
      if (!known || !sameType(known.type, type)) return { unsupported: what };
    } else if (imp.module === FUZZ_IMPORT && imp.kind === 'global') {
      fuzzGlobals.push(globalWat(imp.name, binary.globals[imp.index]!.type));
    } else {
      return { unsupported: what };
    }
  }
  if (fuzzGlobals.length === 0) return { providers: {} };
  const wat = `(module\n${[...new Set(fuzzGlobals)].join('\n')})`;
  try {
    return { providers: { [FUZZ_IMPORT]: { wat, wasm: watToWasm(wat) } } };
  } catch {
    return { unsupported: `${FUZZ_IMPORT} globals of one name with different types` };
  }
}

export { decodeModuleBinary };
