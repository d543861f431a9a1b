// The ExecutionSession owns the JITDylibs of one session and runs every lookup: it finds
// symbols through a search order, takes the units that provide them out of their dylibs and
// materializes each exactly once, however many lookups race for it, and it moves symbols
// through their states, settling lookups as symbols reach the state they require. A failure
// fails the lookups and the dependants of the failed symbols, and nothing else.
//
// It also removes things, the way ORC does since LLVM 12: everything that holds resources for
// definitions registers as a ResourceManager, and removing a ResourceTracker (or a whole dylib,
// which removes all its trackers) takes the tracker's symbols out of its dylib and then asks
// every manager, newest first, to release what it recorded under the tracker's key.

import { AsynchronousSymbolQuery, type LookupResult } from './AsynchronousSymbolQuery.ts';
import { DylibExists, DylibNotFound, FailedToMaterialize, SymbolsNotFound } from './errors.ts';
import { JITDylib, type JITDylibSearchOrder, type SymbolTableEntry } from './JITDylib.ts';
import { MaterializationResponsibility, type SymbolDependenceMap } from './MaterializationResponsibility.ts';
import type { MaterializationUnit } from './MaterializationUnit.ts';
import { ResourceTrackerDefunct, type ResourceManager, type ResourceTracker } from './ResourceTracker.ts';
import { formatAddress, type ExecutorSymbolDef, type SymbolInterface } from './SymbolDefinition.ts';
import { SymbolState, symbolStateName, type SymbolStateName } from './SymbolFlags.ts';

export type { LookupResult };

/** How a name in a lookup must be found: a required one missing fails the lookup. */
export type SymbolLookupFlags = 'RequiredSymbol' | 'WeaklyReferencedSymbol';

export interface SymbolDump {
  readonly name: string;
  readonly address?: string | undefined;
  readonly flags: readonly string[];
  readonly state: SymbolStateName;
  readonly materializer?: string | undefined;
  readonly error?: string | undefined;
}

export interface JITDylibDump {
  readonly name: string;
  readonly linkOrder: readonly { readonly name: string; readonly flags: string }[];
  readonly symbols: readonly SymbolDump[];
}

export type ErrorReporter = (error: unknown) => void;

export class ExecutionSession {
  private readonly dylibs = new Map<string, JITDylib>();
  private reportErrorFn: ErrorReporter = () => {};
  /** In registration order; told about removals and transfers in reverse. */
  private readonly resourceManagers: ResourceManager[] = [];
  /** Count of units handed to materialize(), for tests and metrics. */
  materializations = 0;

  setErrorReporter(fn: ErrorReporter): void {
    this.reportErrorFn = fn;
  }

  /** Reports an error that has no lookup to fail (ORC's ExecutionSession::reportError). */
  reportError(error: unknown): void {
    this.reportErrorFn(error);
  }

  createJITDylib(name: string): JITDylib {
    if (this.dylibs.has(name)) throw new DylibExists(name);
    const jd = new JITDylib(this, name);
    this.dylibs.set(name, jd);
    return jd;
  }

  getJITDylibByName(name: string): JITDylib | undefined {
    return this.dylibs.get(name);
  }

  getJITDylib(name: string): JITDylib {
    const jd = this.dylibs.get(name);
    if (!jd) throw new DylibNotFound(name);
    return jd;
  }

  getJITDylibs(): JITDylib[] {
    return [...this.dylibs.values()];
  }

  /** Registers something that holds resources for definitions, to hear of removals and transfers. */
  registerResourceManager(rm: ResourceManager): void {
    this.resourceManagers.push(rm);
  }

  deregisterResourceManager(rm: ResourceManager): void {
    const i = this.resourceManagers.lastIndexOf(rm);
    if (i >= 0) this.resourceManagers.splice(i, 1);
  }

  /**
   * Removes a dylib: it leaves the session and every other dylib's link order at once, and every
   * tracker of it (the created ones, then the default one) is removed as by
   * removeResourceTracker, except that lookups waiting on its symbols fail with DylibNotFound.
   * Everything but the managers' release happens before this returns its promise, which
   * settles once every manager has released every tracker's resources and never rejects. A
   * dylib that is not (or no longer) in the session is a DylibNotFound, thrown at once.
   */
  removeJITDylib(jd: JITDylib): Promise<void> {
    if (this.dylibs.get(jd.name) !== jd) throw new DylibNotFound(jd.name);
    this.dylibs.delete(jd.name);
    for (const other of this.dylibs.values()) other.forgetDylib(jd);
    const gone = new DylibNotFound(jd.name);
    let done: Promise<void> = Promise.resolve();
    for (const rt of jd.liveTrackers()) done = this.removeTracker(rt, () => gone, done);
    return done;
  }

