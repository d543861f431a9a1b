// A JITDylib is a named symbol table with a link order, like a dynamic library whose
// definitions can be provided lazily. It records, for every symbol, its flags, state and
// address, the unit that will materialize it and the ResourceTracker it belongs to; `define`
// adds units all or nothing, following ORC's rules for strong and weak definitions. Each dylib
// has a default tracker, which owns what is defined without naming a tracker, and makes as many
// other trackers as its users want to remove separately (one per module, say).
//
// A unit of many symbols (a large module's stubs or bodies) gets no table entries when it is
// defined: the dylib keeps the unit as deferred entries and makes each symbol's entry the first
// time its name is touched (a lookup, a clash check, a removal), and every one of them when the
// whole table is read. The table then behaves as if every entry had been made at `define`; a
// 20,000-function module whose program reaches a few hundred functions makes a few hundred.

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

/**
 * The symbols of one unit that have no table entry yet. Its names are the unit's own (the unit
 * drops a name only once its entry exists, by materializing or discarding it, or as part of a
 * split: see ExecutionSession.materialize) less the ones `made`, so it needs no copy of a map
 * that may hold tens of thousands of names.
 */
class DeferredEntries {
  readonly unit: MaterializationUnit;
  tracker: ResourceTracker;
  /** Names whose entries were made: never made again, even once the entry is gone. */
  readonly made = new Set<string>();
  /** How many of the unit's names at `define` have no entry yet. */
  pending: number;

  constructor(unit: MaterializationUnit, tracker: ResourceTracker) {
    this.unit = unit;
    this.tracker = tracker;
    this.pending = unit.symbols.size;
  }

  has(name: string): boolean {
    return !this.made.has(name) && this.unit.symbols.has(name);
  }
}

/**
 * Units with at least this many symbols are deferred (see the header). Below it, making the
 * entries at once costs less than the bookkeeping, and small dylibs keep their table in the
 * order things were defined.
 */
export const DEFER_ENTRIES_AT = 256;

export class JITDylib {
  readonly name: string;
  readonly session: ExecutionSession;
  /** Symbol table, less the deferred entries; read through `symbols()`/`entry()`. */
  readonly #table = new Map<string, SymbolTableEntry>();
  /** Units defined with their entries deferred, and not yet all made. Few: one or two per large module. */
  #deferred: DeferredEntries[] = [];
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

  /** The entry of `name` in this dylib, made now if it was deferred. */
  entry(name: string): SymbolTableEntry | undefined {
    return this.#table.get(name) ?? (this.#deferred.length > 0 ? this.#makeDeferred(name) : undefined);
  }

  /** Whether this dylib defines `name`, without making its entry. */
  has(name: string): boolean {
    if (this.#table.has(name)) return true;
    for (const d of this.#deferred) if (d.has(name)) return true;
    return false;
  }

  /** Whether this dylib defines nothing. */
  get isEmpty(): boolean {
    return this.#table.size === 0 && this.#deferred.length === 0;
  }

  /** Every entry, the deferred ones made now. */
  symbols(): IterableIterator<SymbolTableEntry> {
    this.#makeAllDeferred();
    return this.#table.values();
  }

  /**
   * Calls `fn` for every symbol, with its entry where one exists, without making deferred ones
   * (a scan of every dylib's symbols would otherwise make them all). A deferred symbol is
   * NeverSearched, and all there is of it is its unit's interface. `fn` must not change the
   * dylib (nor make entries): collect names, then act on them.
   */
  forEachDefinition(fn: (name: string, info: SymbolInterface, entry: SymbolTableEntry | undefined) => void): void {
    this.#table.forEach((e, name) => fn(name, e.info, e));
    for (const d of this.#deferred) {
      d.unit.symbols.forEach((info, name) => {
        if (!d.made.has(name)) fn(name, info, undefined);
      });
    }
  }

  /**
   * @internal For ExecutionSession.materialize: `name` was split off `unit` (so it is no longer
   * among the unit's names) before its deferred entry was made; makes it, as the unit's.
   */
  makeSplitEntry(unit: MaterializationUnit, name: string, info: SymbolInterface): SymbolTableEntry | undefined {
    const existing = this.entry(name);
    if (existing !== undefined) return existing;
    for (const d of this.#deferred) {
      if (d.unit === unit && !d.made.has(name)) return this.#make(d, name, info);
    }
    return undefined;
  }

  /** A deferred symbol's interface, without making its entry. */
  #deferredInfo(name: string): SymbolInterface | undefined {
    for (const d of this.#deferred) {
      if (d.has(name)) return d.unit.symbols.get(name);
    }
    return undefined;
  }

  #makeDeferred(name: string): SymbolTableEntry | undefined {
    for (const d of this.#deferred) {
      if (d.made.has(name)) continue;
      const info = d.unit.symbols.get(name);
      if (info !== undefined) return this.#make(d, name, info);
    }
    return undefined;
  }

