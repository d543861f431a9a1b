// What an alias, reexport or lazy reexport leads to: the API shows it as a symbol's `target`.
// Kept per symbol table entry (a definition), weakly, so a removed definition takes its target
// with it and a new definition of the same name starts without one.

import type { JITDylib, SymbolTableEntry } from '../core/JITDylib.ts';

export interface SymbolTarget {
  readonly jd: JITDylib;
  readonly name: string;
  /** A lazy reexport (a stub whose body compiles on first call) rather than a plain alias. */
  readonly lazy: boolean;
}

const targets = new WeakMap<SymbolTableEntry, SymbolTarget>();

export function setSymbolTarget(entry: SymbolTableEntry, target: SymbolTarget): void {
  targets.set(entry, target);
}

export function symbolTarget(entry: SymbolTableEntry): SymbolTarget | undefined {
  return targets.get(entry);
}