  /**
   * Removes a tracker (ORC's ExecutionSession::removeResourceTracker). At once: the tracker
   * becomes defunct; its symbols leave its dylib; units still holding some of them are told
   * (MaterializationUnit.doDiscard); lookups waiting for one fail with FailedToMaterialize
   * naming it, caused by ResourceTrackerDefunct, and so do symbols elsewhere that were emitted
   * depending on one; a responsibility still materializing some becomes defunct. Then every
   * registered manager, in reverse order of registration, releases what it recorded under the
   * tracker, one after the other; what a manager throws is reported (reportError) and the next
   * one runs all the same. The promise settles when all are done and never rejects.
   * Removing a tracker twice returns the first removal's promise; removing one that was
   * transferred does nothing.
   */
  removeResourceTracker(rt: ResourceTracker): Promise<void> {
    const pending = rt.removal;
    if (pending) return pending;
    if (rt.isDefunct) return Promise.resolve();
    return this.removeTracker(rt, (e) => new FailedToMaterialize([{ dylib: e.jd.name, name: e.name }], new ResourceTrackerDefunct(rt)));
  }

  /**
   * Moves everything of `src` to `dst`, a tracker of the same dylib (ORC's
   * ExecutionSession::transferResourceTracker): its symbols now belong to `dst`, responsibilities
   * working for `src` go on working for `dst`, and every manager, in reverse order of
   * registration, re-files its records (what one throws is reported). `src` becomes defunct.
   * Transferring a tracker to itself does nothing.
   */
  transferResourceTracker(dst: ResourceTracker, src: ResourceTracker): void {
    if (dst === src) return;
    if (dst.jd !== src.jd) throw new Error(`Cannot transfer the ${src} to the ${dst}: trackers of different dylibs.`);
    if (src.isDefunct) throw new ResourceTrackerDefunct(src);
    if (dst.isDefunct) throw new ResourceTrackerDefunct(dst);
    src.jd.transferTracker(dst, src);
    src.markTransferredTo(dst);
    for (const rm of [...this.resourceManagers].reverse()) {
      try {
        rm.handleTransferResources(src.jd, dst, src);
      } catch (err) {
        this.reportError(err);
      }
    }
  }

  /**
   * The synchronous part of a removal, then the managers' release once `after` has settled (so
   * a dylib's trackers are released one after the other). `errorFor` is what a lookup waiting
   * for a removed symbol fails with.
   */
  private removeTracker(rt: ResourceTracker, errorFor: (e: SymbolTableEntry) => unknown, after: Promise<void> = Promise.resolve()): Promise<void> {
    const managers = [...this.resourceManagers].reverse();
    const { promise, resolve } = Promise.withResolvers<void>();
    rt.markRemoved(promise);
    this.dropEntries(rt.jd.detachTracker(rt), errorFor);
    void after.then(async () => {
      for (const rm of managers) {
        try {
          await rm.handleRemoveResources(rt.jd, rt);
        } catch (err) {
          this.reportError(err);
        }
      }
      resolve();
    });
    return promise;
  }

  /**
   * Settles what depended on entries just taken out of their table: units holding one are told
   * to discard it, lookups waiting for one fail, and symbols emitted depending on one that is
   * not Ready fail (they can never become Ready).
   */
  private dropEntries(entries: readonly SymbolTableEntry[], errorFor: (e: SymbolTableEntry) => unknown): void {
    let dropped: Set<SymbolTableEntry> | undefined;
    const failedDependants: { e: SymbolTableEntry; error: FailedToMaterialize }[] = [];
    for (const e of entries) {
      if (e.unit) {
        e.unit.doDiscard(e.jd, e.name);
        e.unit = undefined;
      }
      if (e.pendingQueries.size === 0 && e.dependants.size === 0 && e.unreadyDeps.size === 0) continue;
      const error = errorFor(e);
      for (const q of [...e.pendingQueries]) q.fail(error);
      e.clearPendingQueries();
      for (const d of e.unreadyDeps) d.deleteDependant(e);
      e.clearUnreadyDeps();
      for (const d of e.dependants) {
        d.deleteUnreadyDep(e);
        if (!(dropped ??= new Set(entries)).has(d)) failedDependants.push({ e: d, error: new FailedToMaterialize([{ dylib: d.jd.name, name: d.name }], error) });
      }
      e.clearDependants();
    }
    for (const { e, error } of failedDependants) this.failEntries([e], error);
  }

