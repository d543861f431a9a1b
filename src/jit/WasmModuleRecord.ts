// Everything the JIT keeps about one added wasm module: its parsed IR, the dylibs it went
// into, the symbol name of each of its functions, and the executor addresses of its entities
// (memories, tables, globals, imported and globals-module functions) as they become known.
// Pieces of the module (its globals module, extracted bodies, the whole module) name the
// entities they import by EntityRef; the record turns those into addresses.

import type { JITDylib } from '../core/JITDylib.ts';
import type { ExecutorAddr } from '../executor/protocol.ts';
// Not through ../wasm/index.ts, which would load binaryen into this thread.
import type { EntityRef, ImportInfo } from '../wasm/index.ts';
import type { CompilerModule, WasmCompiler } from './WasmCompiler.ts';
import type { ExternKind } from '../wasm/types.ts';

export interface ModuleOptions {
  readonly lazy: boolean;
  /** binaryen optimize level, 0..4. */
  readonly optimize: number;
  /** Partition per function (default), or compile all bodies on the first call into any (ORC's -per-module-lazy). */
  readonly partition: 'function' | 'module';
  readonly name?: string | undefined;
}

export class WasmModuleRecord {
  readonly id: string;
  readonly options: ModuleOptions;
  /** The module as parsed in the compile thread, and that thread. */
  readonly parsed: CompilerModule;
  readonly compiler: WasmCompiler;
  readonly targetJD: JITDylib;
  readonly implJD: JITDylib | undefined;
  /** Defined functions compiled with the globals module (they use segment instructions). */
  readonly keptFunctions: ReadonlySet<number>;
  /** Symbol name of each defined function in the target dylib (its stub) and the impl dylib (its body). */
  private readonly functionSymbols = new Map<number, string>();
  private readonly addrs: Record<ExternKind, Map<number, ExecutorAddr>> = {
    function: new Map(),
    global: new Map(),
    memory: new Map(),
    table: new Map(),
  };
  /** Address of the optimized tier of each re-optimized function (ReOptimizeLayer). */
  private readonly optimized = new Map<number, ExecutorAddr>();
  /** For each defined function, the compiled functions whose code references it. */
  private readonly compiledCallers = new Map<number, Set<number>>();
  /** Function imports bound to late-resolving stubs because they resolved nowhere at link time. */
  readonly lateImports: ImportInfo[] = [];
  /** Names of those stubs in the JIT's session-wide import stubs manager, to release with the module. */
  readonly lateImportStubs: string[] = [];
  /** Every address allocated for this module's entities, to release with it. */
  readonly allocated: ExecutorAddr[] = [];

  constructor(
    id: string,
    options: ModuleOptions,
    compiler: WasmCompiler,
    parsed: CompilerModule,
    targetJD: JITDylib,
    implJD: JITDylib | undefined,
    keptFunctions: ReadonlySet<number>,
  ) {
    this.id = id;
    this.options = options;
    this.compiler = compiler;
    this.parsed = parsed;
    this.targetJD = targetJD;
    this.implJD = implJD;
    this.keptFunctions = keptFunctions;
  }

  get label(): string {
    return this.options.name ? `${this.id} (${this.options.name})` : this.id;
  }

  setFunctionSymbol(index: number, name: string): void {
    this.functionSymbols.set(index, name);
  }

  /** The symbol of a defined function's stub and body; undefined for imported and kept ones. */
  functionSymbol(index: number): string | undefined {
    return this.functionSymbols.get(index);
  }

  setAddress(ref: EntityRef, addr: ExecutorAddr): void {
    this.addrs[ref.kind].set(ref.index, addr);
  }

  /** The known address of an entity: an import's resolution or a globals-module export. */
  address(ref: EntityRef): ExecutorAddr | undefined {
    return this.addrs[ref.kind].get(ref.index);
  }

  /** Addresses the module's memory, table and global imports resolved to (its bodies link against them later). */
  importedDataAddresses(): ExecutorAddr[] {
    const out: ExecutorAddr[] = [];
    for (const imp of this.parsed.info.imports) {
      if (imp.kind === 'function') continue;
      const addr = this.address({ kind: imp.kind, index: imp.index });
      if (addr !== undefined) out.push(addr);
    }
    return out;
  }

  /** Notes that `caller` is compiled and references each of `callees`. */
  noteCompiled(caller: number, callees: readonly number[]): void {
    for (const callee of callees) {
      let set = this.compiledCallers.get(callee);
      if (!set) this.compiledCallers.set(callee, (set = new Set()));
      set.add(caller);
    }
  }

  /** Compiled functions of this module that call (or take a reference to) `index`. */
  callersOf(index: number): readonly number[] {
    return [...(this.compiledCallers.get(index) ?? [])];
  }

  setOptimizedBody(index: number, addr: ExecutorAddr): void {
    this.optimized.set(index, addr);
  }

  optimizedBody(index: number): ExecutorAddr | undefined {
    return this.optimized.get(index);
  }

  dispose(): void {
    this.parsed.dispose();
  }
}
