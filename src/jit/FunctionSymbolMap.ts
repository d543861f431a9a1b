// The symbols a lazily added module defines for its functions (a stub or a body per function),
// as the map by name a MaterializationUnit holds, computed from the module instead of stored.
// A 20,000-function module defines 40,000 such symbols at add, and building two maps of 20,000
// entries (and a symbol object per body) cost more than the rest of the add together; a program
// then reaches a few hundred of them. A function's symbol name is its first export name or its
// private name (names.ts); removing a name clears its function's bit.

import type { SymbolMap } from '../core/MaterializationUnit.ts';
import type { SymbolInterface } from '../core/SymbolDefinition.ts';

/** How the map turns names into function indices and indices into symbols. */
export interface FunctionSymbolSource<V extends SymbolInterface> {
  /** Symbol name by function index (undefined for imported functions). */
  readonly names: readonly (string | undefined)[];
  /** The function `name` names, if any (whether or not this map holds it). */
  indexOf(name: string): number | undefined;
  /** The symbol of function `index`. */
  symbol(index: number): V;
}

export class FunctionSymbolMap<V extends SymbolInterface> implements SymbolMap<V> {
  readonly #source: FunctionSymbolSource<V>;
  /** 1 for each function index this map holds. */
  readonly #present: Uint8Array;
  #size = 0;

  /** Holds every function that has a name. */
  constructor(source: FunctionSymbolSource<V>) {
    this.#source = source;
    const { names } = source;
    this.#present = new Uint8Array(names.length);
    for (let i = 0; i < names.length; i++) {
      if (names[i] !== undefined) {
        this.#present[i] = 1;
        this.#size++;
      }
    }
  }

  get size(): number {
    return this.#size;
  }

  #index(name: string): number | undefined {
    const i = this.#source.indexOf(name);
    return i !== undefined && this.#present[i] === 1 ? i : undefined;
  }

  has(name: string): boolean {
    return this.#index(name) !== undefined;
  }

  /** Whether this map holds function `index`'s symbol (no name to parse). */
  hasIndex(index: number): boolean {
    return this.#present[index] === 1;
  }

  get(name: string): V | undefined {
    const i = this.#index(name);
    return i === undefined ? undefined : this.#source.symbol(i);
  }

  delete(name: string): boolean {
    const i = this.#index(name);
    if (i === undefined) return false;
    this.#present[i] = 0;
    this.#size--;
    return true;
  }

  forEach(fn: (value: V, name: string, map: ReadonlyMap<string, V>) => void): void {
    const present = this.#present;
    const { names } = this.#source;
    for (let i = 0; i < present.length; i++) {
      // Read again each time: `fn` may delete.
      if (present[i] === 1) fn(this.#source.symbol(i), names[i] as string, this);
    }
  }

  *entries(): MapIterator<[string, V]> {
    const present = this.#present;
    const { names } = this.#source;
    for (let i = 0; i < present.length; i++) {
      if (present[i] === 1) yield [names[i] as string, this.#source.symbol(i)];
    }
  }

  *keys(): MapIterator<string> {
    const present = this.#present;
    const { names } = this.#source;
    for (let i = 0; i < present.length; i++) {
      if (present[i] === 1) yield names[i] as string;
    }
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}