  /**
   * Looks `names` up through `order` and waits until every one has reached `requiredState`
   * (Ready by default), materializing what is needed. All or nothing: if a required name is
   * defined nowhere, nothing is materialized and the lookup fails with SymbolsNotFound naming
   * every missing one.
   */
  lookup(
    order: JITDylibSearchOrder,
    names: Iterable<string> | ReadonlyMap<string, SymbolLookupFlags>,
    requiredState: SymbolState = SymbolState.Ready,
  ): Promise<LookupResult> {
    const wanted: ReadonlyMap<string, SymbolLookupFlags> =
      names instanceof Map ? names : new Map([...(names as Iterable<string>)].map((n) => [n, 'RequiredSymbol' as const]));

    const found: SymbolTableEntry[] = [];
    const missing: string[] = [];
    for (const [name, flags] of wanted) {
      const entry = this.search(order, name);
      if (entry) found.push(entry);
      else if (flags === 'RequiredSymbol') missing.push(name);
    }
    if (missing.length > 0) return Promise.reject(new SymbolsNotFound(missing, order[0]?.jd.name));
    const failed = found.find((e) => e.error);
    if (failed?.error) return Promise.reject(failed.error);

    return new Promise<LookupResult>((resolve, reject) => {
      const query = new AsynchronousSymbolQuery(requiredState, resolve, reject);
      const units = new Map<MaterializationUnit, { jd: JITDylib; requested: Set<string> }>();
      for (const entry of found) {
        entry.searched = true;
        if (entry.state >= requiredState) {
          query.satisfy(entry);
          continue;
        }
        query.wait(entry);
        if (entry.unit) {
          let u = units.get(entry.unit);
          if (!u) units.set(entry.unit, (u = { jd: entry.jd, requested: new Set() }));
          u.requested.add(entry.name);
        }
      }
      for (const [unit, { jd, requested }] of units) this.materialize(jd, unit, requested);
      query.maybeComplete();
    });
  }

  /**
   * The definition `name` resolves to through `order` if it has already reached `requiredState`,
   * else undefined (the caller then looks it up). The hot path of a call: a symbol called before
   * needs no query, no promise and no materialization, so it should not pay for them.
   */
  lookupReady(order: JITDylibSearchOrder, name: string, requiredState: SymbolState = SymbolState.Ready) {
    const entry = this.search(order, name);
    if (entry === undefined || entry.error || entry.state < requiredState) return undefined;
    entry.searched = true;
    return { address: entry.address ?? 0, flags: entry.flags, entry };
  }

  /** Looks one name up and returns its definition. */
  async lookupOne(order: JITDylibSearchOrder, name: string, requiredState: SymbolState = SymbolState.Ready) {
    const result = await this.lookup(order, [name], requiredState);
    return result.get(name) as NonNullable<ReturnType<LookupResult['get']>>;
  }

  /**
   * The declared interfaces of `names` found through `order`, materializing nothing
   * (ORC's lookupFlags). Names found nowhere are left out.
   */
  lookupFlags(order: JITDylibSearchOrder, names: Iterable<string>): Map<string, SymbolInterface> {
    const result = new Map<string, SymbolInterface>();
    for (const name of names) {
      const e = this.search(order, name);
      if (e) result.set(name, { ...e.info, flags: e.flags });
    }
    return result;
  }

  /** Finds the entry `name` resolves to through `order`, first match wins. */
  search(order: JITDylibSearchOrder, name: string): SymbolTableEntry | undefined {
    for (const { jd, flags } of order) {
      const entry = jd.entry(name);
      if (entry && (flags === 'MatchAllSymbols' || entry.info.flags.isExported)) return entry;
    }
    return undefined;
  }

