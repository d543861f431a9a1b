// What a definition says about a symbol before it is materialized (ORC's
// MaterializationUnit::Interface entry), and what it resolves to (ORC's ExecutorSymbolDef).
// The core knows symbols only by name, flags, kind and address: what a symbol's type is, is
// the business of the layers that define and link it, so it stays opaque here and the core
// depends on nothing outside src/core.

import type { JITSymbolFlags } from './SymbolFlags.ts';

/**
 * An address in the executor (ORC's ExecutorAddr): for this project a number the JIT allocates
 * itself, a slot in the session's funcref table or a handle for a memory, table or global.
 */
export type ExecutorAddr = number;

/**
 * What a symbol names: a wasm entity, or (`module`) a hidden symbol that stands for a module's
 * instantiation itself, like ORC's initializer symbols.
 */
export type SymbolKind = 'function' | 'global' | 'memory' | 'table' | 'module';

/** A symbol as a definition declares it: flags, the kind of entity and its type. */
export interface SymbolInterface {
  readonly flags: JITSymbolFlags;
  readonly kind: SymbolKind;
  /**
   * The entity's type, opaque to the core: the layer that defines the symbol puts it here (for
   * wasm, a FuncType, GlobalType, MemoryType or TableType) and the layers that link against it
   * read it back.
   */
  readonly type?: unknown;
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
