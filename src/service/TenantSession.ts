// One tenant's session as the routes use it (the JITService facade): its LazyJIT, with every
// definition written through to the durable store before the request is answered, and the
// tenant's own limits on dylibs and modules. Views turn symbol-table entries into the API's
// shapes, and JSON arguments into exact values and back.
//
// Durability: a change is made in the JIT first (which validates it and may refuse it), then
// written to the store; if the store cannot take it, the change is undone in the JIT and the
// request fails with StoreUnavailable, so a request either took effect whole or not at all. A
// removal goes the other way round (store first), since a removal cannot be undone. Changes of
// one tenant are serialized, so the store records them in the order the JIT made them, which is
// the order recovery replays them in.

import type { Logger } from 'pino';
import type { DylibView } from '../../schemas/dylib.ts';
import type { SessionDump } from '../../schemas/dump.ts';
import type { InvokeResult } from '../../schemas/invoke.ts';
import type { AddModuleResult, ModuleView } from '../../schemas/module.ts';
import type { SymbolFlag, SymbolKind, SymbolState as SymbolStateName, SymbolView } from '../../schemas/symbol.ts';
import { FailedToMaterialize, JITError, ResourceExhausted } from '../core/errors.ts';
import type { JITDylib, SymbolTableEntry } from '../core/JITDylib.ts';
import { formatAddress } from '../core/SymbolDefinition.ts';
import { SymbolState, symbolStateName } from '../core/SymbolFlags.ts';
import type { AddProgress, LazyJIT } from '../jit/LazyJIT.ts';
import { definitionTarget, symbolTarget } from '../jit/symbolTargets.ts';
import type { WasmModuleRecord } from '../jit/WasmModuleRecord.ts';
import type { AppMetrics } from '../metrics/AppMetrics.ts';
import type { Store } from '../store/Store.ts';
import type { FuncType } from '../wasm/types.ts';
import type { JITService, ServiceMetrics } from './JITService.ts';
import { MemoryOutOfRange } from './errors.ts';
import { type DylibUses, KeptRemovals, type ReexportTarget, type Removable } from './KeptRemovals.ts';
import { SerialQueue } from './SerialQueue.ts';
import { decodeArgs, encodeResult } from './values.ts';

/** The limits a tenant session checks itself (the others are the JIT's and the executor's). */
export interface SessionLimits {
  /** Most dylibs the tenant may have (its implementation dylibs not counted). */
  readonly dylibs: number;
  /** Most modules the tenant may have at once. */
  readonly modules: number;
  /**
   * The most a request's timeoutMs may ask for when the tenant has its own callTimeoutMs (which
   * then is a limit, not just a default); undefined: the server's maximum, which the JIT applies.
   */
  readonly maxCallTimeoutMs: number | undefined;
}

export interface TenantSessionOptions {
  readonly appMetrics?: AppMetrics | undefined;
  readonly kept?: KeptRemovals | undefined;
  /** Where the progress of a large add goes (see LARGE_ADD_BYTES). */
  readonly logger?: Logger | undefined;
}

/**
 * An add of at least this many bytes logs each phase it reaches at info, and the store write:
 * one of several seconds (a 10 MB module) should show someone watching the log that it moves.
 */
export const LARGE_ADD_BYTES = 1 << 20;

export class TenantSession implements JITService {
  readonly tenant: string;
  readonly jit: LazyJIT;
  private readonly store: Store;
  limits: SessionLimits;
  private readonly writes = new SerialQueue();
  private readonly kept: KeptRemovals;
  /** The seq the store gave each live dylib (names can be taken again after a removal). */
  private readonly dylibSeqs = new Map<JITDylib, number>();
  private failedMaterializations = 0;
  private stackOverflows = 0;
  private invokeRunMs = 0;

  private readonly appMetrics: AppMetrics | undefined;
  private readonly logger: Logger | undefined;

