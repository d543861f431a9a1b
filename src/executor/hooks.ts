// The executor's own functions that compiled code imports (src/wasm's HostFunction): the
// memory.grow hook of the session's memory budget (memoryBudget.ts) and the reoptimize hook,
// which a function's entry counter calls once the function gets hot (it tells main and returns
// at once). Like the spectest
// functions, each sits at a fixed address that every worker fills at start-up, so the JIT can
// link against it without asking, and it survives worker restarts.

import type { HostFunction } from '../wasm/index.ts';
import { GLUE_MODULE_PREFIX } from './glue.ts';
import type { ExecutorAddr } from './protocol.ts';
import { FIRST_FREE_FUNC_ADDR } from './spectest.ts';
import { Code, ModuleEncoder } from './wasmEncoder.ts';

export const HOOK_ADDRESSES: Readonly<Record<HostFunction, ExecutorAddr>> = {
  memoryGrow: FIRST_FREE_FUNC_ADDR,
  reoptimize: FIRST_FREE_FUNC_ADDR + 1,
};

/** Addresses no op defines: importing one orders nothing (OpSequencer). */
export const HOOK_ADDRESS_SET: ReadonlySet<ExecutorAddr> = new Set(Object.values(HOOK_ADDRESSES));

/**
 * The reoptimize hook (the memory.grow hook comes from MemoryBudget). Hooks must be wasm functions (the session table holds only those), so a
 * generated module wraps the JS callbacks; its glue name keeps it out of trap stacks.
 */
export function createHooks(reoptimize: (id: number) => void): { readonly addr: ExecutorAddr; readonly fn: Function }[] {
  const m = new ModuleEncoder();
  m.setModuleName(`${GLUE_MODULE_PREFIX}hooks`);
  const type = { params: ['i32' as const], results: [] };
  const imported = m.importFunc('host', 'reoptimize', type);
  m.exportFunc('reoptimize', m.addFunc(type, new Code().localGet(0).call(imported)));
  const module = new WebAssembly.Module(m.encode() as BufferSource);
  const instance = new WebAssembly.Instance(module, { host: { reoptimize } });
  return [{ addr: HOOK_ADDRESSES.reoptimize, fn: instance.exports['reoptimize'] as Function }];
}
