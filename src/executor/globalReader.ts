// Reads a global's exact value. `WebAssembly.Global.value` turns f32/f64 into JS numbers (losing
// NaN payloads) and throws for v128, so a tiny generated module imports the global and returns
// it as raw bits instead.

import type { GlobalType } from '../wasm/types.ts';
import { GLUE_MODULE_PREFIX, pushRawFromLocal } from './glue.ts';
import { rawTypes } from './rawValues.ts';
import { Code, ModuleEncoder } from './wasmEncoder.ts';

/** Bytes of a module importing `env.g` of type `type` and exporting `get() -> raw bits`. */
export function buildGlobalReader(type: GlobalType): Uint8Array {
  const m = new ModuleEncoder();
  m.setModuleName(`${GLUE_MODULE_PREFIX}global`);
  m.importGlobal('env', 'g', type.type, type.mutable);
  const code = new Code().globalGet(0);
  const needsLocal = type.type === 'f32' || type.type === 'f64' || type.type === 'v128';
  if (needsLocal) {
    code.localSet(0);
    pushRawFromLocal(code, type.type, 0);
  }
  const fn = m.addFunc({ params: [], results: rawTypes(type.type) }, code, needsLocal ? [type.type] : [], 'get');
  m.exportFunc('get', fn);
  return m.encode();
}