  constructor(tenant: string, jit: LazyJIT, store: Store, limits: SessionLimits, opts: TenantSessionOptions = {}) {
    this.appMetrics = opts.appMetrics;
    this.logger = opts.logger;
    this.tenant = tenant;
    this.jit = jit;
    this.store = store;
    this.limits = limits;
    this.kept = opts.kept ?? new KeptRemovals();
  }

  createDylib(name: string, linkOrder?: readonly string[]): Promise<DylibView> {
    return this.writes.run(async () => {
      const count = this.jit.session.getJITDylibs().filter((d) => !this.jit.implOf(d) && d.name !== 'spectest').length;
      if (count >= this.limits.dylibs) {
        throw new ResourceExhausted('dylibs', `The tenant has ${count} dylibs; its limit is ${this.limits.dylibs}.`);
      }
      const jd = this.jit.createDylib(name, linkOrder);
      try {
        this.dylibSeqs.set(jd, await this.store.createDylib(this.tenant, name, jd.getLinkOrder().map((e) => e.jd.name)));
      } catch (err) {
        await this.jit.removeDylib(name);
        throw err;
      }
      return this.dylibView(jd);
    });
  }

  // ---- recovery (src/service/recovery.ts) tells the session what the store knows things by ----

  restoredDylib(jd: JITDylib, seq: number): void {
    this.dylibSeqs.set(jd, seq);
  }

  /** Called before recovery removes the dylib again, while its modules and reexports are still there. */
  restoredKeptDylib(jd: JITDylib, seq: number): void {
    this.dylibSeqs.delete(jd);
    this.kept.keepDylib(jd, seq, this.usesOf(jd));
  }

  restoredKeptModule(record: WasmModuleRecord): void {
    this.kept.keepModule(record);
  }

  listDylibs(opts: { hidden: boolean } = { hidden: false }): DylibView[] {
    return this.jit.session.getJITDylibs().map((jd) => this.dylibView(jd, opts.hidden));
  }

  getDylib(name: string, opts: { hidden: boolean } = { hidden: false }): DylibView {
    return this.dylibView(this.jit.getDylib(name), opts.hidden);
  }

  setLinkOrder(name: string, linkOrder: readonly string[]): Promise<DylibView> {
    return this.writes.run(async () => {
      const jd = this.jit.getDylib(name);
      const before = jd.getLinkOrder();
      this.jit.setLinkOrder(name, linkOrder);
      try {
        await this.store.setLinkOrders(this.tenant, [{ name, linkOrder: jd.getLinkOrder().map((e) => e.jd.name) }]);
      } catch (err) {
        jd.setLinkOrder(before, false);
        throw err;
      }
      return this.dylibView(jd);
    });
  }

  removeDylib(name: string): Promise<void> {
    return this.writes.run(async () => {
      const jd = this.jit.getDylib(name);
      const keep = this.isUsed({ dylib: jd });
      await this.store.removeDylib(this.tenant, name, { keep });
      const others = this.jit.session.getJITDylibs().filter((d) => d !== jd && d.getLinkOrder().some((e) => e.jd === jd));
      const uses = keep ? this.usesOf(jd) : undefined;
      await this.jit.removeDylib(name);
      const seq = this.dylibSeqs.get(jd);
      this.dylibSeqs.delete(jd);
      if (uses && seq !== undefined) this.kept.keepDylib(jd, seq, uses);
      // The store deleted the dylib's records, those of its modules kept as removed too.
      if (!keep) this.kept.forgetModulesOf(jd);
      // Other dylibs' link orders forgot it: so does the store (recovery also drops names of removed dylibs).
      const changes = others.filter((d) => this.jit.session.getJITDylibByName(d.name) === d && !this.jit.implOf(d));
      if (changes.length > 0) {
        await this.store.setLinkOrders(this.tenant, changes.map((d) => ({ name: d.name, linkOrder: d.getLinkOrder().map((e) => e.jd.name) })));
      }
      await this.purgeUnreferenced();
    });
  }

