// Worker side of the `spectest` host module: the objects behind SPECTEST_SYMBOLS. The print
// functions must be real wasm functions (so they fit in funcref tables and can be imported like
// any other), so a generated shim module wraps the JS callbacks; the shim passes floats as raw
// bits, which lets NaNs print with their payload.

import type { FuncType, ValType } from '../wasm/types.ts';
import { GLUE_MODULE_PREFIX, pushRawFromLocal } from './glue.ts';
import { formatPrinted } from './printFormat.ts';
import { rawTypes } from './rawValues.ts';
import { SPECTEST_FUNCTIONS, SPECTEST_GLOBALS, SPECTEST_MEMORY, SPECTEST_TABLE } from './spectest.ts';
import type { ExecutorAddr } from './protocol.ts';
import { Code, ModuleEncoder } from './wasmEncoder.ts';

export interface SpectestObjects {
  readonly functions: readonly { readonly addr: ExecutorAddr; readonly fn: Function }[];
  readonly data: readonly { readonly addr: ExecutorAddr; readonly object: object }[];
}

function buildShim(): Uint8Array {
  const m = new ModuleEncoder();
  m.setModuleName(`${GLUE_MODULE_PREFIX}spectest`);
  const imported = SPECTEST_FUNCTIONS.map((f) => {
    const t = f.type as FuncType;
    return m.importFunc('host', f.name, { params: t.params.flatMap(rawTypes), results: [] });
  });
  SPECTEST_FUNCTIONS.forEach((f, i) => {
    const t = f.type as FuncType;
    const code = new Code();
    t.params.forEach((p, local) => pushRawFromLocal(code, p, local));
    code.call(imported[i] ?? 0);
    m.exportFunc(f.name, m.addFunc(t, code, [], f.name));
  });
  return m.encode();
}

/**
 * Creates the spectest objects. Each print function appends ONE line per call to `print`:
 * the values formatted like the reference interpreter ("42 : i32"), joined by ", " when there
 * are two, and an empty line for the argument-less `print`.
 */
export function createSpectest(print: (line: string) => void): SpectestObjects {
  const host: Record<string, Function> = {};
  for (const f of SPECTEST_FUNCTIONS) {
    const params: readonly ValType[] = (f.type as FuncType).params;
    host[f.name] = (...raw: unknown[]) => {
      print(params.map((p, i) => formatPrinted(p, raw[i])).join(', '));
    };
  }
  const shim = new WebAssembly.Instance(new WebAssembly.Module(buildShim() as BufferSource), { host });
  const functions = SPECTEST_FUNCTIONS.map((f) => ({ addr: f.addr, fn: shim.exports[f.name] as Function }));

  const data: { addr: ExecutorAddr; object: object }[] = SPECTEST_GLOBALS.map((g) => ({
    addr: g.addr,
    object: new WebAssembly.Global(
      { value: g.type.type as 'i32' | 'i64' | 'f32' | 'f64', mutable: false },
      g.type.type === 'i64' ? BigInt(g.init) : g.init,
    ),
  }));
  const table = SPECTEST_TABLE.type;
  data.push({
    addr: SPECTEST_TABLE.addr,
    object: new WebAssembly.Table({ element: 'anyfunc', initial: table.initial, maximum: table.maximum ?? table.initial }),
  });
  const memory = SPECTEST_MEMORY.type;
  data.push({
    addr: SPECTEST_MEMORY.addr,
    object: new WebAssembly.Memory({ initial: memory.initial, maximum: memory.maximum ?? memory.initial }),
  });
  return { functions, data };
}
