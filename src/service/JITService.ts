// The facade the HTTP routes call: one method per thing a client can do to the execution
// session. The routes depend only on this interface (and the view shapes of schemas/), never
// on the JIT's internals, so the HTTP layer can be tested against a test double and the JIT
// can change behind it. Failures are thrown as JITErrors (src/core/errors.ts).

import type { DylibView } from '../../schemas/dylib.ts';
import type { SessionDump } from '../../schemas/dump.ts';
import type { InvokeResult } from '../../schemas/invoke.ts';
import type { AddModuleResult, ModuleView } from '../../schemas/module.ts';
import type { SymbolState, SymbolView } from '../../schemas/symbol.ts';

export type { AddModuleResult, DylibView, InvokeResult, ModuleView, SessionDump, SymbolView };

/** Counters (monotonic since start) and gauges (current) that GET /metrics exposes. */
export interface ServiceMetrics {
  /** Gauge: dylibs in the session, implementation dylibs and `spectest` included. */
  readonly dylibs: number;
  /** Gauge: modules added and not removed. */
  readonly modules: number;
  /** Gauge: symbols defined in all dylibs, by state. */
  readonly symbolsByState: Readonly<Record<SymbolState, number>>;
  /** Counter: compilations (one per function body or partition or eager module compiled). */
  readonly compiles: number;
  /** Counter: hot functions given an optimized tier (re-optimized with their callees). */
  readonly reoptimizations: number;
  /** Counter: milliseconds spent compiling (extract + optimize + WebAssembly.Module). */
  readonly compileMs: number;
  /** Counter: materializations that failed (FailedToMaterialize raised). */
  readonly failedMaterializations: number;
  /** Counter: invokes started. */
  readonly invokes: number;
  /** Counter: milliseconds spent running wasm code in invokes. */
  readonly invokeRunMs: number;
  /** Counter: invokes that trapped. */
  readonly traps: number;
  /** Counter: invokes that exhausted the call stack. */
  readonly stackOverflows: number;
  /** Counter: invokes stopped at their time limit. */
  readonly timeouts: number;
  /** Counter: optimizing compiles (eager modules with optimize > 0, optimized tiers) found in the code cache. */
  readonly codeCacheHits: number;
  /** Counter: optimizing compiles the code cache did not have (binaryen ran). */
  readonly codeCacheMisses: number;
}

export interface JITService {
  createDylib(name: string, linkOrder?: readonly string[]): Promise<DylibView>; // DylibExists, DylibNotFound (link order names)
  listDylibs(opts?: { hidden: boolean }): DylibView[];                          // hidden: symbols without Exported too
  getDylib(name: string, opts?: { hidden: boolean }): DylibView;                 // DylibNotFound
  setLinkOrder(name: string, linkOrder: readonly string[]): Promise<DylibView>;
  removeDylib(name: string): Promise<void>;
  addModule(dylib: string, source: { wat: string } | { wasm: Uint8Array }, opts: { lazy: boolean; optimize: number; name?: string | undefined }): Promise<AddModuleResult>;
  removeModule(dylib: string, moduleId: string): Promise<void>;                   // DylibNotFound, ModuleNotFound
  addReexports(dylib: string, from: string, symbols: readonly string[] | Readonly<Record<string, string>>, opts: { lazy: boolean }): Promise<{ symbols: SymbolView[] }>;
  getSymbol(dylib: string, name: string): Promise<SymbolView>;                   // looked up through the link order (resolves it: address set; compiles no lazy body)
  lookup(dylib: string, names: readonly string[]): Promise<SymbolView[]>;        // all or nothing
  invoke(dylib: string, symbol: string, args: readonly unknown[], opts: { timeoutMs?: number | undefined }): Promise<InvokeResult>; // args are raw JSON values; the service decodes them with values.ts against the signature
  readMemory(dylib: string, symbol: string, offset: number, length?: number | undefined): Promise<{ offset: number; length: number; base64: string; pages: number }>;
  writeMemory(dylib: string, symbol: string, offset: number, bytes: Uint8Array): Promise<void>;
  dump(): SessionDump;         // JSON form
  dumpText(): string;          // text form, ORC ExecutionSession::dump style
  metrics(): ServiceMetrics;   // counters/gauges the /metrics route exposes
  close(): Promise<void>;
}
