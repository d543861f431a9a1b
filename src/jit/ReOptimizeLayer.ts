// The ReOptimizeLayer re-optimizes hot code, as ORC's ReOptimizeLayer does. Bodies compiled at
// the baseline tier count their own entries (one global increment per call, see
// EntryCounters); the entry that reaches the threshold calls the executor's reoptimize hook,
// which blocks that call like a lazy call-through while this layer compiles the optimized tier
// of the function: the function and the callees it reaches, in one piece where binaryen can
// inline them. The new code replaces the old behind the function's stub (updatePointer), so
// invokes, callers and tables reach it from the next call on; the call that got hot finishes
// in the baseline code.
//
// The compiled callers of a hot function in its module are re-optimized with it. A stub's cost
// is paid at the call site, and the caller that makes a callee hot may be entered only once (a
// loop): re-optimizing the callee alone would leave every one of those calls in place.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { ExecutorAddr } from '../executor/protocol.ts';
import type { EntryCounters } from '../wasm/index.ts';
import type { CompileObserver } from './CompileObserver.ts';
import type { IndirectStubsManager } from './IndirectStubsManager.ts';
import type { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import type { WasmLinkingLayer } from './WasmLinkingLayer.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

/** How a compiled body was compiled: on its own at first call, or re-optimized with its callees. */
export type Tier = 'baseline' | 'optimized';

export interface ReOptimizeOptions {
  /** Entries that make a function hot; 0 turns re-optimization off. */
  readonly threshold: number;
  /** Most functions compiled into one optimized piece. */
  readonly maxFunctions: number;
}

export class ReOptimizeLayer {
  private readonly session: ExecutionSession;
  private readonly linker: WasmLinkingLayer;
  private readonly lctm: LazyCallThroughManager;
  private readonly observer: CompileObserver;
  private readonly options: ReOptimizeOptions;
  private readonly stubsOf: (jd: JITDylib) => IndirectStubsManager | undefined;
  /** Functions re-optimized (or tried: a failure is not retried), by module. */
  private readonly attempted = new WeakMap<WasmModuleRecord, Set<number>>();
  /** Bodies with an optimized tier, by impl dylib, for dumps. */
  private readonly optimizedBodies = new WeakMap<JITDylib, Set<string>>();

  constructor(
    session: ExecutionSession,
    linker: WasmLinkingLayer,
    lctm: LazyCallThroughManager,
    observer: CompileObserver,
    options: ReOptimizeOptions,
    stubsOf: (jd: JITDylib) => IndirectStubsManager | undefined,
  ) {
    this.session = session;
    this.linker = linker;
    this.lctm = lctm;
    this.observer = observer;
    this.options = options;
    this.stubsOf = stubsOf;
  }

  /** The counters to build into a baseline piece holding `functions`; undefined when off. */
  entryCounters(record: WasmModuleRecord, functions: readonly number[]): EntryCounters | undefined {
    const impl = record.implJD;
    if (this.options.threshold <= 0 || impl === undefined) return undefined;
    const ids = new Map<number, number>();
    for (const index of functions) {
      // The LCTM runs the hook like a call-through: it attributes the compiles to the invoke
      // that got hot, and forgets the id with the dylib.
      ids.set(index, this.lctm.getHook(impl, () => this.onHot(record, index)));
    }
    return { threshold: this.options.threshold, ids };
  }

  tierOf(impl: JITDylib, name: string): Tier {
    return this.optimizedBodies.get(impl)?.has(name) ? 'optimized' : 'baseline';
  }

  /**
   * Function `index` got hot: re-optimizes it and its compiled callers, and points their stubs
   * at the new code. Never fails the call that got hot: a failed re-optimization is reported
   * and leaves the baseline in place.
   */
  private async onHot(record: WasmModuleRecord, index: number): Promise<void> {
    for (const root of new Set([index, ...record.callersOf(index)])) {
      const addr = await this.optimize(record, root);
      if (addr !== undefined) this.repoint(record, root, addr);
    }
  }

  /** Compiles and links the optimized tier of `root`, once; undefined if tried before or failed. */
  private async optimize(record: WasmModuleRecord, root: number): Promise<ExecutorAddr | undefined> {
    let attempted = this.attempted.get(record);
    if (!attempted) this.attempted.set(record, (attempted = new Set()));
    if (attempted.has(root)) return undefined;
    attempted.add(root);
    const name = record.functionSymbol(root) as string;
    const impl = record.implJD as JITDylib;
    try {
      const started = performance.now();
      const optimizeLevel = Math.max(2, record.options.optimize);
      const piece = await record.compiler.reoptimize(record.parsed, root, { optimizeLevel, maxFunctions: this.options.maxFunctions });
      const linked = await this.linker.link(record, piece, `${record.label} ${name} (optimized)`);
      // Not awaited: this runs inside the hot call's request, while the executor waits for us.
      linked.instantiated.catch((err: unknown) => this.session.reportError(err));
      const exp = [...linked.exports.values()].find((e) => e.ref.kind === 'function' && e.ref.index === root);
      if (!exp) throw new Error(`the optimized piece of ${name} does not export it`);
      record.setOptimizedBody(root, exp.addr);
      let names = this.optimizedBodies.get(impl);
      if (!names) this.optimizedBodies.set(impl, (names = new Set()));
      names.add(name);
      this.observer({ dylib: impl.name, names: [`${name} (optimized)`], kind: 'reoptimize', ms: performance.now() - started });
      return exp.addr;
    } catch (err) {
      this.session.reportError(err);
      return undefined;
    }
  }

  /** Points function `index`'s stub (if it has one) at `addr`. */
  private repoint(record: WasmModuleRecord, index: number, addr: ExecutorAddr): void {
    const name = record.functionSymbol(index);
    const stubs = this.stubsOf(record.targetJD);
    if (name !== undefined && stubs?.findStub(name)) stubs.updatePointer(name, addr);
  }
}