  /**
   * Takes `whole` out of `jd` and runs it on a fresh responsibility for all its symbols; or,
   * when the unit can split the requested symbols off (MaterializationUnit.splitOff), runs just
   * that part and leaves the rest of the unit in the dylib, untouched.
   */
  private materialize(jd: JITDylib, whole: MaterializationUnit, requested: ReadonlySet<string>): void {
    const unit = (requested.size < whole.symbols.size ? whole.splitOff(requested) : undefined) ?? whole;
    // A unit's symbols all belong to the tracker it was defined (or handed back) under.
    let tracker: ResourceTracker | undefined;
    // A split may take names (a partition's other bodies) whose entries were deferred and are
    // not yet made: they are made here, as the whole unit's, before it forgets them.
    unit.symbols.forEach((info, name) => {
      const entry = unit === whole ? jd.entry(name) : jd.makeSplitEntry(whole, name, info);
      if (!entry || entry.unit !== whole) return;
      entry.unit = undefined;
      entry.state = SymbolState.Materializing;
      tracker ??= entry.tracker;
    });
    const r = new MaterializationResponsibility(this, jd, unit.symbols, requested, tracker ?? jd.getDefaultResourceTracker());
    this.materializations++;
    // Run after the current lookup has registered its queries, as ORC dispatches a task.
    queueMicrotask(() => {
      void this.runUnit(unit, r);
    });
  }

  private async runUnit(unit: MaterializationUnit, r: MaterializationResponsibility): Promise<void> {
    if (r.isDefunct) {
      // Removed between the lookup and now: its symbols are gone, so the unit never runs.
      for (const name of [...unit.symbols.keys()]) unit.doDiscard(r.targetJD, name);
      return;
    }
    try {
      const pending = unit.materialize(r);
      if (!pending) return; // The unit took the responsibility over and will finish it itself.
      await pending;
      if (!r.isDone) {
        const left = [...r.getSymbols().keys()].map((n) => JSON.stringify(n)).join(', ');
        r.failMaterialization(new Error(`${unit.name} finished without emitting ${left}`));
      }
    } catch (err) {
      r.failMaterialization(err);
    }
  }

  // ---- state transitions, driven by MaterializationResponsibility ----

  /** @internal */
  resolveSymbols(jd: JITDylib, defs: ReadonlyMap<string, ExecutorSymbolDef>): void {
    const touched = new Set<AsynchronousSymbolQuery>();
    for (const [name, def] of defs) {
      const e = jd.entry(name);
      if (!e || e.error) continue;
      e.address = def.address;
      e.state = SymbolState.Resolved;
      this.notifyQueries(e, touched);
    }
    for (const q of touched) q.maybeComplete();
  }

  /** @internal */
  emitSymbols(jd: JITDylib, names: readonly string[], deps: SymbolDependenceMap): void {
    const entries = names.map((n) => jd.entry(n)).filter((e): e is SymbolTableEntry => !!e && !e.error);
    const batch = new Set(entries);
    const depEntries: SymbolTableEntry[] = [];
    for (const [depJD, depNames] of deps) {
      for (const n of depNames) {
        const d = depJD.entry(n);
        if (d && !batch.has(d)) depEntries.push(d);
      }
    }
    const failedDep = depEntries.find((d) => d.error);
    if (failedDep?.error) {
      this.failEntries(entries, failedDep.error);
      return;
    }
    // A dependency that (transitively) waits for this batch forms a cycle: the cycle becomes
    // Ready together, so the edge is dropped. Which dependencies are left is the same for every
    // entry of the batch (the edges added below all start in the batch), so it is worked out
    // once: a piece of hundreds of bodies depends on hundreds of symbols, nearly all Ready.
    const unready = depEntries.filter((d) => d.state < SymbolState.Ready && !this.waitsOn(d, batch));
    const touched = new Set<AsynchronousSymbolQuery>();
    const ready: SymbolTableEntry[] = [];
    for (const e of entries) {
      e.state = SymbolState.Emitted;
      for (const d of unready) e.addUnreadyDep(d);
      if (e.unreadyDeps.size === 0) ready.push(e);
      else this.notifyQueries(e, touched);
    }
    for (const e of ready) this.markReady(e, touched);
    for (const q of touched) q.maybeComplete();
  }

  /** @internal */
  failSymbols(jd: JITDylib, names: readonly string[], cause: unknown): void {
    const entries = names.map((n) => jd.entry(n)).filter((e): e is SymbolTableEntry => !!e);
    if (entries.length === 0) {
      this.reportError(cause);
      return;
    }
    const error =
      cause instanceof FailedToMaterialize
        ? cause
        : new FailedToMaterialize(entries.map((e) => ({ dylib: jd.name, name: e.name })), cause);
    this.failEntries(entries, error);
  }