  addModule(
    dylib: string,
    source: { wat: string } | { wasm: Uint8Array },
    opts: { lazy: boolean; optimize: number; name?: string | undefined },
  ): Promise<AddModuleResult> {
    return this.writes.run(async () => {
      if (this.jit.moduleCount >= this.limits.modules) {
        throw new ResourceExhausted('modules', `The tenant has ${this.jit.moduleCount} modules; its limit is ${this.limits.modules}.`);
      }
      const started = performance.now();
      const log = this.logger?.child({ tenant: this.tenant, dylib, ...(opts.name === undefined ? {} : { module: opts.name }) });
      const onProgress = log ? (p: AddProgress) => logAddProgress(log, p) : undefined;
      let added;
      try {
        added = await this.track(this.jit.addModule(dylib, source, { ...opts, onProgress }));
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        this.appMetrics?.observeAdd(opts.lazy, 0, typeof code === 'string' ? code : 'Internal');
        throw err;
      }
      this.appMetrics?.observeAdd(opts.lazy, (performance.now() - started) / 1000);
      try {
        await this.store.addModule(this.tenant, {
          id: added.id,
          dylib,
          ...(opts.name === undefined ? {} : { name: opts.name }),
          lazy: opts.lazy,
          optimize: opts.optimize,
          bytes: added.bytes,
          bindings: [...added.bindings],
        });
      } catch (err) {
        await this.jit.removeModule(dylib, added.id);
        throw err;
      }
      if (log && added.bytes.byteLength >= LARGE_ADD_BYTES) {
        log.info({ id: added.id, bytes: added.bytes.byteLength, ms: Math.round(performance.now() - started) }, 'add: stored, done');
      }
      const module: ModuleView = { id: added.id, lazy: added.lazy, ...(added.name === undefined ? {} : { name: added.name }) };
      const unresolvedImports = added.unresolvedImports.map((imp) => ({ module: imp.module, name: imp.name }));
      return { module, symbols: added.symbols.map((e) => this.symbolView(e)), unresolvedImports };
    });
  }

  removeModule(dylib: string, moduleId: string): Promise<void> {
    return this.writes.run(async () => {
      const record = this.jit.moduleOf(dylib, moduleId);
      const keep = this.isUsed({ record });
      await this.store.removeModule(this.tenant, moduleId, { keep });
      await this.jit.removeModule(dylib, moduleId);
      if (keep) this.kept.keepModule(record);
      await this.purgeUnreferenced();
    });
  }

  addReexports(
    dylib: string,
    from: string,
    symbols: readonly string[] | Readonly<Record<string, string>>,
    opts: { lazy: boolean },
  ): Promise<{ symbols: SymbolView[] }> {
    return this.writes.run(async () => {
      const aliases = Array.isArray(symbols)
        ? new Map(symbols.map((s) => [s, s]))
        : new Map(Object.entries(symbols as Readonly<Record<string, string>>));
      const { entries, tracker } = await this.jit.addReexports(dylib, from, aliases, opts.lazy);
      try {
        await this.store.addReexports(this.tenant, {
          dylib,
          from,
          aliases: Object.fromEntries(aliases),
          lazy: opts.lazy,
          symbols: entries.map((e) => ({ name: e.name, kind: e.info.kind, flags: e.info.flags.names(), type: e.info.type })),
        });
      } catch (err) {
        await tracker.remove();
        throw err;
      }
      return { symbols: entries.map((e) => this.symbolView(e)) };
    });
  }

  /**
   * Drops from the store what it kept removed once nothing uses it any more; until nothing more
   * goes, since a purged removal may have been the last user of another.
   */
  private async purgeUnreferenced(): Promise<void> {
    for (;;) {
      const { modules, dylibs } = this.kept.unreferenced((what) => this.isUsed(what));
      if (modules.length === 0 && dylibs.length === 0) return;
      await this.store.purge(this.tenant, { modules: modules.map((r) => r.id), dylibSeqs: dylibs.map(([, seq]) => seq) });
      this.kept.forget(modules, dylibs.map(([jd]) => jd));
    }
  }

