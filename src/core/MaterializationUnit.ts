// A MaterializationUnit can provide definitions for a set of symbols later, on demand: an
// absolute-symbols table, a set of aliases, a wasm module's globals, its function bodies, a
// set of lazy reexports. The dylib holds it until one of its symbols is looked up; then it is
// taken out and materialized exactly once through a MaterializationResponsibility. It is
// defined under a ResourceTracker, and everything it materializes belongs to that tracker.

import type { JITDylib } from './JITDylib.ts';
import type { MaterializationResponsibility } from './MaterializationResponsibility.ts';
import type { SymbolInterface } from './SymbolDefinition.ts';

/**
 * A unit's symbols by name: what the dylib and the session read, and delete, which drops one.
 * A Map is one; a unit of tens of thousands of symbols may compute them instead of storing them
 * (the lazy layer's FunctionSymbolMap).
 */
export interface SymbolMap<V extends SymbolInterface = SymbolInterface> extends ReadonlyMap<string, V> {
  delete(name: string): boolean;
}

export abstract class MaterializationUnit {
  /** The symbols this unit defines. Discarding a symbol removes it from here. */
  readonly symbols: SymbolMap;

  /**
   * With `take`, the unit adopts `symbols` itself instead of copying it: the caller built the map
   * for this unit and never touches it again. A module's units hold tens of thousands of
   * symbols, and each copy of such a map costs as much as building it.
   */
  constructor(symbols: ReadonlyMap<string, SymbolInterface> | SymbolMap, ownership: 'copy' | 'take' = 'copy') {
    this.symbols = ownership === 'take' && 'delete' in symbols ? symbols : new Map(symbols);
  }

  /** A short description for dumps and errors, e.g. `<Absolute Symbols>`. */
  abstract get name(): string;

  /**
   * Provide definitions for every symbol `r` is responsible for: resolve and emit them, fail,
   * or hand them on with `r.replace` / `r.delegate`. Throwing (or rejecting) fails them all.
   */
  abstract materialize(r: MaterializationResponsibility): void | Promise<void>;

  /**
   * A unit whose symbols can be materialized independently of each other may hand the named
   * ones (all of them its own) out as a unit of their own, dropping them from itself, in time
   * proportional to the names. The session then materializes only that part and leaves the
   * rest of this unit in the dylib, which spares a unit of many symbols the work of handing
   * all the others back (`r.replace`) on each lookup. Returns undefined to be materialized
   * whole (the default).
   */
  splitOff(_names: ReadonlySet<string>): MaterializationUnit | undefined {
    return undefined;
  }

  /**
   * Called when the unit will never be asked for `name`: a strong definition overrode this
   * unit's weak one, or the symbol was removed (JITDylib.remove, or the removal of its
   * ResourceTracker) before it was materialized.
   */
  protected discard(_jd: JITDylib, _name: string): void {}

  /** Used by JITDylib: drops `name` from this unit and lets the unit forget it. */
  doDiscard(jd: JITDylib, name: string): void {
    this.symbols.delete(name);
    this.discard(jd, name);
  }
}
