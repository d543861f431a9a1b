// The ReOptimizeLayer re-optimizes hot code, as ORC's ReOptimizeLayer does. Its `emit` gives
// every baseline body an entry counter (one global increment per call); the entry that reaches
// the threshold calls the executor's reoptimize hook, which tells this layer and lets the call go
// on at once in the baseline code. Beside the program, this layer then compiles the function's
// optimized tier (the function and the callees it reaches, in one piece where binaryen can
// inline them), defines it as a hidden symbol `<body> (optimized)` in the implementation dylib
// under the module's tracker (so removal takes it like anything else), looks it up through the
// layer chain, and points the function's stub at it: invokes, callers and tables reach it from
// their next call on, and code compiled later links straight to it.
//
// The compiled callers of a hot function in its module are re-optimized with it. A stub's cost
// is paid at the call site, and the caller that makes a callee hot may be entered only once (a
// loop): re-optimizing the callee alone would leave every one of those calls in place.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../core/MaterializationUnit.ts';
import type { ResourceKey, ResourceManager } from '../core/ResourceTracker.ts';
import { JITSymbolFlags } from '../core/SymbolFlags.ts';
import type { EntryCounters } from '../wasm/index.ts';
import type { IndirectStubsManager } from './IndirectStubsManager.ts';
import type { PieceLayer, PieceRequest } from './PieceRequest.ts';
import { resourceKey } from './resourceKey.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export interface ReOptimizeOptions {
  /** Entries that make a function hot; 0 turns re-optimization off. */
  readonly threshold: number;
  /** Most functions compiled into one optimized piece. */
  readonly maxFunctions: number;
}

interface Hot {
  readonly record: WasmModuleRecord;
  readonly index: number;
}

/** The optimized tier of one function, as a unit of the implementation dylib. */
class OptimizedBodyUnit extends MaterializationUnit {
  private readonly base: PieceLayer;
  private readonly request: PieceRequest;

  constructor(base: PieceLayer, request: PieceRequest) {
    const [name] = request.symbols.keys();
    super(new Map([[name as string, { flags: JITSymbolFlags.of('Callable'), kind: 'function', type: request.record.module.info.functions[request.root as number]?.type }]]));
    this.base = base;
    this.request = request;
  }

  get name(): string {
    return `<Optimized tier of ${this.request.label}>`;
  }

  materialize(r: MaterializationResponsibility): Promise<void> {
    return this.base.emit(r, this.request);
  }
}

export class ReOptimizeLayer implements PieceLayer, ResourceManager {
  private readonly session: ExecutionSession;
  private readonly base: PieceLayer;
  private readonly stubs: IndirectStubsManager;
  private readonly options: ReOptimizeOptions;
  private readonly hooks = new Map<number, Hot>();
  private readonly hooksByKey = new Map<ResourceKey, number[]>();
  private nextHook = 1;
  /** Functions re-optimized (or tried: a failure is not retried), by module. */
  private readonly attempted = new WeakMap<WasmModuleRecord, Set<number>>();
  /** Re-optimizations run one at a time, in the order functions got hot. */
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Functions given an optimized tier so far. */
  reoptimized = 0;

  constructor(session: ExecutionSession, base: PieceLayer, stubs: IndirectStubsManager, options: ReOptimizeOptions) {
    this.session = session;
    this.base = base;
    this.stubs = stubs;
    this.options = options;
  }

  /** Baseline bodies get entry counters; everything else passes through. */
  emit(r: MaterializationResponsibility, request: PieceRequest): Promise<void> {
    if (request.kind !== 'bodies' || this.options.threshold <= 0 || request.record.implJD === undefined) return this.base.emit(r, request);
    return this.base.emit(r, { ...request, entryCounters: this.entryCounters(resourceKey(r), request) });
  }

  private entryCounters(key: ResourceKey, request: PieceRequest): EntryCounters {
    const ids = new Map<number, number>();
    let owned = this.hooksByKey.get(key);
    if (!owned) this.hooksByKey.set(key, (owned = []));
    for (const index of request.functions) {
      const id = this.nextHook++;
      this.hooks.set(id, { record: request.record, index });
      owned.push(id);
      ids.set(index, id);
    }
    return { threshold: this.options.threshold, ids };
  }