  /**
   * Whether removing `what` must keep its records in the store: something the store still holds
   * uses it, so recovery must define it before that user (and remove it after). A user is a live
   * module importing its memory, table or global, a reexport (in a live dylib) of one of its
   * symbols, or a kept removal doing either.
   */
  private isUsed(what: Removable): boolean {
    if (this.jit.importers(what).length > 0 || this.kept.usedByKept(what)) return true;
    const target = 'record' in what ? what.record.targetJD : what.dylib;
    const exported = 'record' in what ? new Set(what.record.module.info.exports.map((e) => e.name)) : undefined;
    for (const jd of this.jit.session.getJITDylibs()) {
      // A dylib's reexports of its own symbols go with it.
      if ('dylib' in what && jd === what.dylib) continue;
      let used = false;
      jd.forEachDefinition((name, info, entry) => {
        const t = used ? undefined : definitionTarget(name, info, entry);
        if (t && t.jd === target && (exported === undefined || exported.has(t.name))) used = true;
      });
      if (used) return true;
    }
    return false;
  }

  /** What a dylib about to be removed uses: its modules (their imports) and its reexports' targets. */
  private usesOf(jd: JITDylib): DylibUses {
    const reexports: ReexportTarget[] = [];
    const impl = this.jit.implDylibOf(jd);
    jd.forEachDefinition((name, info, entry) => {
      const t = definitionTarget(name, info, entry);
      // Its modules' own lazy reexports (into its impl dylib) go with it.
      if (t && t.jd !== jd && t.jd !== impl) reexports.push({ jd: t.jd, name: t.name });
    });
    return { modules: [...this.jit.modulesOf(jd)], reexports };
  }

  async getSymbol(dylib: string, name: string): Promise<SymbolView> {
    const [view] = await this.lookup(dylib, [name]);
    return view as SymbolView;
  }

  async lookup(dylib: string, names: readonly string[]): Promise<SymbolView[]> {
    const result = await this.track(this.jit.lookup(dylib, names));
    return Promise.all(
      names.map(async (n) => {
        const entry = result.get(n)?.entry as SymbolTableEntry;
        const view = this.symbolView(entry);
        const value = await this.jit.globalValue(entry);
        return value ? { ...view, value: encodeResult(value) } : view;
      }),
    );
  }

  invoke(dylib: string, symbol: string, args: readonly unknown[], opts: { timeoutMs?: number | undefined }): Promise<InvokeResult> {
    // The JIT applies the time limit (its default, the server's maximum); a tenant's own limit
    // only caps what a request may ask for.
    const cap = this.limits.maxCallTimeoutMs;
    const timeoutMs = cap !== undefined && opts.timeoutMs !== undefined ? Math.min(opts.timeoutMs, cap) : opts.timeoutMs;
    // Promise callbacks, not async functions in layers (track): the hot path's promises are few.
    return this.jit.invoke(dylib, symbol, (type: FuncType) => decodeArgs(args, type.params), { timeoutMs }).then(
      (out) => {
        this.invokeRunMs += out.runMs;
        return {
          results: out.results.map(encodeResult),
          compiled: [...out.compiled],
          output: [...out.output],
          timing: { compileMs: round(out.compileMs), runMs: round(out.runMs) },
        };
      },
      (err: unknown) => {
        if (err instanceof FailedToMaterialize) this.failedMaterializations++;
        if (err instanceof JITError && err.code === 'StackOverflow') this.stackOverflows++;
        throw err;
      },
    );
  }

  async readMemory(dylib: string, symbol: string, offset: number, length?: number) {
    const r = await this.track(inRange(this.jit.readMemory(dylib, symbol, offset, length), symbol, offset, length));
    return { offset, length: r.bytes.byteLength, base64: Buffer.from(r.bytes).toString('base64'), pages: r.pages };
  }

  async writeMemory(dylib: string, symbol: string, offset: number, bytes: Uint8Array): Promise<void> {
    await this.track(inRange(this.jit.writeMemory(dylib, symbol, offset, bytes), symbol, offset, bytes.byteLength));
  }

  dump(): SessionDump {
    // The dump shows everything, private symbols too (they lack the Exported flag).
    return { dylibs: this.listDylibs({ hidden: true }) };
  }