  /** @internal */
  replaceSymbols(jd: JITDylib, unit: MaterializationUnit): void {
    const waitedFor = new Set<string>();
    for (const name of unit.symbols.keys()) {
      const e = jd.entry(name);
      if (!e) continue;
      e.unit = unit;
      e.state = SymbolState.NeverSearched;
      if (e.pendingQueries.size > 0) waitedFor.add(name);
    }
    if (waitedFor.size > 0) this.materialize(jd, unit, waitedFor);
  }

  private notifyQueries(e: SymbolTableEntry, touched: Set<AsynchronousSymbolQuery>): void {
    for (const q of [...e.pendingQueries]) {
      if (q.requiredState <= e.state) {
        q.satisfy(e);
        touched.add(q);
      }
    }
  }

  private markReady(e: SymbolTableEntry, touched: Set<AsynchronousSymbolQuery>): void {
    const work = [e];
    while (work.length > 0) {
      const cur = work.pop() as SymbolTableEntry;
      cur.state = SymbolState.Ready;
      this.notifyQueries(cur, touched);
      for (const d of cur.dependants) {
        d.deleteUnreadyDep(cur);
        if (d.unreadyDeps.size === 0 && d.state === SymbolState.Emitted && !d.error) work.push(d);
      }
      cur.clearDependants();
    }
  }

  private waitsOn(from: SymbolTableEntry, targets: ReadonlySet<SymbolTableEntry>): boolean {
    const seen = new Set<SymbolTableEntry>();
    const stack = [from];
    while (stack.length > 0) {
      const cur = stack.pop() as SymbolTableEntry;
      if (targets.has(cur)) return true;
      if (seen.has(cur)) continue;
      seen.add(cur);
      stack.push(...cur.unreadyDeps);
    }
    return false;
  }

  /** Fails entries and, transitively, every emitted symbol waiting on them. */
  private failEntries(entries: readonly SymbolTableEntry[], error: FailedToMaterialize): void {
    const work = entries.map((e) => ({ e, error }));
    while (work.length > 0) {
      const { e, error: err } = work.pop() as { e: SymbolTableEntry; error: FailedToMaterialize };
      if (e.error) continue;
      e.error = err;
      for (const q of [...e.pendingQueries]) q.fail(err);
      e.clearPendingQueries();
      for (const d of e.unreadyDeps) d.deleteDependant(e);
      e.clearUnreadyDeps();
      for (const d of e.dependants) {
        const depError = new FailedToMaterialize([{ dylib: d.jd.name, name: d.name }], err);
        work.push({ e: d, error: depError });
      }
      e.clearDependants();
    }
  }

  // ---- dump ----

  /** The whole session as a structured object: dylibs, link orders, symbols and states. */
  dump(): JITDylibDump[] {
    return this.getJITDylibs().map((jd) => ({
      name: jd.name,
      linkOrder: jd.getLinkOrder().map((e) => ({ name: e.jd.name, flags: e.flags })),
      symbols: [...jd.symbols()].map((e) => dumpSymbol(e)),
    }));
  }

  /**
   * The session as text in the spirit of ORC's ExecutionSession::dump. `annotate` may add a
   * layer's note to a symbol's line (e.g. the body a lazy reexport leads to).
   */
  dumpText(annotate: (e: SymbolTableEntry) => string | undefined = () => undefined): string {
    const lines: string[] = [];
    for (const jd of this.getJITDylibs()) {
      lines.push(`JITDylib "${jd.name}":`);
      const order = jd.getLinkOrder().map((e) => `("${e.jd.name}", ${e.flags})`);
      lines.push(`Link order: [ ${order.join(', ')} ]`);
      lines.push('Symbol table:');
      for (const e of jd.symbols()) {
        const d = dumpSymbol(e);
        let line = `    ${JSON.stringify(d.name)}: ${d.address ?? '<not resolved>'} [${d.flags.join('|')}] ${d.state}`;
        if (d.materializer) line += ` (materializer ${d.materializer})`;
        const note = annotate(e);
        if (note) line += ` ${note}`;
        if (d.error) line += ` (error: ${d.error})`;
        lines.push(line);
      }
    }
    return lines.join('\n') + '\n';
  }
}

function dumpSymbol(e: SymbolTableEntry): SymbolDump {
  return {
    name: e.name,
    address: e.state >= SymbolState.Resolved && e.address !== undefined ? formatAddress(e.address) : undefined,
    flags: e.flags.names(),
    state: symbolStateName(e.state),
    materializer: e.unit?.name,
    error: e.error?.message,
  };
}
