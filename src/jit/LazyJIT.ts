// LazyJIT is the JIT's wiring and its thin facade, in the spirit of ORC's LLLazyJIT: it builds
// one ExecutionSession, its executor, the resource managers and the layer chain
//
//   CompileOnDemandLayer -> ReOptimizeLayer -> CompileLayer -> WasmLinkingLayer
//
// and offers what a client does with a session: dylibs and link orders, adding and removing
// modules and reexports, lookups, invokes with exact values, memory access, dumps. Every removal
// is a ResourceTracker's: a module's add makes a tracker in its dylib (and one in the
// implementation dylib for its bodies), and removing the module, the dylib, or undoing a refused
// add removes those trackers; the resource managers give back what was made under them. It knows
// nothing of HTTP; the service layer turns its results into the API's shapes.

import { AsyncLocalStorage } from 'node:async_hooks';
import { absoluteSymbols, type AbsoluteSymbol } from '../core/AbsoluteSymbols.ts';
import { DylibNotFound, ExecutionTimeout, FailedToMaterialize, InvalidModule, JITError, ModuleNotFound, ResourceExhausted, TypeMismatch } from '../core/errors.ts';
import { ExecutionSession, type LookupResult } from '../core/ExecutionSession.ts';
import type { JITDylib, JITDylibSearchOrder, SymbolTableEntry } from '../core/JITDylib.ts';
import type { ResourceTracker } from '../core/ResourceTracker.ts';
import { buildSimpleReexportsAliasMap, reexports } from '../core/ReExports.ts';
import type { ExecutorAddr } from '../core/SymbolDefinition.ts';
import { JITSymbolFlags, SymbolState } from '../core/SymbolFlags.ts';
import type { JITConfig } from '../config.ts';
import { startupTimeSince } from '../executor/StartupWindows.ts';
import { ExecutorLinkError } from '../executor/errors.ts';
import { Executor } from '../executor/Executor.ts';
import type { ExecutorHostPool } from '../executor/ExecutorHostPool.ts';
import { loadModule, type FuncType, type GlobalType, type ImportInfo, type WasmValue } from '../wasm/index.ts';
import { CodeBudget, limitHit } from './CodeBudget.ts';
import { CodeCache, type CodeCacheBackend } from './CodeCache.ts';
import { CompileLayer } from './CompileLayer.ts';
import {
  CompileOnDemandLayer,
  IMPL_SUFFIX,
  initSymbolName,
  WholeModuleMaterializationUnit,
  type ModuleSymbol,
} from './CompileOnDemandLayer.ts';
import { ExecutorResources } from './ExecutorResources.ts';
import { IndirectStubsManager } from './IndirectStubsManager.ts';
import { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import { lazyReexports } from './LazyReexports.ts';
import { ModuleRegistry } from './ModuleRegistry.ts';
import { OptimizingCompiler } from './OptimizingCompiler.ts';
import type { CompileEvent } from './PieceRequest.ts';
import { publicOrder } from './publicOrder.ts';
import { ReOptimizeLayer } from './ReOptimizeLayer.ts';
import { setSymbolTarget, symbolTarget, type SymbolTarget } from './symbolTargets.ts';
import { WasmLinkingLayer } from './WasmLinkingLayer.ts';
import { WasmModuleRecord, type ModuleOptions, type StoredBinding, type Tier } from './WasmModuleRecord.ts';

export type ModuleSource = { readonly wat: string } | { readonly wasm: Uint8Array };

export interface LazyJITOptions {
  /** Where the executor's worker lives: an executor host process of this pool, or (absent) this process. */
  readonly host?: ExecutorHostPool | undefined;
  /** false: start the executor's worker when it is first needed (a tenant recovered at start). Default true. */
  readonly startExecutor?: boolean;
  /** Where the optimizing compiler's output is cached (the durable store); absent: no cache. */
  readonly codeCache?: CodeCacheBackend | undefined;
}

export interface AddedModule {
  readonly id: string;
  readonly name?: string | undefined;
  readonly lazy: boolean;
  /** The module's binary as added (a WAT source turned into one): what a store keeps to add it again. */
  readonly bytes: Uint8Array;
  /** Where its memory, table and global imports resolved: what recovery binds them to again. */
  readonly bindings: readonly StoredBinding[];
  /** The module's exported symbols in its dylib, as entries of the symbol table. */
  readonly symbols: readonly SymbolTableEntry[];
  /** Function imports that resolve nowhere at the end of the add (calls reaching them fail until they are defined). */
  readonly unresolvedImports: readonly ImportInfo[];
}

/**
 * Where an add has got to, for whoever waits on a large one: `parsed` (binary in hand; WAT
 * assembled), `validated` (decoded and compiled by V8, functions counted), `defined` (symbols in
 * the dylibs), `instantiated` (globals module linked, start function run).
 */
export interface AddProgress {
  readonly phase: 'parsed' | 'validated' | 'defined' | 'instantiated';
  readonly bytes: number;
  /** Functions the module defines (known from `validated` on). */
  readonly functions: number | undefined;
  /** Since the add began. */
  readonly ms: number;
}

export interface AddModuleOptions extends Partial<ModuleOptions> {
  /** Recovery: the module's id and data bindings as they were. */
  readonly restore?: RestoreOptions;
  readonly onProgress?: (p: AddProgress) => void;
}

/** Recovery: add a module as it was added before, with the same id, imports bound as they were, nothing awaited. */
export interface RestoreOptions {
  readonly id: string;
  readonly bindings: readonly StoredBinding[];
}

export interface InvokeOutcome {
  readonly results: readonly WasmValue[];
  readonly compiled: readonly string[];
  readonly output: readonly string[];
  readonly compileMs: number;
  readonly runMs: number;
}

export interface JITCounters {
  /** Pieces compiled and linked (globals modules, partitions, whole modules), optimized tiers apart. */
  compiles: number;
  /** Function bodies those pieces compiled. */
  compiledFunctions: number;
  /** Bytes of wasm those pieces held. */
  compiledBytes: number;
  compileMs: number;
  /** Hot functions given an optimized tier. */
  reoptimizations: number;
  invokes: number;
  traps: number;
  timeouts: number;
}

/** What one invoke collects while it runs: the bodies compiled for it and how long that took. */
class InvokeContext {
  readonly compiled: string[] = [];
  compileMs = 0;
  record(e: CompileEvent): void {
    this.compiled.push(...e.names);
    this.compileMs += e.ms;
  }
}

export class LazyJIT {
  readonly session = new ExecutionSession();
  readonly executor: Executor;
  /** The session's settings; its limits change with setLimits. */
  config: JITConfig;
  readonly counters: JITCounters = { compiles: 0, compiledFunctions: 0, compiledBytes: 0, compileMs: 0, reoptimizations: 0, invokes: 0, traps: 0, timeouts: 0 };
  readonly codeBudget: CodeBudget;
  readonly codeCache: CodeCache;
  private readonly addresses: ExecutorResources;
  private readonly stubs: IndirectStubsManager;
  private readonly lctm: LazyCallThroughManager;
  private readonly modules = new ModuleRegistry();
  private readonly optimizer = OptimizingCompiler.shared();
  private readonly linker: WasmLinkingLayer;
  private readonly reoptimizer: ReOptimizeLayer;
  private readonly cod: CompileOnDemandLayer;
  private readonly compileLayer: CompileLayer;
  /** The invoke whose code (or lookup) caused what is running now, through the async context. */
  private readonly currentInvoke = new AsyncLocalStorage<InvokeContext>();
  private nextModuleId = 1;

  private constructor(executor: Executor, config: JITConfig, codeCache: CodeCacheBackend | undefined) {
    this.executor = executor;
    this.config = config;
    const report = (err: unknown) => this.session.reportError(err);
    const host = executor.hostSymbols();
    const firstSlot = Math.max(0, ...Object.values(executor.hookAddresses()), ...host.filter((h) => h.kind === 'function').map((h) => h.addr)) + 1;
    const firstHandle = Math.max(0, ...host.filter((h) => h.kind !== 'function').map((h) => h.addr)) + 1;
    this.addresses = new ExecutorResources(executor, firstSlot, firstHandle, report);
    this.codeBudget = new CodeBudget(config.sessionCodeLimitBytes);
    this.stubs = new IndirectStubsManager(executor, this.addresses, report);
    this.lctm = new LazyCallThroughManager(this.session);
    this.linker = new WasmLinkingLayer({
      session: this.session,
      executor,
      addresses: this.addresses,
      budget: this.codeBudget,
      stubs: this.stubs,
      lctm: this.lctm,
      observer: (e) => this.onCompiled(e),
    });
    this.codeCache = new CodeCache(codeCache, report);
    this.compileLayer = new CompileLayer(this.linker, this.optimizer, this.codeCache);
    this.reoptimizer = new ReOptimizeLayer(this.session, this.compileLayer, this.stubs, {
      threshold: config.reoptimizeThreshold,
      maxFunctions: config.reoptimizeMaxFunctions,
    });
    this.cod = new CompileOnDemandLayer(this.reoptimizer, this.lctm, this.stubs, { budgetBytes: config.partitionBudgetBytes });
    // Registered in the order ORC would: removal runs them newest first, so the module registry
    // and the layers forget a tracker before its addresses go back to the executor.
    for (const rm of [this.addresses, this.codeBudget, this.stubs, this.lctm, this.reoptimizer, this.modules]) {
      this.session.registerResourceManager(rm);
    }
    executor.setCallThroughHandler((id) => this.lctm.callThrough(id));
    executor.setHotHandler((id) => this.reoptimizer.onHot(id));

    const spectest = this.session.createJITDylib(SPECTEST);
    const defs = new Map<string, AbsoluteSymbol>();
    for (const h of host) {
      const flags = h.kind === 'function' ? JITSymbolFlags.ExportedCallable : JITSymbolFlags.of('Exported');
      defs.set(h.name, { address: h.addr, flags, kind: h.kind, type: h.type });
    }
    spectest.define(absoluteSymbols(defs));
  }

  static async create(config: JITConfig, opts: LazyJITOptions = {}): Promise<LazyJIT> {
    const executor = await Executor.start({
      heapLimitMb: config.executorHeapLimitMb,
      sessionMemoryLimitPages: config.sessionMemoryLimitPages,
      sessionTableLimitElements: config.sessionTableLimitElements,
      // A start function runs like a call, under the same limit.
      startTimeoutMs: config.callTimeoutMs,
      ...(opts.host ? { host: opts.host } : {}),
      startWorker: opts.startExecutor ?? true,
    });
    return new LazyJIT(executor, config, opts.codeCache);
  }

  /**
   * Changes the session's limits: compiled code at once (what is compiled stays), memory pages
   * when the executor next starts (they are the worker's to enforce).
   */
  setLimits(limits: { sessionCodeLimitBytes: number; sessionMemoryLimitPages: number; callTimeoutMs: number }): void {
    this.codeBudget.limitBytes = limits.sessionCodeLimitBytes;
    this.executor.setSessionMemoryLimitPages(limits.sessionMemoryLimitPages);
    this.config = { ...this.config, callTimeoutMs: Math.min(limits.callTimeoutMs, this.config.maxCallTimeoutMs) };
  }

  async close(): Promise<void> {
    await this.executor.close();
  }

  /** Settles once every re-optimization asked for so far is done (re-optimization runs beside the program). */
  whenIdle(): Promise<void> {
    return this.reoptimizer.whenIdle();
  }

  // ---- dylibs ----

  getDylib(name: string): JITDylib {
    return this.session.getJITDylib(name);
  }

  /** The built-in dylibs (`spectest`), which no request may change: they are not the tenant's definitions. */
  private checkChangeable(jd: JITDylib): void {
    if (jd.name === SPECTEST) throw new BuiltinDylib(jd.name);
  }

  /** Creates a dylib; `linkOrder` names dylibs (itself included or not) searched after it. */
  createDylib(name: string, linkOrder?: readonly string[]): JITDylib {
    const order = linkOrder ? this.resolveLinkOrder(name, linkOrder) : undefined;
    const jd = this.session.createJITDylib(name);
    if (order) jd.setLinkOrder(order(jd));
    return jd;
  }

  setLinkOrder(name: string, linkOrder: readonly string[]): JITDylib {
    const jd = this.getDylib(name);
    this.checkChangeable(jd);
    jd.setLinkOrder(this.resolveLinkOrder(name, linkOrder)(jd));
    return jd;
  }

  /** Checks every name first, so a bad link order changes nothing. */
  private resolveLinkOrder(self: string, names: readonly string[]): (jd: JITDylib) => JITDylibSearchOrder {
    const missing = names.filter((n) => n !== self && !this.session.getJITDylibByName(n));
    if (missing.length > 0) throw new DylibNotFound(missing[0] as string);
    return (jd) =>
      names
        .filter((n) => n !== self)
        .map((n) => ({ jd: this.session.getJITDylib(n), flags: 'MatchExportedSymbolsOnly' as const }))
        .filter((e) => e.jd !== jd);
  }

  /** Removes a dylib and its implementation dylib: every tracker of both, so everything made for them. */
  async removeDylib(name: string): Promise<void> {
    const jd = this.getDylib(name);
    this.checkChangeable(jd);
    const impl = CompileOnDemandLayer.implDylibOf(jd);
    await this.session.removeJITDylib(jd);
    if (impl) await this.session.removeJITDylib(impl);
  }

  implDylibOf(jd: JITDylib): JITDylib | undefined {
    return CompileOnDemandLayer.implDylibOf(jd);
  }

  /** The dylib whose implementation dylib `jd` is, if it is one. */
  implOf(jd: JITDylib): JITDylib | undefined {
    return CompileOnDemandLayer.implOf(jd);
  }

  modulesOf(jd: JITDylib): readonly WasmModuleRecord[] {
    return this.modules.modulesOf(jd);
  }

  get moduleCount(): number {
    return this.modules.size;
  }

  // ---- modules ----

  /**
   * Validates and adds a module. Lazily (the default) that defines the globals module, the lazy
   * reexports and the bodies, and instantiates the globals module (running the start function);
   * no function body is compiled. Eagerly, the whole module is one unit, compiled on first
   * lookup (at once if it has a start function). Nothing is defined if any step fails.
   */
  async addModule(dylibName: string, source: ModuleSource, opts: AddModuleOptions = {}): Promise<AddedModule> {
    const jd = this.getDylib(dylibName);
    this.checkChangeable(jd);
    const options: ModuleOptions = { lazy: opts.lazy ?? true, optimize: opts.optimize ?? 2, name: opts.name };
    const restore = opts.restore;
    const began = performance.now();
    let functions: number | undefined;
    const progress = (phase: AddProgress['phase']) => opts.onProgress?.({ phase, bytes: bytes.byteLength, functions, ms: performance.now() - began });
    const bytes = 'wasm' in source ? source.wasm : await this.optimizer.watToWasm(source.wat);
    progress('parsed');
    const module = await loadModule(bytes, { memoryMaxPages: this.config.memoryLimitPages, tableMaxElements: this.config.tableLimitElements });
    const defined = module.info.functions.length - module.importedFunctions;
    functions = defined;
    progress('validated');
    if (defined > this.config.maxFunctionsPerModule) {
      throw new ResourceExhausted('functionsPerModule', `The module defines ${defined} functions; the limit is ${this.config.maxFunctionsPerModule}.`);
    }
    const id = restore ? restore.id : `m${this.nextModuleId++}`;
    if (restore) this.nextModuleId = Math.max(this.nextModuleId, moduleNumber(restore.id) + 1);
    // DylibExists when a dylib named like the impl dylib exists and is not this one's.
    const implJD = options.lazy ? this.cod.implDylib(jd) : undefined;
    const record = new WasmModuleRecord({
      id,
      options,
      module,
      sourceBytes: bytes,
      targetJD: jd,
      implJD,
      tracker: jd.createResourceTracker(),
      implTracker: implJD?.createResourceTracker(),
      keptFunctions: new Set(module.functionsUsingSegments()),
    });
    record.restoring = restore ? { bindings: restore.bindings } : undefined;
    this.modules.add(record);
    let targetSymbols: () => readonly string[] = () => [];
    let exported: readonly string[] = [];
    try {
      // Checked when the module was first added; recovery binds them as they were.
      if (!restore) {
        await this.linker.checkDataImports(record).catch((err: unknown) => {
          throw new FailedToMaterialize([{ dylib: jd.name, name: initSymbolName(id) }], err);
        });
      }
      this.noteDataBindings(record);
      await this.createMemories(record);
      const def = options.lazy ? this.cod.add(record) : this.defineEager(record);
      targetSymbols = def.targetSymbols;
      exported = 'exported' in def ? def.exported : def.targetSymbols();
      progress('defined');
      if (def.materializeNow.length > 0) await this.session.lookup([{ jd, flags: 'MatchAllSymbols' }], def.materializeNow);
      progress('instantiated');
    } catch (err) {
      const cause = unwrapInstantiationError(err);
      await this.undoAdd(record, targetSymbols, instantiationRan(cause));
      throw cause;
    }
    record.restoring = undefined;
    const symbols: SymbolTableEntry[] = [];
    for (let i = 0; i < exported.length; i++) {
      const e = jd.entry(exported[i] as string);
      if (e !== undefined && e.info.flags.isExported) symbols.push(e);
    }
    const unresolvedImports = module.info.imports.filter((imp) => imp.kind === 'function' && !this.linker.findImport(record, imp));
    const bindings = record.dataBindings.map((b) => ({ module: b.module, name: b.name, dylib: b.dylib.name, symbol: b.symbol }));
    return { id, name: options.name, lazy: options.lazy, bytes, bindings, symbols, unresolvedImports };
  }

  /** Records where each of the module's memory, table and global imports resolves (they all resolve: checked). */
  private noteDataBindings(record: WasmModuleRecord): void {
    for (const imp of record.module.info.imports) {
      if (imp.kind === 'function') continue;
      const entry = this.linker.findImport(record, imp);
      if (!entry) continue;
      record.dataBindings.push({ module: imp.module, name: imp.name, dylib: entry.jd, symbol: entry.name, definer: this.modules.byTracker(entry.tracker) });
    }
  }

  /**
   * The live modules whose memory, table or global imports resolved into `target` (a module, or
   * a dylib): while there are any, the entities they use live on even if the target is removed.
   */
  importers(target: { readonly record: WasmModuleRecord } | { readonly dylib: JITDylib }): WasmModuleRecord[] {
    const out: WasmModuleRecord[] = [];
    for (const r of this.modules.all()) {
      if ('record' in target ? r === target.record : r.targetJD === target.dylib) continue;
      const hit = r.dataBindings.some((b) => ('record' in target ? b.definer === target.record : b.dylib === target.dylib));
      if (hit) out.push(r);
    }
    return out;
  }

  /** The module `moduleId` of dylib `dylibName` (ModuleNotFound). */
  moduleOf(dylibName: string, moduleId: string): WasmModuleRecord {
    const jd = this.getDylib(dylibName);
    const record = this.modules.get(moduleId);
    if (!record || record.targetJD !== jd || record.hidden) throw new ModuleNotFound(jd.name, moduleId);
    return record;
  }

  /** Removes one module: its trackers, so its symbols, stubs, bodies, memories and code. */
  async removeModule(dylibName: string, moduleId: string): Promise<void> {
    const record = this.moduleOf(dylibName, moduleId);
    await Promise.all(record.trackers().map((t) => t.remove()));
    await this.dropEmptyImpl(record);
  }

  /** An implementation dylib lives while it holds something: the next lazy add makes a new one. */
  private async dropEmptyImpl(record: WasmModuleRecord): Promise<void> {
    const impl = record.implJD;
    if (impl && this.session.getJITDylibByName(impl.name) === impl && impl.isEmpty && impl.liveTrackers().length === 0) {
      await this.session.removeJITDylib(impl);
    }
  }

  /** The memory a module defines is created by the executor at add, counted against the session's budget. */
  private async createMemories(record: WasmModuleRecord): Promise<void> {
    const { binary } = record.module;
    for (let index = binary.importedMemories; index < binary.memories.length; index++) {
      const addr = this.addresses.allocate(record.tracker, 'memory');
      const created = this.executor.apply({ op: 'createMemory', addr, type: binary.memories[index] as (typeof binary.memories)[number] });
      record.setAddress({ kind: 'memory', index }, addr);
      // Recovery does not wait for the executor: it creates the memory when it next starts.
      if (record.restoring) created.catch((err: unknown) => this.session.reportError(err));
      else await created;
    }
  }

  private defineEager(record: WasmModuleRecord): { targetSymbols: () => string[]; materializeNow: string[] } {
    const { info } = record.module;
    const symbols = new Map<string, ModuleSymbol>();
    for (const e of info.exports) {
      const flags = e.kind === 'function' ? JITSymbolFlags.ExportedCallable : JITSymbolFlags.of('Exported');
      symbols.set(e.name, { flags, kind: e.kind, type: e.type, ref: { kind: e.kind, index: e.index } });
    }
    const init = initSymbolName(record.id);
    symbols.set(init, { flags: JITSymbolFlags.None, kind: 'module', ref: undefined });
    record.targetJD.define(new WholeModuleMaterializationUnit(record, this.reoptimizer, symbols), record.tracker);
    const targetSymbols = [...symbols.keys()];
    return { targetSymbols: () => targetSymbols, materializeNow: info.start !== null ? [init] : [] };
  }

  /**
   * Takes back everything a refused add defined: its trackers, with one exception wasm itself
   * makes. A lazy add whose instantiation trapped (in an element segment or the start function)
   * keeps its bodies and stubs if a stub may have escaped through what the module imports (a
   * table, a funcref global, a function taking a funcref), since wasm keeps what a failed
   * instantiation stored there, and calls through it must keep working. Then only its symbols
   * leave the target dylib (ORC's JITDylib::remove, which releases no resources), and the module
   * stays, unlisted, until its dylib goes.
   */
  private async undoAdd(record: WasmModuleRecord, targetSymbols: () => readonly string[], ran: boolean): Promise<void> {
    if (ran && record.implJD && referencesMayEscape(record)) {
      record.hidden = true;
      const jd = record.targetJD;
      try {
        jd.remove(targetSymbols().filter((n) => jd.has(n)));
      } catch (err) {
        this.session.reportError(err);
      }
      return;
    }
    await Promise.all(record.trackers().map((t) => t.remove()));
    // An impl dylib this add created and nothing else uses goes too: a refused add defines nothing.
    await this.dropEmptyImpl(record);
  }

  /**
   * Defines reexports of `from`'s symbols in `dylibName` (alias -> target name). With `lazy`,
   * functions become lazy reexports: stubs that look the target up on first call.
   */
  async addReexports(
    dylibName: string,
    fromName: string,
    aliases: ReadonlyMap<string, string>,
    lazy: boolean,
  ): Promise<{ entries: SymbolTableEntry[]; tracker: ResourceTracker }> {
    const jd = this.getDylib(dylibName);
    this.checkChangeable(jd);
    const from = this.getDylib(fromName);
    const map = buildSimpleReexportsAliasMap(from, aliases);
    jd.checkCanDefine(map.keys());
    const lazyOnes = new Map([...map].filter(([, e]) => lazy && e.kind === 'function'));
    const plain = new Map([...map].filter(([n]) => !lazyOnes.has(n)));
    // A tracker of their own, so the definition can be taken back as a whole.
    const tracker = jd.createResourceTracker();
    if (lazyOnes.size > 0) jd.define(lazyReexports(this.lctm, this.stubs, from, lazyOnes, `reexports of ${from.name}`), tracker);
    if (plain.size > 0) jd.define(reexports(from, plain), tracker);
    const entries = [...map.keys()].map((n) => jd.entry(n) as SymbolTableEntry);
    for (const e of entries) {
      const aliasee = map.get(e.name)?.aliasee as string;
      setSymbolTarget(e, { jd: from, name: aliasee, lazy: lazyOnes.has(e.name) });
    }
    return { entries, tracker };
  }

  /**
   * What an alias, reexport or lazy reexport leads to, whether that is compiled yet, and for a
   * compiled lazy body its tier.
   */
  targetOf(entry: SymbolTableEntry): (SymbolTarget & { readonly compiled: boolean; readonly tier?: Tier }) | undefined {
    const t = symbolTarget(entry);
    if (!t) return undefined;
    const body = t.jd.entry(t.name);
    const compiled = body !== undefined && body.state >= SymbolState.Resolved && !body.error;
    if (!compiled || !t.lazy || this.implOf(t.jd) === undefined) return { ...t, compiled };
    const optimized = t.jd.entry(`${t.name} (optimized)`);
    const tier: Tier = optimized !== undefined && optimized.state === SymbolState.Ready && !optimized.error ? 'optimized' : 'baseline';
    return { ...t, compiled, tier };
  }

  // ---- lookup and execution ----

  /** Looks names up through the dylib's link order (exported symbols only); all or nothing. Compiles no lazy body. */
  lookup(dylibName: string, names: readonly string[]): Promise<LookupResult> {
    const jd = this.getDylib(dylibName);
    return this.session.lookup(publicOrder(jd), names);
  }

  /**
   * Calls a function found through the dylib's link order. `decodeArgs` turns the caller's
   * arguments into exact values once the signature is known. The call runs in the executor; its
   * first call through a lazy stub compiles the body. The time limit covers all of it: looking
   * up, compiling and running.
   */
  invoke(
    dylibName: string,
    symbol: string,
    decodeArgs: (type: FuncType) => WasmValue[],
    opts: { timeoutMs?: number | undefined } = {},
  ): Promise<InvokeOutcome> {
    const ctx = new InvokeContext();
    // Not an async function around this one: the call's own promise is the only one.
    return this.currentInvoke.run(ctx, async () => {
      const jd = this.getDylib(dylibName);
      this.counters.invokes++;
      const timeoutMs = Math.min(opts.timeoutMs ?? this.config.callTimeoutMs, this.config.maxCallTimeoutMs);
      const began = performance.now();
      // The limit covers looking up, compiling and running, not the executor's boot or the
      // compile thread's start that the call happened to wait for (StartupWindows.ts).
      const deadline = () => began + timeoutMs + startupTimeSince(began, [this.optimizer.startups, this.executor.startups]);
      const order = publicOrder(jd);
      let def = this.session.lookupReady(order, symbol);
      if (def === undefined) {
        try {
          def = await beforeDeadline(this.session.lookupOne(order, symbol), deadline, timeoutMs);
        } catch (err) {
          if (err instanceof ExecutionTimeout) this.counters.timeouts++;
          throw limitHit(err);
        }
      }
      const { kind, type } = def.entry.info;
      if (kind !== 'function') throw new TypeMismatch(`"${symbol}" is a ${kind}, not a function.`);
      const args = decodeArgs(type as FuncType);
      const remaining = deadline() - performance.now();
      try {
        if (remaining <= 0) throw new ExecutionTimeout(timeoutMs);
        const r = await this.executor.invoke(def.address, type as FuncType, args, { timeoutMs: remaining });
        return { results: r.results, output: r.output, runMs: r.runMs, compiled: ctx.compiled, compileMs: ctx.compileMs };
      } catch (err) {
        // The executor had the time left; the client asked for (or got) the whole limit.
        if (err instanceof ExecutionTimeout) {
          this.counters.timeouts++;
          throw new ExecutionTimeout(timeoutMs);
        }
        if (err instanceof JITError && err.code === 'Trap') this.counters.traps++;
        // A body the call reached was compiled but could not be linked in the executor: the call
        // needed code it cannot have.
        if (err instanceof ExecutorLinkError) throw new FailedToMaterialize([{ dylib: jd.name, name: symbol }], err);
        // A body the call needed could not be compiled within a configured limit: say which.
        throw limitHit(err);
      }
    });
  }

  private readonly compileObservers: ((e: CompileEvent) => void)[] = [];

  /** Calls `observer` for every piece compiled and linked (metrics). */
  onCompile(observer: (e: CompileEvent) => void): void {
    this.compileObservers.push(observer);
  }

  private onCompiled(e: CompileEvent): void {
    for (const o of this.compileObservers) o(e);
    if (e.kind === 'optimized') this.counters.reoptimizations++;
    else {
      this.counters.compiles++;
      this.counters.compiledFunctions += e.names.length;
    }
    this.counters.compiledBytes += e.bytes;
    this.counters.compileMs += e.ms;
    this.currentInvoke.getStore()?.record(e);
  }

  /** Finds a memory, global or table symbol (exported, through the link order) and checks its kind. */
  async lookupData(dylibName: string, symbol: string, kind: 'memory' | 'global' | 'table') {
    const def = await this.session.lookupOne(publicOrder(this.getDylib(dylibName)), symbol);
    if (def.entry.info.kind !== kind) throw new TypeMismatch(`"${symbol}" is a ${def.entry.info.kind}, not a ${kind}.`);
    return def;
  }

  async readMemory(dylibName: string, symbol: string, offset: number, length: number | undefined) {
    const def = await this.lookupData(dylibName, symbol, 'memory');
    return this.executor.readMemory(def.address, offset, length);
  }

  async writeMemory(dylibName: string, symbol: string, offset: number, bytes: Uint8Array): Promise<void> {
    const def = await this.lookupData(dylibName, symbol, 'memory');
    await this.executor.writeMemory(def.address, offset, bytes);
  }

  /** A resolved global's current value; undefined while it is not resolved. */
  async globalValue(entry: SymbolTableEntry): Promise<WasmValue | undefined> {
    if (entry.info.kind !== 'global' || entry.state < SymbolState.Ready || entry.address === undefined || entry.error) return undefined;
    return this.executor.readGlobal(entry.address as ExecutorAddr, entry.info.type as GlobalType);
  }

  /** The session as text, each lazy reexport annotated with its body and whether it is compiled. */
  dumpText(): string {
    return this.session.dumpText((e) => {
      const t = this.targetOf(e);
      if (!t) return e.info.flags.isExported || e.info.kind === 'module' ? undefined : '(hidden)';
      const arrow = `-> ${t.jd.name}:${JSON.stringify(t.name)}`;
      const hidden = e.info.flags.isExported ? '' : ' (hidden)';
      return (t.lazy ? `(lazy ${arrow}, ${t.compiled ? (t.tier ? `compiled, ${t.tier}` : 'compiled') : 'not compiled'})` : `(alias ${arrow})`) + hidden;
    });
  }
}

const SPECTEST = 'spectest';

/** A request to change a built-in dylib. */
export class BuiltinDylib extends JITError {
  readonly code = 'BadRequest';
  readonly dylib: string;
  constructor(dylib: string) {
    super(`"${dylib}" is the built-in host dylib: it cannot be changed or removed.`);
    this.dylib = dylib;
  }
  override details() {
    return { dylib: this.dylib };
  }
}

/** The number in a module id `m<n>`. */
function moduleNumber(id: string): number {
  const m = /^m([0-9]+)$/.exec(id);
  return m ? Number(m[1]) : 0;
}

/**
 * `p`, or ExecutionTimeout once `deadline()` (performance.now() time) passes first. The deadline
 * can move later while `p` runs (startups the call waits for are not charged to it), so the
 * timer looks at it again when it fires.
 */
function beforeDeadline<T>(p: Promise<T>, deadline: () => number, limitMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      const left = deadline() - performance.now();
      if (left <= 0) reject(new ExecutionTimeout(limitMs));
      else timer = setTimeout(check, left);
    };
    check();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Whether a failed add got as far as running the module's instantiation (segments, start). */
function instantiationRan(cause: unknown): boolean {
  return cause instanceof JITError && (cause.code === 'Trap' || cause.code === 'StackOverflow' || cause.code === 'ExecutionTimeout');
}

/**
 * Whether a reference to one of the module's functions can outlive its failed instantiation:
 * through a table or a funcref global it imports, or a funcref passed to a function it imports.
 */
function referencesMayEscape(record: WasmModuleRecord): boolean {
  return record.module.info.imports.some(
    (imp) =>
      imp.kind === 'table' ||
      (imp.kind === 'global' && (imp.type as GlobalType).type === 'funcref') ||
      (imp.kind === 'function' && (imp.type as FuncType).params.includes('funcref')),
  );
}

/**
 * A failed add reports what went wrong at instantiation itself: a trap in the start function
 * is a Trap, not a failure to materialize the module's symbols.
 */
function unwrapInstantiationError(err: unknown): unknown {
  let e = err;
  while (e instanceof FailedToMaterialize) {
    if (e.cause instanceof JITError && (e.cause.code === 'Trap' || e.cause.code === 'StackOverflow' || e.cause.code === 'ExecutionTimeout')) return e.cause;
    if (e.cause instanceof InvalidModule || e.cause instanceof ResourceExhausted) return e.cause;
    e = e.cause;
  }
  return err;
}

export { IMPL_SUFFIX };