  dumpText(): string {
    return this.jit.dumpText();
  }

  metrics(): ServiceMetrics {
    const symbolsByState: Record<SymbolStateName, number> = { NeverSearched: 0, Materializing: 0, Resolved: 0, Emitted: 0, Ready: 0 };
    const dylibs = this.jit.session.getJITDylibs();
    for (const jd of dylibs) {
      jd.forEachDefinition((_name, _info, e) => symbolsByState[symbolStateName(e?.state ?? SymbolState.NeverSearched)]++);
    }
    const c = this.jit.counters;
    return {
      dylibs: dylibs.length,
      modules: this.jit.moduleCount,
      symbolsByState,
      compiles: c.compiles,
      reoptimizations: c.reoptimizations,
      compileMs: c.compileMs,
      failedMaterializations: this.failedMaterializations,
      invokes: c.invokes,
      invokeRunMs: this.invokeRunMs,
      traps: c.traps,
      stackOverflows: this.stackOverflows,
      timeouts: c.timeouts,
      codeCacheHits: this.jit.codeCache.hits,
      codeCacheMisses: this.jit.codeCache.misses,
    };
  }

  close(): Promise<void> {
    return this.jit.close();
  }

  // ---- views ----

  /** `hidden`: also the symbols other dylibs cannot see (no Exported flag). */
  private dylibView(jd: JITDylib, hidden = false): DylibView {
    const implOf = this.jit.implOf(jd);
    // Names first, then entries: only the symbols shown get entries made (a large module's
    // private stubs and bodies are deferred until something asks for them).
    const shown: string[] = [];
    jd.forEachDefinition((name, info) => {
      if (info.kind !== 'module' && (hidden || info.flags.isExported)) shown.push(name);
    });
    return {
      name: jd.name,
      linkOrder: jd.getLinkOrder().map((e) => e.jd.name),
      ...(implOf ? { implOf: implOf.name } : {}),
      symbols: shown.map((name) => this.symbolView(jd.entry(name) as SymbolTableEntry)),
      modules: this.jit.modulesOf(jd).map((r) => ({ id: r.id, lazy: r.options.lazy, ...(r.options.name ? { name: r.options.name } : {}) })),
    };
  }

  private symbolView(e: SymbolTableEntry): SymbolView {
    const target = this.jit.targetOf(e);
    const view: SymbolView = {
      name: e.name,
      dylib: e.jd.name,
      kind: e.info.kind as SymbolKind,
      flags: e.flags.names() as SymbolFlag[],
      state: symbolStateName(e.state),
    };
    if (e.state >= SymbolState.Resolved && e.address !== undefined && !e.error) view.address = formatAddress(e.address);
    if (e.info.kind === 'function' && e.info.type) {
      const t = e.info.type as FuncType;
      view.type = { params: [...t.params], results: [...t.results] };
    }
    if (target) {
      if (target.lazy) view.lazy = true;
      view.target = { dylib: target.jd.name, name: target.name, compiled: target.compiled, ...(target.tier ? { tier: target.tier } : {}) };
    }
    return view;
  }

  /** Counts failed materializations on their way to the client. */
  private async track<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof FailedToMaterialize) this.failedMaterializations++;
      throw err;
    }
  }
}

/**
 * A memory access whose range the executor refused becomes MemoryOutOfRange (a 400). The
 * executor reports exactly that case as a RangeError (src/executor/errors.ts, OutOfBounds);
 * JITErrors and anything else pass through.
 */
async function inRange<T>(p: Promise<T>, memory: string, offset: number, length: number | undefined): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof RangeError) throw new MemoryOutOfRange(memory, offset, length, err.message);
    throw err;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function logAddProgress(log: Logger, p: AddProgress): void {
  if (p.bytes < LARGE_ADD_BYTES) return;
  log.info({ phase: p.phase, bytes: p.bytes, ...(p.functions === undefined ? {} : { functions: p.functions }), ms: Math.round(p.ms) }, `add: ${p.phase}`);
}
