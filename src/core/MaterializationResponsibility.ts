// A MaterializationResponsibility is the obligation a unit takes on when it is materialized:
// for every symbol it is responsible for, it must resolve an address and emit the symbol, or
// fail it. It may hand symbols back unmaterialized (replace), pass some to a new
// responsibility (delegate), or take on new symbols it discovers (defineMaterializing).
//
// A responsibility works for the ResourceTracker its symbols belong to, and every symbol it adds,
// hands back or passes on stays with that tracker. A layer that makes something for the
// definition (code, an instance, an address) records it under the tracker's key with
// `withResourceKeyDo`. If the tracker is removed while the unit runs, the responsibility is
// defunct: its symbols are already gone, so resolving, emitting, replacing, delegating and
// recording all throw ResourceTrackerDefunct, and the unit's results are dropped; whatever the
// unit made and had not recorded is its own to release.

import type { JITDylib } from './JITDylib.ts';
import type { MaterializationUnit } from './MaterializationUnit.ts';
import type { ExecutionSession } from './ExecutionSession.ts';
import { ResourceTrackerDefunct, type ResourceKey, type ResourceTracker } from './ResourceTracker.ts';
import type { ExecutorSymbolDef, SymbolInterface } from './SymbolDefinition.ts';

/** Symbols, by dylib, that a set of emitted symbols depends on. */
export type SymbolDependenceMap = ReadonlyMap<JITDylib, Iterable<string>>;

export class MaterializationResponsibility {
  readonly session: ExecutionSession;
  readonly targetJD: JITDylib;
  /** The symbols this responsibility still has to resolve and emit. */
  private readonly symbols: Map<string, SymbolInterface>;
  private readonly requested: ReadonlySet<string>;
  private readonly resolved = new Set<string>();
  /** The tracker as it was when the responsibility was made; `tracker` follows its transfers. */
  readonly #tracker: ResourceTracker;

  /** @internal Created by the session when a unit is taken out of a dylib. */
  constructor(
    session: ExecutionSession,
    targetJD: JITDylib,
    symbols: ReadonlyMap<string, SymbolInterface>,
    requested: ReadonlySet<string>,
    tracker: ResourceTracker,
  ) {
    this.session = session;
    this.targetJD = targetJD;
    this.symbols = new Map(symbols);
    this.requested = requested;
    this.#tracker = tracker;
  }

  /** The tracker this responsibility's symbols belong to now (following any transfers). */
  get tracker(): ResourceTracker {
    return this.#tracker.current;
  }

  /** True once the tracker was removed: nothing this responsibility reports will be kept. */
  get isDefunct(): boolean {
    return this.#tracker.current.isDefunct;
  }

  /**
   * Runs `fn` with the key of this responsibility's tracker, so a layer can record a resource
   * it made for these symbols where its ResourceManager will find it at removal (ORC's
   * withResourceKeyDo). Throws ResourceTrackerDefunct, without running `fn`, if the tracker was
   * removed meanwhile: nothing is ever recorded under a removed tracker, and the caller releases
   * the resource itself.
   */
  withResourceKeyDo(fn: (key: ResourceKey) => void): void {
    fn(this.liveTracker());
  }

  private liveTracker(): ResourceTracker {
    const rt = this.#tracker.current;
    if (rt.isDefunct) throw new ResourceTrackerDefunct(rt);
    return rt;
  }

  /** Every symbol this responsibility covers, with its declared interface. */
  getSymbols(): ReadonlyMap<string, SymbolInterface> {
    return this.symbols;
  }

  /** The symbols some lookup is actually waiting for. */
  getRequestedSymbols(): Set<string> {
    return new Set([...this.requested].filter((n) => this.symbols.has(n)));
  }

  get isDone(): boolean {
    return this.symbols.size === 0;
  }

  /** Sets addresses (state Resolved) for some or all of this responsibility's symbols. */
  notifyResolved(defs: ReadonlyMap<string, ExecutorSymbolDef>): void {
    this.liveTracker();
    for (const name of defs.keys()) {
      if (!this.symbols.has(name)) throw new Error(`notifyResolved: not responsible for ${JSON.stringify(name)}`);
      if (this.resolved.has(name)) throw new Error(`notifyResolved: ${JSON.stringify(name)} already resolved`);
    }
    for (const name of defs.keys()) this.resolved.add(name);
    this.session.resolveSymbols(this.targetJD, defs);
  }

  /**
   * Emits every resolved symbol (state Emitted, then Ready once everything it depends on is
   * Ready). `deps` names the symbols the emitted code uses; if one of them fails, these fail.
   */
  notifyEmitted(deps: SymbolDependenceMap = new Map()): void {
    this.liveTracker();
    const names = [...this.resolved];
    for (const n of names) {
      this.symbols.delete(n);
      this.resolved.delete(n);
    }
    this.session.emitSymbols(this.targetJD, names, deps);
  }

  /**
   * Fails every symbol this responsibility still holds; their lookups and dependants fail too.
   * On a defunct responsibility it only lets go of them: the removal already took the symbols
   * out and failed what waited on them, so there is nothing left to fail (nor to report).
   */
  failMaterialization(cause: unknown): void {
    const names = [...this.symbols.keys()];
    this.symbols.clear();
    this.resolved.clear();
    if (this.isDefunct) return;
    this.session.failSymbols(this.targetJD, names, cause);
  }

  /**
   * Hands the symbols of `unit` back to the dylib unmaterialized; they will be materialized
   * when next looked up (at once, if a lookup is already waiting for one of them).
   */
  replace(unit: MaterializationUnit): void {
    this.liveTracker();
    for (const name of unit.symbols.keys()) {
      if (!this.symbols.has(name)) throw new Error(`replace: not responsible for ${JSON.stringify(name)}`);
    }
    for (const name of unit.symbols.keys()) this.symbols.delete(name);
    this.session.replaceSymbols(this.targetJD, unit);
  }

  /** Moves `names` to a new responsibility, e.g. to materialize them separately. */
  delegate(names: Iterable<string>): MaterializationResponsibility {
    this.liveTracker();
    const moved = new Map<string, SymbolInterface>();
    for (const name of names) {
      const info = this.symbols.get(name);
      if (!info) throw new Error(`delegate: not responsible for ${JSON.stringify(name)}`);
      if (this.resolved.has(name)) throw new Error(`delegate: ${JSON.stringify(name)} is already resolved`);
      moved.set(name, info);
    }
    for (const name of moved.keys()) this.symbols.delete(name);
    return new MaterializationResponsibility(this.session, this.targetJD, moved, new Set(this.requested), this.#tracker);
  }

  /**
   * Adds symbols discovered during materialization to the dylib, in state Materializing and
   * owned by this responsibility and its tracker. Throws DuplicateDefinition if any already
   * exists.
   */
  defineMaterializing(symbols: ReadonlyMap<string, SymbolInterface>): void {
    this.targetJD.defineMaterializing(symbols, this.liveTracker());
    for (const [name, info] of symbols) this.symbols.set(name, info);
  }
}