  #make(d: DeferredEntries, name: string, info: SymbolInterface): SymbolTableEntry {
    const e = new SymbolTableEntry(name, info, d.unit, d.tracker);
    d.made.add(name);
    this.addEntry(e);
    // Dropped once all are made; #makeAllDeferred drops them all itself, after its loop.
    if (--d.pending === 0) this.#deferred = this.#deferred.filter((x) => x !== d);
    return e;
  }

  /** Makes every deferred entry. */
  #makeAllDeferred(): void {
    for (const d of this.#deferred) {
      // forEach: see `define`.
      d.unit.symbols.forEach((info, name) => {
        if (!d.made.has(name)) this.#make(d, name, info);
      });
    }
    // Names a unit dropped without an entry (none, by the rule above) are gone for good.
    this.#deferred = [];
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
    const existingDefsOverridden: string[] = [];
    for (const [name, info] of this.clashes(unit.symbols)) {
      if (info.flags.isStrong) {
        // A deferred symbol was never searched for: only its flags can make this a duplicate.
        const existing = this.#table.get(name);
        const taken = existing
          ? existing.info.flags.isStrong || existing.searched || existing.state !== SymbolState.NeverSearched
          : this.#deferredInfo(name)?.flags.isStrong;
        if (taken) duplicates.push(name);
        else existingDefsOverridden.push(name);
      } else {
        unitDefsOverridden.push(name);
      }
    }
    if (duplicates.length > 0) throw new DuplicateDefinition(this.name, duplicates);

    for (const name of unitDefsOverridden) unit.doDiscard(this, name);
    for (const name of existingDefsOverridden) {
      const e = this.entry(name) as SymbolTableEntry;
      e.unit?.doDiscard(this, e.name);
      this.deleteEntry(e);
    }
    if (unit.symbols.size >= DEFER_ENTRIES_AT) {
      this.#deferred.push(new DeferredEntries(unit, tracker));
      return;
    }
    // forEach, not for-of: a for-of over a map's entries allocates an iterator result and a
    // [name, info] pair per symbol until V8 optimizes the loop.
    unit.symbols.forEach((info, name) => this.addEntry(new SymbolTableEntry(name, info, unit, tracker)));
  }

  /**
   * The symbols of `symbols` whose names this dylib already has, in the order of `symbols`.
   * Walks the smaller of the two: a large module going into a (nearly) empty dylib costs a
   * lookup per existing symbol, not one per new one.
   */
  clashes<T>(symbols: ReadonlyMap<string, T>): [string, T][] {
    let existing = this.#table.size;
    for (const d of this.#deferred) existing += d.pending;
    if (existing >= symbols.size) return this.clashesInOrder(symbols);
    const out: [string, T][] = [];
    const check = (name: string) => {
      if (symbols.has(name)) out.push([name, symbols.get(name) as T]);
    };
    for (const name of this.#table.keys()) check(name);
    for (const d of this.#deferred) {
      d.unit.symbols.forEach((_, name) => {
        if (!d.made.has(name)) check(name);
      });
    }
    // Rare (a clash): report in the definition's order, as the other walk does.
    if (out.length > 1) return this.clashesInOrder(symbols);
    return out;
  }

  private clashesInOrder<T>(symbols: ReadonlyMap<string, T>): [string, T][] {
    const out: [string, T][] = [];
    for (const [name, value] of symbols) if (this.has(name)) out.push([name, value]);
    return out;
  }

  /** Checks that `names` could all be defined as strong symbols, without defining anything. */
  checkCanDefine(names: Iterable<string>): void {
    const duplicates: string[] = [];
    for (const n of names) if (this.has(n)) duplicates.push(n);
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
      const e = this.entry(name);
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
    // Deferred entries of `rt` are dropped unmade: nothing waits on a symbol nobody touched, and
    // their unit goes with them.
    if (this.#deferred.length > 0) this.#deferred = this.#deferred.filter((d) => d.tracker !== rt);
    const entries = this.ownedBy(rt);
    // A tracker owning as many entries as the table has owns them all.
    if (entries.length === this.#table.size) this.#table.clear();
    else for (const e of entries) this.#table.delete(e.name);
    this.resetEntries(rt);
    this.#trackers.delete(rt);
    return entries;
  }

  /** @internal Gives every symbol of `src` to `dst`, for the session's transferResourceTracker. */
  transferTracker(dst: ResourceTracker, src: ResourceTracker): void {
    for (const d of this.#deferred) if (d.tracker === src) d.tracker = dst;
    for (const e of this.ownedBy(src)) {
      e.tracker = dst;
      dst.entries.push(e);
    }
    this.resetEntries(src);
    this.#trackers.delete(src);
  }

  /** The entries of `rt` still in the table. */
  private ownedBy(rt: ResourceTracker): SymbolTableEntry[] {
    return rt.staleEntries === 0 ? rt.entries : rt.entries.filter((e) => this.#table.get(e.name) === e);
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
    this.#table.set(e.name, e);
    e.tracker.entries.push(e);
  }

  private deleteEntry(e: SymbolTableEntry): void {
    this.#table.delete(e.name);
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
