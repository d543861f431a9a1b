// The executor's own functions that compiled code imports (src/wasm's HostFunction): the
// memory.grow and table.grow hooks of the session's budgets (memoryBudget.ts, tableBudget.ts)
// and the reoptimize hook, which a function's entry counter calls once the function gets hot
// (it tells main and returns at once). Like the spectest functions, each sits at a fixed address
// that every worker fills at start-up, so the JIT can link against it without asking, and it
// survives worker restarts.

import type { HostFunction } from '../wasm/index.ts';
import { GLUE_MODULE_PREFIX } from './glue.ts';
import type { ExecutorAddr } from './protocol.ts';
import { FIRST_FREE_FUNC_ADDR } from './spectest.ts';
import { Code, ModuleEncoder } from './wasmEncoder.ts';

export const HOOK_ADDRESSES: Readonly<Record<HostFunction, ExecutorAddr>> = {
  memoryGrow: FIRST_FREE_FUNC_ADDR,
  reoptimize: FIRST_FREE_FUNC_ADDR + 1,
  tableGrow: FIRST_FREE_FUNC_ADDR + 2,
};

/** Addresses no op defines: importing one orders nothing (OpSequencer). */
export const HOOK_ADDRESS_SET: ReadonlySet<ExecutorAddr> = new Set(Object.values(HOOK_ADDRESSES));

/**
 * The reoptimize hook (the grow hooks come from the budgets, through growHookFunction). Hooks
 * must be wasm functions (the session table holds only those), so a generated module wraps the
 * JS callbacks; its glue name keeps it out of trap stacks.
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

/**
 * A grow hook as a wasm function of type (i32) -> i32 wrapping `grow`: what a budget places at
 * its hook address. `what` names its module and function ("memory" for memory.grow's).
 */
export function growHookFunction(what: string, grow: (delta: number) => number): Function {
  const m = new ModuleEncoder();
  m.setModuleName(`${GLUE_MODULE_PREFIX}${what}`);
  const type = { params: ['i32' as const], results: ['i32' as const] };
  const host = m.importFunc('host', 'grow', type);
  m.exportFunc('grow', m.addFunc(type, new Code().localGet(0).call(host), [], `${what}.grow`));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(m.encode() as BufferSource), { host: { grow } });
  return instance.exports['grow'] as Function;
}
