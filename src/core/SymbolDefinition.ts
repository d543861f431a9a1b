// What a definition says about a symbol before it is materialized (ORC's
// MaterializationUnit::Interface entry), and what it resolves to (ORC's ExecutorSymbolDef).

import type { ExecutorAddr } from '../executor/protocol.ts';
import type { ExternKind, FuncType, GlobalType, MemoryType, TableType } from '../wasm/types.ts';
import type { JITSymbolFlags } from './SymbolFlags.ts';

export type SymbolType = FuncType | GlobalType | MemoryType | TableType;

/**
 * What a symbol names: a wasm entity, or (`module`) a hidden symbol that stands for a module's
 * instantiation itself, like ORC's initializer symbols.
 */
export type SymbolKind = ExternKind | 'module';

/** A symbol as a definition declares it: flags, the kind of wasm entity and its type. */
export interface SymbolInterface {
  readonly flags: JITSymbolFlags;
  readonly kind: SymbolKind;
  readonly type?: SymbolType | undefined;
}

export type SymbolInterfaceMap = ReadonlyMap<string, SymbolInterface>;

/** A resolved symbol: where it lives in the executor, and its flags. */
export interface ExecutorSymbolDef {
  readonly address: ExecutorAddr;
  readonly flags: JITSymbolFlags;
}

export type SymbolMap = Map<string, ExecutorSymbolDef>;

export function formatAddress(addr: ExecutorAddr): string {
  return `0x${addr.toString(16).padStart(8, '0')}`;
}
