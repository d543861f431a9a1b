// A JITDylib is a named symbol table with a link order, like a dynamic library whose
// definitions can be provided lazily. It records, for every symbol, its flags, state and
// address, the unit that will materialize it and the ResourceTracker it belongs to; `define`
// adds units all or nothing, following ORC's rules for strong and weak definitions. Each dylib
// has a default tracker, which owns what is defined without naming a tracker, and makes as many
// other trackers as its users want to remove separately (one per module, say).

import { DuplicateDefinition, SymbolsNotFound } from './errors.ts';
import type { AsynchronousSymbolQuery } from './AsynchronousSymbolQuery.ts';
import type { FailedToMaterialize } from './errors.ts';
import type { MaterializationUnit } from './MaterializationUnit.ts';
import type { ExecutorAddr, SymbolInterface } from './SymbolDefinition.ts';
import { JITSymbolFlags, SymbolState } from './SymbolFlags.ts';
import { ResourceTracker, ResourceTrackerDefunct } from './ResourceTracker.ts';
import type { ExecutionSession } from './ExecutionSession.ts';

export type JITDylibLookupFlags = 'MatchExportedSymbolsOnly' | 'MatchAllSymbols';

export interface LinkOrderEntry {
  readonly jd: JITDylib;
  readonly flags: JITDylibLookupFlags;
}
export type JITDylibSearchOrder = readonly LinkOrderEntry[];

/**
 * What an entry waits on or is waited for by: empty for almost every entry at almost every time
 * (a large lazy module defines two entries per function), so allocated only while one has members.
 */
interface EntryLinks {
  pendingQueries: Set<AsynchronousSymbolQuery> | undefined;
  dependants: Set<SymbolTableEntry> | undefined;
  unreadyDeps: Set<SymbolTableEntry> | undefined;
}

/**
 * One row of the symbol table. Mutated only by the dylib and the session. Kept to few fields:
 * a large lazy module makes tens of thousands at once, and each field is a word of every one.
 */
export class SymbolTableEntry {
  readonly name: string;
  info: SymbolInterface;
  /** The tracker this definition belongs to; changed only by a transfer (within the dylib). */
  tracker: ResourceTracker;
  state: SymbolState = SymbolState.NeverSearched;
  address: ExecutorAddr | undefined;
  /** The unit that will provide this symbol, while it is not yet being materialized. */
  unit: MaterializationUnit | undefined;
  /** Set once materialization failed: every later lookup fails with it. */
  error: FailedToMaterialize | undefined;
  /** Set once looked up: a strong definition may no longer override a weak one. */
  searched = false;
  #links: EntryLinks | undefined;

  constructor(name: string, info: SymbolInterface, unit: MaterializationUnit | undefined, tracker: ResourceTracker) {
    this.name = name;
    this.info = info;
    this.unit = unit;
    this.tracker = tracker;
  }

  /** The dylib the entry is in: its tracker's, which never changes dylib (trackers transfer only within one). */
  get jd(): JITDylib {
    return this.tracker.jd;
  }

  get flags(): JITSymbolFlags {
    return this.error ? this.info.flags.with('HasError') : this.info.flags;
  }

  /** Lookups waiting for this symbol to reach their required state. */
  get pendingQueries(): ReadonlySet<AsynchronousSymbolQuery> {
    return this.#links?.pendingQueries ?? NONE;
  }

  /** Emitted symbols that wait for this one to become Ready. */
  get dependants(): ReadonlySet<SymbolTableEntry> {
    return this.#links?.dependants ?? NONE;
  }

  /** Symbols not yet Ready that this one (Emitted) waits for. */
  get unreadyDeps(): ReadonlySet<SymbolTableEntry> {
    return this.#links?.unreadyDeps ?? NONE;
  }

  #linksToAdd(): EntryLinks {
    return (this.#links ??= { pendingQueries: undefined, dependants: undefined, unreadyDeps: undefined });
  }

