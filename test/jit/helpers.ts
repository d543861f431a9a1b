// Builds a LazyJIT for a test with the server's defaults (one place for them: src/config.ts)
// and some settings overridden, and closes it when the test ends.

import type { Test } from 'tap';
import { defaultJITConfig, type JITConfig } from '../../src/config.ts';
import { LazyJIT } from '../../src/jit/LazyJIT.ts';
import type { WasmValue } from '../../src/wasm/types.ts';

export async function createJIT(t: Test, overrides: Partial<JITConfig> = {}): Promise<LazyJIT> {
  const jit = await LazyJIT.create({ ...defaultJITConfig(), ...overrides });
  t.teardown(() => jit.close());
  return jit;
}

export const i32 = (n: number): WasmValue => ({ type: 'i32', bits: String(n >>> 0) });
export const args = (...vs: WasmValue[]) => () => vs;
