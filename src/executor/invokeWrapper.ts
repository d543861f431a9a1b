// The per-signature invoke wrapper: a generated function `invoke(slot, ...rawArgs) -> rawResults`
// that rebuilds exact arguments from raw bits, call_indirects through the session table at
// `slot`, and returns every result as raw bits. This is how NaN payloads, i64 extremes and
// v128 values cross between JS and wasm unchanged in both directions.

import type { FuncType } from '../wasm/types.ts';
import { GLUE_MODULE_PREFIX, pushRawFromLocal, pushRealFromRawLocals } from './glue.ts';
import { rawTypes } from './rawValues.ts';
import { Code, ModuleEncoder } from './wasmEncoder.ts';

/** Bytes of a module importing `env.table` and exporting `invoke` for functions of type `type`. */
export function buildInvokeWrapper(type: FuncType): Uint8Array {
  const m = new ModuleEncoder();
  m.setModuleName(`${GLUE_MODULE_PREFIX}invoke`);
  m.importTable('env', 'table', 'funcref', 0);
  const target = m.type(type);
  const rawParams = type.params.flatMap(rawTypes);
  const rawResults = type.results.flatMap(rawTypes);

  const code = new Code();
  let local = 1; // local 0 is the slot
  for (const p of type.params) {
    pushRealFromRawLocals(code, p, local);
    local += rawTypes(p).length;
  }
  code.localGet(0).callIndirect(target, 0);

  // Results sit on the stack last-on-top; park them in locals so each can be converted in order.
  const resultLocalBase = 1 + rawParams.length;
  const needsConversion = type.results.some((r) => r === 'f32' || r === 'f64' || r === 'v128');
  if (needsConversion) {
    for (let i = type.results.length - 1; i >= 0; i--) code.localSet(resultLocalBase + i);
    type.results.forEach((r, i) => pushRawFromLocal(code, r, resultLocalBase + i));
  }

  const fn = m.addFunc(
    { params: ['i32', ...rawParams], results: rawResults },
    code,
    needsConversion ? type.results : [],
    'invoke',
  );
  m.exportFunc('invoke', fn);
  return m.encode();
}
