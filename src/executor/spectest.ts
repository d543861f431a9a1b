// The built-in `spectest` host module (the WebAssembly spec interpreter's), as the JIT sees it:
// each entity's name, kind, type and FIXED executor address. Every worker creates these at the
// same addresses at start-up, so the JIT can define them as absolute symbols without asking the
// executor, and they survive worker restarts unchanged.

import type { FuncType, GlobalType, MemoryType, TableType, ValType } from '../wasm/types.ts';
import { DATA_HANDLE_BASE, type ExecutorAddr } from './protocol.ts';
import type { ExternKind } from '../wasm/types.ts';

export interface HostSymbol {
  readonly name: string;
  readonly kind: ExternKind;
  readonly addr: ExecutorAddr;
  readonly type: FuncType | GlobalType | MemoryType | TableType;
}

const fn = (name: string, addr: number, params: readonly ValType[]): HostSymbol => ({
  name,
  kind: 'function',
  addr,
  type: { params, results: [] },
});

export const SPECTEST_FUNCTIONS: readonly HostSymbol[] = [
  fn('print', 1, []),
  fn('print_i32', 2, ['i32']),
  fn('print_i64', 3, ['i64']),
  fn('print_f32', 4, ['f32']),
  fn('print_f64', 5, ['f64']),
  fn('print_i32_f32', 6, ['i32', 'f32']),
  fn('print_f64_f64', 7, ['f64', 'f64']),
];

/** Globals with their initial values (immutable, so these are also their values forever). */
export const SPECTEST_GLOBALS: readonly (HostSymbol & { readonly type: GlobalType; readonly init: number })[] = [
  { name: 'global_i32', kind: 'global', addr: DATA_HANDLE_BASE + 0, type: { type: 'i32', mutable: false }, init: 666 },
  { name: 'global_i64', kind: 'global', addr: DATA_HANDLE_BASE + 1, type: { type: 'i64', mutable: false }, init: 666 },
  { name: 'global_f32', kind: 'global', addr: DATA_HANDLE_BASE + 2, type: { type: 'f32', mutable: false }, init: 666.6 },
  { name: 'global_f64', kind: 'global', addr: DATA_HANDLE_BASE + 3, type: { type: 'f64', mutable: false }, init: 666.6 },
];

export const SPECTEST_TABLE: HostSymbol & { readonly type: TableType } = {
  name: 'table',
  kind: 'table',
  addr: DATA_HANDLE_BASE + 4,
  type: { elementType: 'funcref', initial: 10, maximum: 20 },
};

export const SPECTEST_MEMORY: HostSymbol & { readonly type: MemoryType } = {
  name: 'memory',
  kind: 'memory',
  addr: DATA_HANDLE_BASE + 5,
  type: { initial: 1, maximum: 2 },
};

export const SPECTEST_SYMBOLS: readonly HostSymbol[] = [
  ...SPECTEST_FUNCTIONS,
  ...SPECTEST_GLOBALS,
  SPECTEST_TABLE,
  SPECTEST_MEMORY,
];

/** The JIT may allocate function addresses from here up (slot 0 is never used). */
export const FIRST_FREE_FUNC_ADDR = Math.max(...SPECTEST_FUNCTIONS.map((s) => s.addr)) + 1;
/** The JIT may allocate data handles from here up. */
export const FIRST_FREE_DATA_HANDLE = Math.max(...SPECTEST_SYMBOLS.filter((s) => s.kind !== 'function').map((s) => s.addr)) + 1;
