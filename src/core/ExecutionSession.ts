// The ExecutionSession owns the JITDylibs of one session and runs every lookup: it finds
// symbols through a search order, takes the units that provide them out of their dylibs and
// materializes each exactly once, however many lookups race for it, and it moves symbols
// through their states, settling lookups as symbols reach the state they require. A failure
// fails the lookups and the dependants of the failed symbols, and nothing else.

import { AsynchronousSymbolQuery, type LookupResult } from './AsynchronousSymbolQuery.ts';
import { DylibExists, DylibNotFound, FailedToMaterialize, SymbolsNotFound } from './errors.ts';
import { JITDylib, type JITDylibSearchOrder, type SymbolTableEntry } from './JITDylib.ts';
import { MaterializationResponsibility, type SymbolDependenceMap } from './MaterializationResponsibility.ts';
import type { MaterializationUnit } from './MaterializationUnit.ts';
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

  /**
   * Removes a dylib: its symbols are gone, lookups waiting on them fail, and it leaves every
   * other dylib's link order.
   */
  removeJITDylib(jd: JITDylib): void {
    if (this.dylibs.get(jd.name) !== jd) throw new DylibNotFound(jd.name);
    this.dylibs.delete(jd.name);
    for (const other of this.dylibs.values()) other.forgetDylib(jd);
    const gone = new DylibNotFound(jd.name);
    for (const e of jd.table.values()) {
      for (const q of [...e.pendingQueries]) q.fail(gone);
    }
    jd.table.clear();
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
      const entry = jd.table.get(name);
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
    for (const name of unit.symbols.keys()) {
      const entry = jd.table.get(name);
      if (!entry || entry.unit !== whole) continue;
      entry.unit = undefined;
      entry.state = SymbolState.Materializing;
    }
    const r = new MaterializationResponsibility(this, jd, unit.symbols, requested);
    this.materializations++;
    // Run after the current lookup has registered its queries, as ORC dispatches a task.
    queueMicrotask(() => {
      void this.runUnit(unit, r);
    });
  }

  private async runUnit(unit: MaterializationUnit, r: MaterializationResponsibility): Promise<void> {
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
      const e = jd.table.get(name);
      if (!e || e.error) continue;
      e.address = def.address;
      e.state = SymbolState.Resolved;
      this.notifyQueries(e, touched);
    }
    for (const q of touched) q.maybeComplete();
  }

  /** @internal */
  emitSymbols(jd: JITDylib, names: readonly string[], deps: SymbolDependenceMap): void {
    const entries = names.map((n) => jd.table.get(n)).filter((e): e is SymbolTableEntry => !!e && !e.error);
    const batch = new Set(entries);
    const depEntries: SymbolTableEntry[] = [];
    for (const [depJD, depNames] of deps) {
      for (const n of depNames) {
        const d = depJD.table.get(n);
        if (d && !batch.has(d)) depEntries.push(d);
      }
    }
    const failedDep = depEntries.find((d) => d.error);
    if (failedDep?.error) {
      this.failEntries(entries, failedDep.error);
      return;
    }
    const touched = new Set<AsynchronousSymbolQuery>();
    const ready: SymbolTableEntry[] = [];
    for (const e of entries) {
      e.state = SymbolState.Emitted;
      for (const d of depEntries) {
        // A dependency that (transitively) waits for this batch forms a cycle: the cycle
        // becomes Ready together, so the edge is dropped.
        if (d.state < SymbolState.Ready && !this.waitsOn(d, batch)) {
          e.addUnreadyDep(d);
        }
      }
      if (e.unreadyDeps.size === 0) ready.push(e);
      else this.notifyQueries(e, touched);
    }
    for (const e of ready) this.markReady(e, touched);
    for (const q of touched) q.maybeComplete();
  }

  /** @internal */
  failSymbols(jd: JITDylib, names: readonly string[], cause: unknown): void {
    const entries = names.map((n) => jd.table.get(n)).filter((e): e is SymbolTableEntry => !!e);
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
      const e = jd.table.get(name);
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
