// Everything the JIT keeps about one added wasm module: the module itself (its binary of record
// and what it declares), its options, the dylibs it went into and the ResourceTrackers that own
// its definitions there, the symbol name of each of its functions, and the executor addresses of
// its entities (memories, tables, globals, resolved imports) as they become known. Pieces of the
// module name the entities they import by EntityRef; the record turns those into addresses.

import type { JITDylib } from '../core/JITDylib.ts';
import type { ResourceTracker } from '../core/ResourceTracker.ts';
import type { ExecutorAddr } from '../core/SymbolDefinition.ts';
import type { EntityRef, ExternKind, WasmModule } from '../wasm/index.ts';

export interface ModuleOptions {
  readonly lazy: boolean;
  /** binaryen optimize level, 0..4: the optimized tier's (and an eager module's) level. */
  readonly optimize: number;
  readonly name?: string | undefined;
}

/** How a compiled body was compiled: the baseline byte copy at first call, or re-optimized with its callees once hot. */
export type Tier = 'baseline' | 'optimized';

/**
 * What one of the module's memory, table or global imports resolved to when it was added: the
 * exported symbol of which dylib, and the module that defined it (when a module did). Recovery
 * binds the import to the same symbol again, whatever the link orders say by then.
 */
export interface DataBinding {
  /** The import, by module and name. */
  readonly module: string;
  readonly name: string;
  readonly dylib: JITDylib;
  readonly symbol: string;
  readonly definer: WasmModuleRecord | undefined;
}

/** A data binding as recovery gives it back: dylibs by name (the same JITDylib objects no longer exist). */
export interface StoredBinding {
  readonly module: string;
  readonly name: string;
  readonly dylib: string;
  readonly symbol: string;
}

export interface CompiledBody {
  readonly addr: ExecutorAddr;
  readonly tier: Tier;
}

export class WasmModuleRecord {
  readonly id: string;
  readonly options: ModuleOptions;
  readonly module: WasmModule;
  readonly targetJD: JITDylib;
  /** Lazy modules: the implementation dylib holding the bodies. */
  readonly implJD: JITDylib | undefined;
  /** The module's definitions in the target dylib (globals, stubs, aliases; for an eager module, everything). */
  readonly tracker: ResourceTracker;
  /** Lazy modules: its bodies in the implementation dylib (and their optimized tiers). */
  readonly implTracker: ResourceTracker | undefined;
  /** Defined functions compiled with the globals module (they use segment instructions). */
  readonly keptFunctions: ReadonlySet<number>;
  /** The add failed but left bodies whose references may have escaped (see LazyJIT.addModule): listed nowhere. */
  hidden = false;
  /** The bytes the module was added as (before memories and tables were clamped): what the store keeps. */
  readonly sourceBytes: Uint8Array;
  /** Where its memory, table and global imports resolved at add. */
  readonly dataBindings: DataBinding[] = [];
  /**
   * Recovery: the data bindings to resolve the imports by (instead of the link order), and no
   * waiting for the executor, which replays everything when it next starts.
   */
  restoring: { readonly bindings: readonly StoredBinding[] } | undefined;
  /** Symbol name of each defined function in the target dylib (its stub) and the impl dylib (its body). */
  /** Indexed by function index (a dense array: a module may define tens of thousands). */
  private functionSymbols: readonly (string | undefined)[] = [];
  private readonly addrs: Record<ExternKind, Map<number, ExecutorAddr>> = {
    function: new Map(),
    global: new Map(),
    memory: new Map(),
    table: new Map(),
  };
  /** Where each compiled defined function's code is, best tier last written. */
  private readonly bodies = new Map<number, CompiledBody>();
  /** For each defined function, the compiled functions whose code calls it directly. */
  private readonly compiledCallers = new Map<number, Set<number>>();

  constructor(init: {
    id: string;
    options: ModuleOptions;
    module: WasmModule;
    sourceBytes: Uint8Array;
    targetJD: JITDylib;
    implJD: JITDylib | undefined;
    tracker: ResourceTracker;
    implTracker: ResourceTracker | undefined;
    keptFunctions: ReadonlySet<number>;
  }) {
    this.id = init.id;
    this.options = init.options;
    this.module = init.module;
    this.sourceBytes = init.sourceBytes;
    this.targetJD = init.targetJD;
    this.implJD = init.implJD;
    this.tracker = init.tracker;
    this.implTracker = init.implTracker;
    this.keptFunctions = init.keptFunctions;
  }

  /** Recovery only: the dylib and symbol a data import was bound to at the original add. */
  restoredBinding(module: string, name: string): StoredBinding | undefined {
    return this.restoring?.bindings.find((b) => b.module === module && b.name === name);
  }

  get label(): string {
    return this.options.name ? `${this.id} (${this.options.name})` : this.id;
  }

  /** The trackers whose removal removes this module. */
  trackers(): ResourceTracker[] {
    return this.implTracker ? [this.tracker, this.implTracker] : [this.tracker];
  }

  /** Sets every function's symbol at once, by function index: the record keeps the array. */
  setFunctionSymbols(names: readonly (string | undefined)[]): void {
    this.functionSymbols = names;
  }

  /** The symbol of a defined function's stub and body; undefined for imported and kept ones. */
  functionSymbol(index: number): string | undefined {
    return this.functionSymbols[index];
  }

  setAddress(ref: EntityRef, addr: ExecutorAddr): void {
    this.addrs[ref.kind].set(ref.index, addr);
  }

  /** The known address of an entity: an import's resolution or a globals-module export. */
  address(ref: EntityRef): ExecutorAddr | undefined {
    return this.addrs[ref.kind].get(ref.index);
  }

  /** Addresses of the memories, tables and globals the module's code uses (its own and imported). */
  dataAddresses(): ExecutorAddr[] {
    return [...this.addrs.memory.values(), ...this.addrs.table.values(), ...this.addrs.global.values()];
  }

  /** Notes where function `index`'s compiled code is now, and which functions it calls directly. */
  noteCompiled(index: number, body: CompiledBody, callees: readonly number[]): void {
    this.bodies.set(index, body);
    for (const callee of callees) {
      let set = this.compiledCallers.get(callee);
      if (!set) this.compiledCallers.set(callee, (set = new Set()));
      set.add(index);
    }
  }

  compiledBody(index: number): CompiledBody | undefined {
    return this.bodies.get(index);
  }

  /** Compiled functions of this module that call `index` directly. */
  callersOf(index: number): readonly number[] {
    return [...(this.compiledCallers.get(index) ?? [])];
  }
}
