// The V8 side of section 1: a fresh `node` process compiles, instantiates and calls one export
// of a module, as a user of the JS API would. `node bench/v8FirstCall.ts <file.wasm> [export]`
// prints one JSON line: the time from the compile to the call's result (the process's start
// and the file read are not included, so the figure is V8's own work, cold), its parts, and
// the result as unsigned 32-bit bits.

import { readFileSync } from 'node:fs';

export interface V8FirstCall {
  readonly ms: number;
  readonly compileMs: number;
  readonly instantiateMs: number;
  readonly callMs: number;
  readonly bits: string;
}

export class V8FirstCallError extends Error {
  override name = 'V8FirstCallError';
}

/** Compiles, instantiates and calls `exportName` (no arguments, one i32 result). */
export function firstCall(bytes: Uint8Array<ArrayBuffer>, exportName: string): V8FirstCall {
  const t0 = performance.now();
  const module = new WebAssembly.Module(bytes);
  const t1 = performance.now();
  const instance = new WebAssembly.Instance(module, {});
  const t2 = performance.now();
  const fn = instance.exports[exportName];
  if (typeof fn !== 'function') throw new V8FirstCallError(`the module exports no function "${exportName}"`);
  const result = (fn as () => number)();
  const t3 = performance.now();
  return { ms: t3 - t0, compileMs: t1 - t0, instantiateMs: t2 - t1, callMs: t3 - t2, bits: String(result >>> 0) };
}

if (import.meta.main) {
  const [file, exportName = 'main'] = process.argv.slice(2);
  if (!file) throw new V8FirstCallError('usage: node bench/v8FirstCall.ts <file.wasm> [export]');
  const bytes = new Uint8Array(readFileSync(file));
  process.stdout.write(`${JSON.stringify(firstCall(bytes, exportName))}\n`);
}