  /** Drops the links object once nothing is left in it. */
  #compact(): void {
    const l = this.#links;
    if (l !== undefined && l.pendingQueries === undefined && l.dependants === undefined && l.unreadyDeps === undefined) this.#links = undefined;
  }

  /** @internal */
  addPendingQuery(q: AsynchronousSymbolQuery): void {
    (this.#linksToAdd().pendingQueries ??= new Set()).add(q);
  }

  /** @internal */
  deletePendingQuery(q: AsynchronousSymbolQuery): void {
    const l = this.#links;
    if (l?.pendingQueries?.delete(q) && l.pendingQueries.size === 0) {
      l.pendingQueries = undefined;
      this.#compact();
    }
  }

  /** @internal */
  clearPendingQueries(): void {
    if (this.#links === undefined) return;
    this.#links.pendingQueries = undefined;
    this.#compact();
  }

  /** @internal This (Emitted) symbol waits for `dep` to become Ready. */
  addUnreadyDep(dep: SymbolTableEntry): void {
    (this.#linksToAdd().unreadyDeps ??= new Set()).add(dep);
    (dep.#linksToAdd().dependants ??= new Set()).add(this);
  }

  /** @internal `dep` is Ready (or failed): this symbol no longer waits for it. */
  deleteUnreadyDep(dep: SymbolTableEntry): void {
    const l = this.#links;
    if (l?.unreadyDeps?.delete(dep) && l.unreadyDeps.size === 0) {
      l.unreadyDeps = undefined;
      this.#compact();
    }
  }

  /** @internal */
  deleteDependant(d: SymbolTableEntry): void {
    const l = this.#links;
    if (l?.dependants?.delete(d) && l.dependants.size === 0) {
      l.dependants = undefined;
      this.#compact();
    }
  }

  /** @internal */
  clearDependants(): void {
    if (this.#links === undefined) return;
    this.#links.dependants = undefined;
    this.#compact();
  }

  /** @internal */
  clearUnreadyDeps(): void {
    if (this.#links === undefined) return;
    this.#links.unreadyDeps = undefined;
    this.#compact();
  }
}

const NONE: ReadonlySet<never> = new Set();

export class JITDylib {
  readonly name: string;
  readonly session: ExecutionSession;
  /** @internal Symbol table; read through `symbols()`/`entry()`. */
  readonly table = new Map<string, SymbolTableEntry>();
  private linkOrder: LinkOrderEntry[];
  /** Arbitrary per-dylib state layers attach (e.g. the lazy layer's impl dylib). */
  readonly resources = new Map<symbol, unknown>();
  #defaultTracker: ResourceTracker | undefined;
  /** Trackers made by createResourceTracker that are not yet defunct. */
  readonly #trackers = new Set<ResourceTracker>();

  /** @internal Use ExecutionSession.createJITDylib. */
  constructor(session: ExecutionSession, name: string) {
    this.session = session;
    this.name = name;
    this.linkOrder = [{ jd: this, flags: 'MatchAllSymbols' }];
  }

  getLinkOrder(): JITDylibSearchOrder {
    return this.linkOrder;
  }

  /**
   * Sets the dylibs searched when code in this dylib looks a symbol up. With
   * `linkAgainstThisFirst`, this dylib is put first, matching all its symbols, as ORC does.
   */
  setLinkOrder(order: JITDylibSearchOrder, linkAgainstThisFirst = true): void {
    const rest = order.filter((e) => !(linkAgainstThisFirst && e.jd === this));
    this.linkOrder = linkAgainstThisFirst ? [{ jd: this, flags: 'MatchAllSymbols' }, ...rest] : [...rest];
  }

  /** @internal Drops a removed dylib from this one's link order. */
  forgetDylib(jd: JITDylib): void {
    this.linkOrder = this.linkOrder.filter((e) => e.jd !== jd);
  }

  /**
   * The tracker that owns what is defined without naming one. Once it is removed or transferred
   * the dylib makes a new one, so this never returns a defunct tracker.
   */
  getDefaultResourceTracker(): ResourceTracker {
    if (!this.#defaultTracker || this.#defaultTracker.isDefunct) this.#defaultTracker = new ResourceTracker(this);
    return this.#defaultTracker;
  }

  /** A new tracker for this dylib, to define things that are to be removed together. */
  createResourceTracker(): ResourceTracker {
    const rt = new ResourceTracker(this);
    this.#trackers.add(rt);
    return rt;
  }

  /**
   * @internal The trackers of this dylib that are not defunct: the created ones, oldest first,
   * then the default one if it exists.
   */
  liveTrackers(): ResourceTracker[] {
    const d = this.#defaultTracker;
    return d && !d.isDefunct ? [...this.#trackers, d] : [...this.#trackers];
  }

  entry(name: string): SymbolTableEntry | undefined {
    return this.table.get(name);
  }

  symbols(): IterableIterator<SymbolTableEntry> {
    return this.table.values();
  }

  /**
   * Adds the unit's symbols to this dylib, all or nothing. A strong definition of a name that
   * already has a strong one, or a weak one that was already searched for, is a
   * DuplicateDefinition. A weak definition loses to an existing one and is discarded from its
   * unit; a strong one overrides an unsearched weak one, which is discarded from its unit.
   * The unit's symbols belong to `tracker` (the default tracker when absent), which must be one
   * of this dylib's and not defunct (ResourceTrackerDefunct).
   */
  define(unit: MaterializationUnit, tracker: ResourceTracker = this.getDefaultResourceTracker()): void {
    this.checkTracker(tracker);
    const duplicates: string[] = [];
    const unitDefsOverridden: string[] = [];
    const existingDefsOverridden: SymbolTableEntry[] = [];
    for (const [name, info] of this.clashes(unit.symbols)) {
      const existing = this.table.get(name) as SymbolTableEntry;
      if (info.flags.isStrong) {
        if (existing.info.flags.isStrong || existing.searched || existing.state !== SymbolState.NeverSearched) {
          duplicates.push(name);
        } else {
          existingDefsOverridden.push(existing);
        }
      } else {
        unitDefsOverridden.push(name);
      }
    }
    if (duplicates.length > 0) throw new DuplicateDefinition(this.name, duplicates);

    for (const name of unitDefsOverridden) unit.doDiscard(this, name);
    for (const e of existingDefsOverridden) {
      e.unit?.doDiscard(this, e.name);
      this.deleteEntry(e);
    }
    // forEach, not for-of: a for-of over a map's entries allocates an iterator result and a
    // [name, info] pair per symbol until V8 optimizes the loop, and a unit may hold tens of thousands.
    unit.symbols.forEach((info, name) => this.addEntry(new SymbolTableEntry(name, info, unit, tracker)));
  }

  /**
   * The symbols of `symbols` whose names this dylib already has, in the order of `symbols`.
   * Walks the smaller of the two: a large module going into a (nearly) empty dylib costs a
   * lookup per existing symbol, not one per new one.
   */
  clashes<T>(symbols: ReadonlyMap<string, T>): [string, T][] {
    const out: [string, T][] = [];
    if (this.table.size < symbols.size) {
      for (const name of this.table.keys()) {
        if (symbols.has(name)) out.push([name, symbols.get(name) as T]);
      }
      // Rare (a clash): report in the definition's order, as the other walk does.
      if (out.length > 1) return this.clashesInOrder(symbols);
      return out;
    }
    return this.clashesInOrder(symbols);
  }

  private clashesInOrder<T>(symbols: ReadonlyMap<string, T>): [string, T][] {
    const out: [string, T][] = [];
    for (const [name, value] of symbols) if (this.table.has(name)) out.push([name, value]);
    return out;
  }

  /** Checks that `names` could all be defined as strong symbols, without defining anything. */
  checkCanDefine(names: Iterable<string>): void {
    const duplicates: string[] = [];
    for (const n of names) if (this.table.has(n)) duplicates.push(n);
    if (duplicates.length > 0) throw new DuplicateDefinition(this.name, duplicates);
  }

  /** @internal Adds symbols in state Materializing, for MaterializationResponsibility. */
  defineMaterializing(symbols: ReadonlyMap<string, SymbolInterface>, tracker: ResourceTracker): void {
    this.checkTracker(tracker);
    this.checkCanDefine(symbols.keys());
    for (const [name, info] of symbols) {
      const e = new SymbolTableEntry(name, info, undefined, tracker);
      e.state = SymbolState.Materializing;
      e.searched = true;
      this.addEntry(e);
    }
  }

  /**
   * Removes symbols (ORC's JITDylib::remove), e.g. to undo a definition that could not be
   * completed. All or nothing: throws SymbolsNotFound if one is missing, and
   * SymbolsCouldNotBeRemoved if one is being materialized or waited for (failed symbols,
   * which will never finish materializing, can be removed).
   */
  remove(names: Iterable<string>): void {
    const missing: string[] = [];
    const busy: string[] = [];
    const removable: SymbolTableEntry[] = [];
    for (const name of names) {
      const e = this.table.get(name);
      if (!e) missing.push(name);
      else if (!e.error && (e.state === SymbolState.Materializing || e.state === SymbolState.Resolved || e.pendingQueries.size > 0)) busy.push(name);
      else removable.push(e);
    }
    if (missing.length > 0) throw new SymbolsNotFound(missing, this.name);
    if (busy.length > 0) throw new SymbolsCouldNotBeRemoved(this.name, busy);
    for (const e of removable) {
      e.unit?.doDiscard(this, e.name);
      this.deleteEntry(e);
    }
  }

  /**
   * @internal Takes every symbol of `rt` out of the table and forgets `rt`, for the session's
   * removeResourceTracker, which settles what waited on them. Returns the entries taken out.
   */
  detachTracker(rt: ResourceTracker): SymbolTableEntry[] {
    const entries = this.ownedBy(rt);
    // A tracker owning as many entries as the table has owns them all.
    if (entries.length === this.table.size) this.table.clear();
    else for (const e of entries) this.table.delete(e.name);
    this.resetEntries(rt);
    this.#trackers.delete(rt);
    return entries;
  }

  /** @internal Gives every symbol of `src` to `dst`, for the session's transferResourceTracker. */
  transferTracker(dst: ResourceTracker, src: ResourceTracker): void {
    for (const e of this.ownedBy(src)) {
      e.tracker = dst;
      dst.entries.push(e);
    }
    this.resetEntries(src);
    this.#trackers.delete(src);
  }

  /** The entries of `rt` still in the table. */
  private ownedBy(rt: ResourceTracker): SymbolTableEntry[] {
    return rt.staleEntries === 0 ? rt.entries : rt.entries.filter((e) => this.table.get(e.name) === e);
  }

  private resetEntries(rt: ResourceTracker): void {
    rt.entries = [];
    rt.staleEntries = 0;
  }

  private checkTracker(tracker: ResourceTracker): void {
    if (tracker.jd !== this) throw new Error(`The ${tracker} cannot own definitions in "${this.name}".`);
    if (tracker.isDefunct) throw new ResourceTrackerDefunct(tracker);
  }

  private addEntry(e: SymbolTableEntry): void {
    this.table.set(e.name, e);
    e.tracker.entries.push(e);
  }

  private deleteEntry(e: SymbolTableEntry): void {
    this.table.delete(e.name);
    const rt = e.tracker;
    // Compact once most of the list is stale, so the work stays proportional to the deletions.
    if (++rt.staleEntries > 32 && rt.staleEntries * 2 > rt.entries.length) {
      rt.entries = this.ownedBy(rt);
      rt.staleEntries = 0;
    }
  }
}

export class SymbolsCouldNotBeRemoved extends Error {
  readonly symbols: readonly string[];
  constructor(dylib: string, symbols: readonly string[]) {
    super(`Symbols of "${dylib}" are being materialized and could not be removed: ${symbols.join(', ')}`);
    this.name = 'SymbolsCouldNotBeRemoved';
    this.symbols = symbols;
  }
}
