// What an alias, reexport or lazy reexport leads to: the API shows it as a symbol's `target`.
// Kept per symbol table entry (a definition), weakly, so a removed definition takes its target
// with it and a new definition of the same name starts without one. A lazily added module's
// stubs (tens of thousands) each lead to the body of the same name in the impl dylib: rather
// than one record per stub, their shared interface object carries that rule, which is just as
// much a part of the definition (a new definition of the name comes with its own interface).

import type { JITDylib, SymbolTableEntry } from '../core/JITDylib.ts';
import type { SymbolInterface } from '../core/SymbolDefinition.ts';

export interface SymbolTarget {
  readonly jd: JITDylib;
  readonly name: string;
  /** A lazy reexport (a stub whose body compiles on first call) rather than a plain alias. */
  readonly lazy: boolean;
}

const targets = new WeakMap<SymbolTableEntry, SymbolTarget>();
/** Interfaces whose every symbol leads to the symbol of the same name in a dylib. */
const sameNameTargets = new WeakMap<SymbolInterface, { readonly jd: JITDylib; readonly lazy: boolean }>();

export function setSymbolTarget(entry: SymbolTableEntry, target: SymbolTarget): void {
  targets.set(entry, target);
}

/** Every definition declared with `info` (that object itself) leads to the symbol of its own name in `jd`. */
export function setSameNameTarget(info: SymbolInterface, jd: JITDylib, lazy: boolean): void {
  sameNameTargets.set(info, { jd, lazy });
}

export function symbolTarget(entry: SymbolTableEntry): SymbolTarget | undefined {
  return definitionTarget(entry.name, entry.info, entry);
}

/**
 * The target of a definition that may have no entry yet (JITDylib.forEachDefinition): one without
 * an entry has no target of its own, only its interface's.
 */
export function definitionTarget(name: string, info: SymbolInterface, entry: SymbolTableEntry | undefined): SymbolTarget | undefined {
  const own = entry === undefined ? undefined : targets.get(entry);
  if (own !== undefined) return own;
  const shared = sameNameTargets.get(info);
  return shared === undefined ? undefined : { jd: shared.jd, name, lazy: shared.lazy };
}