  /** The executor's reoptimize hook fired for `hookId`: queue the function and its compiled callers. */
  onHot(hookId: number): void {
    const hot = this.hooks.get(hookId);
    if (!hot) return; // its module was removed meanwhile
    for (const root of new Set([hot.index, ...hot.record.callersOf(hot.index)])) this.enqueue(hot.record, root);
  }

  /** Settles once every re-optimization asked for so far is done (for tests and benchmarks). */
  async whenIdle(): Promise<void> {
    while (this.pending > 0) await this.queue;
  }

  private enqueue(record: WasmModuleRecord, root: number): void {
    let attempted = this.attempted.get(record);
    if (!attempted) this.attempted.set(record, (attempted = new Set()));
    if (attempted.has(root)) return;
    attempted.add(root);
    this.pending++;
    this.queue = this.queue
      .then(() => this.optimize(record, root))
      .catch((err: unknown) => this.session.reportError(err))
      .finally(() => this.pending--);
  }

  /**
   * Compiles and links the optimized tier of `root` and points its stub at it. Never fails a
   * call: a failed re-optimization is reported and leaves the baseline in place.
   */
  private async optimize(record: WasmModuleRecord, root: number): Promise<void> {
    const impl = record.implJD;
    const tracker = record.implTracker;
    const name = record.functionSymbol(root);
    if (!impl || !tracker || tracker.isDefunct || name === undefined) return;
    const optimizedName = `${name} (optimized)`;
    const functions = reoptimizationClosure(record, root, this.options.maxFunctions);
    const request: PieceRequest = {
      kind: 'optimized',
      record,
      functions,
      root,
      symbols: new Map([[optimizedName, { kind: 'function' as const, index: root }]]),
      label: `${record.label} ${optimizedName}`,
    };
    if (impl.entry(optimizedName)) return;
    impl.define(new OptimizedBodyUnit(this.base, request), tracker);
    try {
      const def = await this.session.lookupOne([{ jd: impl, flags: 'MatchAllSymbols' }], optimizedName);
      if (tracker.isDefunct) return;
      this.reoptimized++;
      if (this.stubs.findStub(record.targetJD, name)) this.stubs.updatePointer(record.targetJD, name, def.address);
    } catch (err) {
      // The module went while its optimized tier was compiling: nothing is left to optimize.
      if (tracker.isDefunct) return;
      // Leave no failed symbol behind: the baseline stays, and the dump stays readable.
      if (impl.entry(optimizedName)) impl.remove([optimizedName]);
      throw err;
    }
  }

  async handleRemoveResources(_jd: JITDylib, key: ResourceKey): Promise<void> {
    for (const id of this.hooksByKey.get(key) ?? []) this.hooks.delete(id);
    this.hooksByKey.delete(key);
  }

  handleTransferResources(_jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void {
    const moved = this.hooksByKey.get(srcKey);
    if (!moved) return;
    this.hooksByKey.delete(srcKey);
    const dst = this.hooksByKey.get(dstKey);
    if (dst) dst.push(...moved);
    else this.hooksByKey.set(dstKey, moved);
  }
}

/**
 * The functions to compile together with `root`: it, then its direct callees breadth first, up
 * to `maxFunctions`. Functions that must live with the segments and imports stay out (they are
 * called as before). Function references need no care: a cut piece takes every ref.func through
 * an identity import, so a reference names the same funcref wherever it is made.
 */
export function reoptimizationClosure(record: WasmModuleRecord, root: number, maxFunctions: number): number[] {
  const m = record.module;
  const members = [root];
  const seen = new Set(members);
  for (let i = 0; i < members.length && members.length < maxFunctions; i++) {
    for (const callee of m.references(members[i] as number).functions) {
      if (seen.has(callee)) continue;
      seen.add(callee);
      if (callee < m.importedFunctions || record.keptFunctions.has(callee) || record.functionSymbol(callee) === undefined) continue;
      members.push(callee);
      if (members.length >= maxFunctions) break;
    }
  }
  return members;
}
