// LazyJIT is the facade in the spirit of ORC's LLLazyJIT: one ExecutionSession, one executor,
// and the layers that add wasm modules lazily (CompileOnDemandLayer) or eagerly (one unit per
// module), look symbols up through link orders, and invoke functions with exact values. It
// knows nothing of HTTP; the service layer turns its results into the API's shapes.

import { absoluteSymbols, type AbsoluteSymbol } from '../core/AbsoluteSymbols.ts';
import { DylibNotFound, FailedToMaterialize, InvalidModule, JITError, ResourceExhausted, TypeMismatch } from '../core/errors.ts';
import { ExecutionSession, type LookupResult } from '../core/ExecutionSession.ts';
import type { JITDylib, JITDylibSearchOrder, SymbolTableEntry } from '../core/JITDylib.ts';
import { buildSimpleReexportsAliasMap, reexports } from '../core/ReExports.ts';
import { JITSymbolFlags, SymbolState } from '../core/SymbolFlags.ts';
import { ExecutorLinkError } from '../executor/errors.ts';
import { Executor } from '../executor/Executor.ts';
import type { ExecutorAddr } from '../executor/protocol.ts';
import type { ImportInfo } from '../wasm/index.ts';
import { WasmCompiler } from './WasmCompiler.ts';
import type { FuncType, GlobalType, WasmValue } from '../wasm/types.ts';
import { AddressSpace } from './AddressSpace.ts';
import { BudgetedLinkingLayer, CodeBudget, limitHit } from './CodeBudget.ts';
import { CompileOnDemandLayer, initSymbolName, type PerDylibResources } from './CompileOnDemandLayer.ts';
import type { CompileEvent } from './CompileObserver.ts';
import { IndirectStubsManager } from './IndirectStubsManager.ts';
import { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import { ReOptimizeLayer, type Tier } from './ReOptimizeLayer.ts';
import { lazyReexports } from './LazyReexports.ts';
import { ModuleMemories } from './ModuleMemories.ts';
import { publicOrder } from './publicOrder.ts';
import { WasmLinkingLayer } from './WasmLinkingLayer.ts';
import { WasmModuleRecord, type ModuleOptions } from './WasmModuleRecord.ts';
import { WholeModuleMaterializationUnit } from './WholeModuleMaterializationUnit.ts';

export interface LazyJITOptions {
  /** Cap on every defined linear memory's size, in 64 KiB pages. */
  readonly memoryMaxPages: number;
  /** Cap on every defined table's size, in elements. */
  readonly tableMaxElements: number;
  /** Cap on all linear memories of the session together, in 64 KiB pages. */
  readonly sessionMemoryLimitPages: number;
  /** Cap on the bytes of wasm the session has compiled and holds. */
  readonly sessionCodeLimitBytes: number;
  /** Heap limit of the executor thread (its JavaScript objects, not linear memory), in MB. */
  readonly executorHeapLimitMb: number;
  readonly maxModuleBytes: number;
  readonly maxFunctionsPerModule: number;
  readonly callTimeoutMs: number;
  readonly maxCallTimeoutMs: number;
  /** Entries after which a lazily compiled function is re-optimized with its callees; 0: never. */
  readonly reoptimizeThreshold: number;
  /** Most functions compiled into one re-optimized piece. */
  readonly reoptimizeMaxFunctions: number;
}

export const defaultLazyJITOptions: LazyJITOptions = {
  memoryMaxPages: 16384,
  tableMaxElements: 10_000_000,
  sessionMemoryLimitPages: 65536,
  sessionCodeLimitBytes: 256 * 1024 * 1024,
  executorHeapLimitMb: 2048,
  maxModuleBytes: 32 * 1024 * 1024,
  maxFunctionsPerModule: 100_000,
  callTimeoutMs: 5_000,
  maxCallTimeoutMs: 30_000,
  reoptimizeThreshold: 1000,
  reoptimizeMaxFunctions: 32,
};

export type ModuleSource = { readonly wat: string } | { readonly wasm: Uint8Array };

export interface AddedModule {
  readonly id: string;
  readonly name?: string | undefined;
  readonly lazy: boolean;
  /** The module's exported symbols in its dylib, as entries of the symbol table. */
  readonly symbols: readonly SymbolTableEntry[];
  /** Function imports that resolved nowhere when linked (at add, or for an eager module at its first lookup); each call tries again. */
  readonly lateImports: readonly ImportInfo[];
  /** Function imports that resolve nowhere at the end of the add, lazy or eager (API v2 `unresolvedImports`). */
  readonly unresolvedImports: readonly ImportInfo[];
}

export interface SymbolTarget {
  readonly jd: JITDylib;
  readonly name: string;
  /** A lazy reexport (a stub whose body compiles on first call) rather than a plain alias. */
  readonly lazy: boolean;
}

export interface InvokeOutcome {
  readonly results: readonly WasmValue[];
  readonly compiled: readonly string[];
  readonly output: readonly string[];
  readonly compileMs: number;
  readonly runMs: number;
}

export interface JITCounters {
  compiles: number;
  compiledFunctions: number;
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

const implSuffix = '.impl';

export class LazyJIT {
  readonly session = new ExecutionSession();
  readonly executor: Executor;
  readonly options: LazyJITOptions;
  readonly counters: JITCounters = { compiles: 0, compiledFunctions: 0, compileMs: 0, reoptimizations: 0, invokes: 0, traps: 0, timeouts: 0 };
  private readonly addresses: AddressSpace;
  private readonly linker: WasmLinkingLayer;
  readonly codeBudget: CodeBudget;
  private readonly memories: ModuleMemories;
  private readonly lctm: LazyCallThroughManager;
  /** Parsing and compiling happen in the compile thread, off the event loop. */
  private readonly compiler = WasmCompiler.shared();
  /** Stubs of function imports that resolved nowhere when their module was added. */
  private readonly importStubs: IndirectStubsManager;
  private readonly cod: CompileOnDemandLayer;
  private readonly reoptimizer: ReOptimizeLayer;
  private readonly resources = new Map<JITDylib, PerDylibResources>();
  private readonly modules = new Map<JITDylib, WasmModuleRecord[]>();
  private readonly targets = new Map<JITDylib, Map<string, SymbolTarget>>();
  private nextModuleId = 1;
  /** The invoke whose lazy call-through is being served, if any. */
  private callThroughContext: InvokeContext | undefined;
  /** Invokes still looking their function up (that may compile an eager module). */
  private readonly lookingUp = new Set<InvokeContext>();

  private constructor(executor: Executor, options: LazyJITOptions) {
    this.executor = executor;
    this.options = options;
    const host = executor.hostSymbols();
    const hooks = Object.values(executor.hookAddresses());
    const firstSlot = Math.max(0, ...hooks, ...host.filter((h) => h.kind === 'function').map((h) => h.addr)) + 1;
    const dataHandles = host.filter((h) => h.kind !== 'function').map((h) => h.addr);
    this.addresses = new AddressSpace(firstSlot, dataHandles.length > 0 ? Math.max(...dataHandles) + 1 : undefined);
    this.lctm = new LazyCallThroughManager(this.session);
    this.codeBudget = new CodeBudget(options.sessionCodeLimitBytes);
    this.memories = new ModuleMemories(executor, this.addresses);
    this.linker = new BudgetedLinkingLayer(this.codeBudget, this.session, executor, this.addresses, (record, imp) =>
      this.bindLateImport(record, imp),
    );
    this.importStubs = new IndirectStubsManager(executor, this.addresses, (err) => this.session.reportError(err));
    const observer = (e: CompileEvent) => this.onCompiled(e);
    this.reoptimizer = new ReOptimizeLayer(
      this.session,
      this.linker,
      this.lctm,
      observer,
      { threshold: options.reoptimizeThreshold, maxFunctions: options.reoptimizeMaxFunctions },
      (jd) => this.resources.get(jd)?.stubs,
    );
    this.cod = new CompileOnDemandLayer(this.session, this.linker, this.lctm, observer, (jd) => this.getResources(jd), this.reoptimizer);
    executor.setCallThroughHandler((id, tag) => this.callThrough(id, tag));

    const spectest = this.session.createJITDylib('spectest');
    const defs = new Map<string, AbsoluteSymbol>();
    for (const h of host) {
      const flags = h.kind === 'function' ? JITSymbolFlags.ExportedCallable : JITSymbolFlags.of('Exported');
      defs.set(h.name, { address: h.addr, flags, kind: h.kind, type: h.type });
    }
    spectest.define(absoluteSymbols(defs));
  }

  static async create(options: Partial<LazyJITOptions> = {}): Promise<LazyJIT> {
    const opts = { ...defaultLazyJITOptions, ...options };
    const executor = await Executor.start({
      memoryLimitMb: opts.executorHeapLimitMb,
      sessionMemoryLimitPages: opts.sessionMemoryLimitPages,
      // A start function runs like a call, under the same limit.
      startTimeoutMs: opts.callTimeoutMs,
    });
    return new LazyJIT(executor, opts);
  }

  async close(): Promise<void> {
    await this.executor.close();
    for (const records of this.modules.values()) for (const r of records) r.dispose();
    this.modules.clear();
  }

  // ---- dylibs ----

  getDylib(name: string): JITDylib {
    return this.session.getJITDylib(name);
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

  /** Removes a dylib, its implementation dylib, its modules and its executor state. */
  async removeDylib(name: string): Promise<void> {
    const jd = this.getDylib(name);
    const impl = this.resources.get(jd)?.implJD;
    const released: ExecutorAddr[] = [];
    for (const d of impl ? [jd, impl] : [jd]) {
      for (const r of this.modules.get(d) ?? []) {
        released.push(...r.allocated, ...this.importStubs.release(r.lateImportStubs));
        this.codeBudget.release(r);
        r.dispose();
      }
      this.modules.delete(d);
      this.targets.delete(d);
      this.lctm.releaseFor(d);
      this.session.removeJITDylib(d);
    }
    const stubs = this.resources.get(jd)?.stubs;
    if (stubs) released.push(...stubs.allocatedAddresses());
    this.resources.delete(jd);
    // Removing an impl dylib by itself: its target's next lazy add makes a new one, and calls
    // into the removed bodies fail (their trampolines are gone).
    const target = this.implOf(jd);
    if (target) this.resources.delete(target);
    // A memory, table or global another dylib's module still imports stays (a memory still
    // counting) until that module goes too (ModuleMemories).
    const now = this.memories.releasable(released, [...this.modules.values()].flat());
    this.addresses.release(now);
    if (now.length > 0) await this.executor.apply({ op: 'release', addrs: now });
  }

  implDylibOf(jd: JITDylib): JITDylib | undefined {
    return this.resources.get(jd)?.implJD;
  }

  /** The dylib whose implementation dylib `jd` is, if it is one. */
  implOf(jd: JITDylib): JITDylib | undefined {
    for (const [target, res] of this.resources) if (res.implJD === jd) return target;
    return undefined;
  }

  modulesOf(jd: JITDylib): readonly WasmModuleRecord[] {
    return this.modules.get(jd) ?? [];
  }

  /** ORC's per-dylib resources: the impl dylib (link order copied from the target) and stubs. */
  private getResources(jd: JITDylib): PerDylibResources {
    let res = this.resources.get(jd);
    if (!res) {
      const implJD = this.session.createJITDylib(jd.name + implSuffix);
      implJD.setLinkOrder(jd.getLinkOrder(), false);
      res = { implJD, stubs: new IndirectStubsManager(this.executor, this.addresses, (err) => this.session.reportError(err)) };
      this.resources.set(jd, res);
    }
    return res;
  }

  // ---- modules ----

  /**
   * A function import that resolves nowhere when its module is added gets a stub that looks it
   * up on each call until it resolves: calling it before it is defined fails with
   * FailedToMaterialize naming it, and defining it later makes the calls work.
   */
  private bindLateImport(record: WasmModuleRecord, imp: ImportInfo): ExecutorAddr {
    const name = `${record.id}:import[${JSON.stringify(imp.module)} ${JSON.stringify(imp.name)}]`;
    const resolve = async () => {
      try {
        return await this.linker.resolveImport(record, imp, new Map(), false);
      } catch (err) {
        throw new FailedToMaterialize([{ dylib: record.targetJD.name, name: imp.name }], err);
      }
    };
    const id = this.lctm.getCustomTrampoline(record.targetJD, resolve, (addr) => this.importStubs.updatePointer(name, addr));
    const stub = this.importStubs.createStubs([{ name, type: imp.type as FuncType, callThroughId: id }]).get(name);
    if (!stub) throw new Error(`no stub created for ${name}`);
    record.lateImports.push(imp);
    record.lateImportStubs.push(name);
    return stub.stubAddr;
  }

  /**
   * Parses, validates and adds a module. Lazily (the default) that defines the globals
   * module, the lazy reexports and the bodies, and instantiates the globals module (running
   * the start function); no function body is compiled. Eagerly, the whole module is one unit,
   * compiled on first lookup (at once if it has a start function). Nothing is defined if any
   * step fails.
   */
  async addModule(dylibName: string, source: ModuleSource, opts: Partial<ModuleOptions> = {}): Promise<AddedModule> {
    const jd = this.getDylib(dylibName);
    const options: ModuleOptions = { lazy: opts.lazy ?? true, optimize: opts.optimize ?? 2, partition: opts.partition ?? 'function', name: opts.name };
    const size = 'wasm' in source ? source.wasm.byteLength : source.wat.length;
    if (size > this.options.maxModuleBytes) {
      throw new ResourceExhausted('moduleBytes', `The module is ${size} bytes; the limit is ${this.options.maxModuleBytes}.`);
    }
    const parsed = await this.compiler.parse(source, { memoryMaxPages: this.options.memoryMaxPages, tableMaxElements: this.options.tableMaxElements });
    const definedFunctions = parsed.info.functions.filter((f) => !f.imported).length;
    if (definedFunctions > this.options.maxFunctionsPerModule) {
      parsed.dispose();
      throw new ResourceExhausted('functionsPerModule', `The module defines ${definedFunctions} functions; the limit is ${this.options.maxFunctionsPerModule}.`);
    }
    const id = `m${this.nextModuleId++}`;
    const kept = new Set(parsed.info.functions.filter((f) => !f.imported && f.usesSegments).map((f) => f.index));
    const hadResources = this.resources.has(jd);
    let implJD: JITDylib | undefined;
    try {
      // DylibExists when a dylib named like the impl dylib exists and is not this one's.
      implJD = options.lazy ? this.getResources(jd).implJD : undefined;
    } catch (err) {
      parsed.dispose();
      throw err;
    }
    const record = new WasmModuleRecord(id, options, this.compiler, parsed, jd, implJD, kept);
    try {
      await this.linker.checkDataImports(record).catch((err: unknown) => {
        throw new FailedToMaterialize([{ dylib: jd.name, name: initSymbolName(id) }], err);
      });
      await this.memories.create(record);
    } catch (err) {
      parsed.dispose();
      if (!hadResources) await this.dropUnusedResources(jd);
      throw err;
    }

    let defined: { target: string[]; impl: string[]; materializeNow: string[] };
    try {
      defined = options.lazy ? this.defineLazy(record) : this.defineEager(record);
    } catch (err) {
      this.discardRecord(record);
      if (!hadResources) await this.dropUnusedResources(jd);
      throw err;
    }
    this.addRecord(jd, record);
    if (defined.materializeNow.length > 0) {
      try {
        await this.session.lookup([{ jd, flags: 'MatchAllSymbols' }], defined.materializeNow);
      } catch (err) {
        const cause = unwrapInstantiationError(err);
        this.undoAdd(record, defined.target, defined.impl, instantiationRan(cause));
        if (!hadResources) await this.dropUnusedResources(jd);
        throw cause;
      }
    }
    const symbols = defined.target
      .map((n) => jd.entry(n))
      .filter((e): e is SymbolTableEntry => e !== undefined && e.info.flags.isExported);
    const unresolvedImports = record.parsed.info.imports.filter((imp) => imp.kind === 'function' && !this.linker.findImport(record, imp));
    return { id, name: options.name, lazy: options.lazy, symbols, lateImports: record.lateImports, unresolvedImports };
  }

  private defineLazy(record: WasmModuleRecord) {
    const def = this.cod.add(record);
    const targets = this.targetsOf(record.targetJD);
    for (const [name, t] of def.targets) targets.set(name, t);
    return { target: [...def.targetSymbols], impl: [...def.implSymbols], materializeNow: [...def.globalsSymbols] };
  }

  private defineEager(record: WasmModuleRecord) {
    const { info } = record.parsed;
    const symbols = new Map<string, { flags: JITSymbolFlags; kind: SymbolTableEntry['info']['kind']; type?: SymbolTableEntry['info']['type']; exportName: string | undefined }>();
    for (const e of info.exports) {
      const flags = e.kind === 'function' ? JITSymbolFlags.ExportedCallable : JITSymbolFlags.of('Exported');
      symbols.set(e.name, { flags, kind: e.kind, type: e.type, exportName: e.name });
    }
    const init = initSymbolName(record.id);
    symbols.set(init, { flags: JITSymbolFlags.None, kind: 'module', exportName: undefined });
    record.targetJD.define(new WholeModuleMaterializationUnit(record, this.linker, symbols, (e) => this.onCompiled(e)));
    return { target: [...symbols.keys()], impl: [], materializeNow: info.start !== null ? [init] : [] };
  }

  private addRecord(jd: JITDylib, record: WasmModuleRecord): void {
    let list = this.modules.get(jd);
    if (!list) this.modules.set(jd, (list = []));
    list.push(record);
  }

  /** Takes back everything a failed add defined; `ran`: its instantiation began (and may have stored references). */
  private undoAdd(record: WasmModuleRecord, target: readonly string[], impl: readonly string[], ran: boolean): void {
    const remove = (jd: JITDylib | undefined, names: readonly string[]) => {
      if (!jd) return;
      try {
        jd.remove(names.filter((n) => jd.entry(n)));
      } catch (err) {
        this.session.reportError(err);
      }
    };
    remove(record.targetJD, target);
    // Bodies whose stubs exist stay if a stub can have escaped the failed instance: wasm lets
    // element segments and the start function store references in an imported table (or pass
    // them out) before the instantiation traps, and calls through them must keep working.
    // Otherwise nothing can reach them, and the add leaves nothing behind.
    const stubs = this.resources.get(record.targetJD)?.stubs;
    const kept = new Set(ran && referencesMayEscape(record) ? impl.filter((n) => stubs?.findStub(n)) : []);
    remove(record.implJD, impl.filter((n) => !kept.has(n)));
    const targets = this.targets.get(record.targetJD);
    for (const n of target) targets?.delete(n);
    const list = this.modules.get(record.targetJD);
    if (list) list.splice(list.indexOf(record), 1);
    if (kept.size > 0 && record.implJD) {
      // The kept bodies may still be compiled from this module: it now lives in the impl dylib.
      this.addRecord(record.implJD, record);
      return;
    }
    this.discardRecord(record);
  }

  /** Takes back the impl dylib (and stubs) a failed add created, when nothing is left in it. */
  private async dropUnusedResources(jd: JITDylib): Promise<void> {
    const res = this.resources.get(jd);
    if (!res || [...res.implJD.symbols()].length > 0 || (this.modules.get(res.implJD)?.length ?? 0) > 0) return;
    this.resources.delete(jd);
    this.lctm.releaseFor(res.implJD);
    this.session.removeJITDylib(res.implJD);
    const released = res.stubs.allocatedAddresses();
    this.addresses.release(released);
    if (released.length > 0) await this.executor.apply({ op: 'release', addrs: released });
  }

  /** Disposes a record nothing refers to: its addresses, memory and code go back. */
  private discardRecord(record: WasmModuleRecord): void {
    const released = this.memories.releasable([...record.allocated, ...this.importStubs.release(record.lateImportStubs)], [...this.modules.values()].flat());
    this.addresses.release(released);
    if (released.length > 0) {
      this.executor.apply({ op: 'release', addrs: released }).catch((err: unknown) => this.session.reportError(err));
    }
    this.codeBudget.release(record);
    record.dispose();
  }

  /**
   * Defines reexports of `from`'s symbols in `dylibName` (alias → target name). With `lazy`,
   * functions become lazy reexports: stubs that look the target up on first call.
   */
  async addReexports(dylibName: string, fromName: string, aliases: ReadonlyMap<string, string>, lazy: boolean): Promise<SymbolTableEntry[]> {
    const jd = this.getDylib(dylibName);
    const from = this.getDylib(fromName);
    const map = buildSimpleReexportsAliasMap(from, aliases);
    jd.checkCanDefine(map.keys());
    const lazyOnes = new Map([...map].filter(([, e]) => lazy && e.kind === 'function'));
    const plain = new Map([...map].filter(([n]) => !lazyOnes.has(n)));
    if (lazyOnes.size > 0) jd.define(lazyReexports(this.lctm, this.getResources(jd).stubs, from, lazyOnes, `reexports of ${from.name}`));
    if (plain.size > 0) jd.define(reexports(from, plain));
    const targets = this.targetsOf(jd);
    for (const [alias, e] of map) targets.set(alias, { jd: from, name: e.aliasee, lazy: lazyOnes.has(alias) });
    return [...map.keys()].map((n) => jd.entry(n) as SymbolTableEntry);
  }

  private targetsOf(jd: JITDylib): Map<string, SymbolTarget> {
    let t = this.targets.get(jd);
    if (!t) this.targets.set(jd, (t = new Map()));
    return t;
  }

  /**
   * What an alias, reexport or lazy reexport leads to, whether that is compiled yet, and for a
   * compiled lazy body its tier.
   */
  targetOf(entry: SymbolTableEntry): (SymbolTarget & { readonly compiled: boolean; readonly tier?: Tier }) | undefined {
    const t = this.targets.get(entry.jd)?.get(entry.name);
    if (!t) return undefined;
    const body = t.jd.entry(t.name);
    const compiled = body !== undefined && body.state >= SymbolState.Resolved && !body.error;
    const isBody = t.lazy && this.implOf(t.jd) !== undefined;
    return compiled && isBody ? { ...t, compiled, tier: this.reoptimizer.tierOf(t.jd, t.name) } : { ...t, compiled };
  }

  // ---- lookup and execution ----

  /** Looks names up through the dylib's link order; all or nothing. Compiles no lazy body. */
  lookup(dylibName: string, names: readonly string[]): Promise<LookupResult> {
    const jd = this.getDylib(dylibName);
    return this.session.lookup(publicOrder(jd), names);
  }

  /**
   * Calls a function found through the dylib's link order. `decodeArgs` turns the caller's
   * arguments into exact values once the signature is known. The call runs in the executor;
   * its first call through a lazy stub compiles the body.
   */
  async invoke(
    dylibName: string,
    symbol: string,
    decodeArgs: (type: FuncType) => WasmValue[],
    opts: { timeoutMs?: number | undefined } = {},
  ): Promise<InvokeOutcome> {
    const jd = this.getDylib(dylibName);
    const ctx = new InvokeContext();
    this.counters.invokes++;
    this.lookingUp.add(ctx);
    let def;
    try {
      def = await this.session.lookupOne(publicOrder(jd), symbol);
    } catch (err) {
      throw limitHit(err);
    } finally {
      this.lookingUp.delete(ctx);
    }
    const { kind, type } = def.entry.info;
    if (kind !== 'function') throw new TypeMismatch(`"${symbol}" is a ${kind}, not a function.`);
    const args = decodeArgs(type as FuncType);
    const timeoutMs = Math.min(opts.timeoutMs ?? this.options.callTimeoutMs, this.options.maxCallTimeoutMs);
    try {
      const r = await this.executor.invoke(def.address, type as FuncType, args, { timeoutMs, tag: ctx });
      return { results: r.results, output: r.output, runMs: r.runMs, compiled: ctx.compiled, compileMs: ctx.compileMs };
    } catch (err) {
      if (err instanceof JITError && err.code === 'Trap') this.counters.traps++;
      if (err instanceof JITError && err.code === 'ExecutionTimeout') this.counters.timeouts++;
      // A body the call reached was compiled but could not be linked in the executor (its
      // instantiation is not awaited inside a call-through): the call needed code it cannot have.
      if (err instanceof ExecutorLinkError) throw new FailedToMaterialize([{ dylib: jd.name, name: symbol }], err);
      // A body the call needed could not be compiled within a configured limit: say which.
      throw limitHit(err);
    }
  }

  private async callThrough(id: number, tag: unknown): Promise<void> {
    this.callThroughContext = tag instanceof InvokeContext ? tag : undefined;
    try {
      await this.lctm.callThrough(id);
    } finally {
      this.callThroughContext = undefined;
    }
  }

  private onCompiled(e: CompileEvent): void {
    if (e.kind === 'reoptimize') this.counters.reoptimizations += e.names.length;
    else {
      this.counters.compiles++;
      this.counters.compiledFunctions += e.names.length;
    }
    this.counters.compileMs += e.ms;
    if (this.callThroughContext) this.callThroughContext.record(e);
    else for (const ctx of this.lookingUp) ctx.record(e);
  }

  /** Finds a memory, global or table symbol and checks its kind. */
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
    return this.executor.readGlobal(entry.address, entry.info.type as GlobalType);
  }

  /** The session as text, each lazy reexport annotated with its body and whether it is compiled. */
  dumpText(): string {
    return this.session.dumpText((e) => {
      const t = this.targetOf(e);
      if (!t) return undefined;
      const arrow = `-> ${t.jd.name}:${JSON.stringify(t.name)}`;
      return t.lazy ? `(lazy ${arrow}, ${t.compiled ? t.tier ? `compiled, ${t.tier}` : 'compiled' : 'not compiled'})` : `(alias ${arrow})`;
    });
  }
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
  return record.parsed.info.imports.some(
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
