// The CompileOnDemandLayer adds wasm modules lazily, as the seed commit reworked ORC's
// CompileOnDemandLayer: the module's globals module goes into the target dylib at once; its
// functions are defined, untouched, in the per-dylib implementation dylib `<dylib>.impl`
// (created on first use, its link order copied from the target's); and every function becomes
// a lazy reexport in the target dylib: a stub whose first call compiles the body. A module
// exporting one function under several names gets one stub and symbol aliases. Units hand
// their pieces to the next layer (`emit`): this layer decides what is compiled together
// (partition.ts), the layers below how.

import { DuplicateDefinition, DylibExists } from '../core/errors.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit, type SymbolMap } from '../core/MaterializationUnit.ts';
import type { SymbolAliasMapEntry } from '../core/ReExports.ts';
import { symbolAliases } from '../core/ReExports.ts';
import type { ResourceTracker } from '../core/ResourceTracker.ts';
import type { SymbolInterface } from '../core/SymbolDefinition.ts';
import { JITSymbolFlags } from '../core/SymbolFlags.ts';
import type { EntityRef } from '../wasm/index.ts';
import type { IndirectStubsManager } from './IndirectStubsManager.ts';
import type { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import { sameNameLazyReexports } from './LazyReexports.ts';
import { FunctionSymbolMap } from './FunctionSymbolMap.ts';
import { IMPL_SUFFIX, initSymbolName, privateFunctionIndex, privateFunctionSymbolName } from './names.ts';
import { partitionByReach, type PartitionOptions } from './partition.ts';
import type { PieceLayer, PieceRequest } from './PieceRequest.ts';
import { setSameNameTarget, setSymbolTarget } from './symbolTargets.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export { IMPL_SUFFIX, initSymbolName, privateFunctionSymbolName };

/** A symbol of a globals module (or an eager module): the entity it names, none for the init symbol. */
export interface ModuleSymbol extends SymbolInterface {
  readonly ref: EntityRef | undefined;
}

/**
 * A module's memories, tables, globals and segments, its start function and the functions that
 * must live beside its segments; materialized when the module is added (that resolves every data
 * import and runs the start function). Provides the module's exported memories, tables and
 * globals, its re-exported imports, and a hidden init symbol that stands for the module itself.
 */
export class GlobalsModuleMaterializationUnit extends MaterializationUnit {
  private readonly record: WasmModuleRecord;
  private readonly base: PieceLayer;
  private readonly refs: ReadonlyMap<string, EntityRef | undefined>;

  constructor(record: WasmModuleRecord, base: PieceLayer, symbols: ReadonlyMap<string, ModuleSymbol>) {
    super(new Map([...symbols].map(([n, s]) => [n, { flags: s.flags, kind: s.kind, type: s.type }])));
    this.record = record;
    this.base = base;
    this.refs = new Map([...symbols].map(([n, s]) => [n, s.ref]));
  }

  get name(): string {
    return `<Globals of ${this.record.label}>`;
  }

  materialize(r: MaterializationResponsibility): Promise<void> {
    const symbols = new Map([...r.getSymbols().keys()].map((n) => [n, this.refs.get(n)]));
    return this.base.emit(r, { kind: 'globals', record: this.record, functions: [], symbols, label: `${this.record.label} globals` });
  }
}

/** An eager module (ORC's addIRModule): one unit, compiled and linked whole on first lookup. */
export class WholeModuleMaterializationUnit extends MaterializationUnit {
  private readonly record: WasmModuleRecord;
  private readonly base: PieceLayer;
  private readonly refs: ReadonlyMap<string, EntityRef | undefined>;

  constructor(record: WasmModuleRecord, base: PieceLayer, symbols: ReadonlyMap<string, ModuleSymbol>) {
    super(new Map([...symbols].map(([n, s]) => [n, { flags: s.flags, kind: s.kind, type: s.type }])));
    this.record = record;
    this.base = base;
    this.refs = new Map([...symbols].map(([n, s]) => [n, s.ref]));
  }

  get name(): string {
    return `<Module ${this.record.label}>`;
  }

  materialize(r: MaterializationResponsibility): Promise<void> {
    const symbols = new Map([...r.getSymbols().keys()].map((n) => [n, this.refs.get(n)]));
    return this.base.emit(r, { kind: 'whole', record: this.record, functions: [], symbols, label: this.record.label });
  }
}

/** A body's symbol: its interface and the function it is (one object, not a second map by name). */
export class BodySymbol implements SymbolInterface {
  readonly flags: JITSymbolFlags;
  readonly kind = 'function' as const;
  readonly type: unknown;
  readonly index: number;

  constructor(flags: JITSymbolFlags, type: unknown, index: number) {
    this.flags = flags;
    this.type = type;
    this.index = index;
  }
}

/**
 * The function bodies of a lazily added module, in the implementation dylib. Looking some up
 * splits them off together with what they statically reach (the partition) and compiles that
 * piece; the other bodies stay in the dylib for later. Calls inside a partition are direct.
 */
export class FunctionBodiesMaterializationUnit extends MaterializationUnit {
  private readonly record: WasmModuleRecord;
  private readonly base: PieceLayer;
  private readonly partition: PartitionOptions;
  declare readonly symbols: SymbolMap<BodySymbol>;

  /** Takes ownership of `bodies`; the record maps function indices back to names. */
  constructor(record: WasmModuleRecord, base: PieceLayer, partition: PartitionOptions, bodies: SymbolMap<BodySymbol>) {
    super(bodies, 'take');
    this.record = record;
    this.base = base;
    this.partition = partition;
  }

  get name(): string {
    return `<Function bodies of ${this.record.label}>`;
  }

  /** Whether function `index`'s body is still in this unit. */
  private readonly has = (index: number): boolean => {
    // The module's own unit holds every body not yet split off, by index; a split-off part is a small Map.
    if (this.symbols instanceof FunctionSymbolMap) return this.symbols.hasIndex(index);
    const name = this.record.functionSymbol(index);
    return name !== undefined && this.symbols.has(name);
  };

  private reach(requested: Iterable<string>): number[] {
    const indices: number[] = [];
    for (const n of requested) {
      const body = this.symbols.get(n);
      if (body !== undefined) indices.push(body.index);
    }
    return partitionByReach(this.record.module, indices, this.has, this.partition);
  }

  /** The requested bodies and what they reach within the budget, as a unit of their own. */
  override splitOff(names: ReadonlySet<string>): FunctionBodiesMaterializationUnit {
    const part = new Map<string, BodySymbol>();
    for (const index of this.reach(names)) {
      const name = this.record.functionSymbol(index);
      if (name === undefined) continue;
      const body = this.symbols.get(name);
      if (body === undefined) continue;
      part.set(name, body);
      this.symbols.delete(name);
    }
    return new FunctionBodiesMaterializationUnit(this.record, this.base, this.partition, part);
  }

  materialize(r: MaterializationResponsibility): Promise<void> {
    // Taken whole (a lookup asked for every body left): compile what the requested ones reach,
    // hand the rest back unmaterialized.
    const functions = this.reach(r.getRequestedSymbols());
    const members = new Set(functions);
    const rest = new Map<string, BodySymbol>();
    for (const name of r.getSymbols().keys()) {
      const body = this.symbols.get(name) as BodySymbol;
      if (!members.has(body.index)) rest.set(name, body);
    }
    if (rest.size > 0) r.replace(new FunctionBodiesMaterializationUnit(this.record, this.base, this.partition, rest));
    const symbols = new Map(functions.map((f) => [this.record.functionSymbol(f) as string, { kind: 'function' as const, index: f }]));
    const label = `${this.record.label} ${functions.length === 1 ? (this.record.functionSymbol(functions[0] as number) as string) : `${functions.length} functions`}`;
    const request: PieceRequest = { kind: 'bodies', record: this.record, functions, symbols, label };
    return this.base.emit(r, request);
  }
}

const EXPORTED = JITSymbolFlags.of('Exported');
const CALLABLE = JITSymbolFlags.of('Callable');

/** ORC's per-dylib resources of the lazy layer: the impl dylib. Kept on the dylib itself. */
const IMPL_OF = Symbol('CompileOnDemandLayer.implOf');
const IMPL = Symbol('CompileOnDemandLayer.impl');

/** What the layer defined for one module, so the caller can look it up or undo it. */
export interface LazyModuleDefinition {
  /** Every symbol defined in the target dylib (listed only when an add is undone). */
  readonly targetSymbols: () => readonly string[];
  /** Symbols to look up at add: they materialize the globals module (and run the start function). */
  readonly materializeNow: readonly string[];
  /** The Exported ones of targetSymbols, in the same order (most of a module's functions are not). */
  readonly exported: readonly string[];
}

export class CompileOnDemandLayer {
  private readonly base: PieceLayer;
  private readonly lctm: LazyCallThroughManager;
  private readonly stubs: IndirectStubsManager;
  private readonly partition: PartitionOptions;

  constructor(base: PieceLayer, lctm: LazyCallThroughManager, stubs: IndirectStubsManager, partition: PartitionOptions) {
    this.base = base;
    this.lctm = lctm;
    this.stubs = stubs;
    this.partition = partition;
  }

  /**
   * The implementation dylib of `jd`, created (link order copied from `jd`'s) on first use.
   * DylibExists when a dylib of that name exists and is not `jd`'s.
   */
  implDylib(jd: JITDylib): JITDylib {
    const existing = jd.resources.get(IMPL) as JITDylib | undefined;
    if (existing && jd.session.getJITDylibByName(existing.name) === existing) return existing;
    const name = jd.name + IMPL_SUFFIX;
    if (jd.session.getJITDylibByName(name)) throw new DylibExists(name);
    const impl = jd.session.createJITDylib(name);
    impl.setLinkOrder(jd.getLinkOrder(), false);
    impl.resources.set(IMPL_OF, jd);
    jd.resources.set(IMPL, impl);
    return impl;
  }

  /** The implementation dylib of `jd`, if it has one. */
  static implDylibOf(jd: JITDylib): JITDylib | undefined {
    const impl = jd.resources.get(IMPL) as JITDylib | undefined;
    return impl && jd.session.getJITDylibByName(impl.name) === impl ? impl : undefined;
  }

  /** The dylib whose implementation dylib `jd` is, if it is one. */
  static implOf(jd: JITDylib): JITDylib | undefined {
    return jd.resources.get(IMPL_OF) as JITDylib | undefined;
  }

  /**
   * Defines the module's symbols: globals unit, lazy reexports and aliases in the target dylib
   * (record.tracker), the bodies unit in the impl dylib (record.implTracker). All or nothing: a
   * name taken in either dylib is a DuplicateDefinition and nothing is defined. Compiles nothing.
   */
  add(record: WasmModuleRecord): LazyModuleDefinition {
    const { info } = record.module;
    const target = record.targetJD;
    const implJD = record.implJD as JITDylib;
    const implTracker = record.implTracker as ResourceTracker;

    // One pass over the exports, one over the functions. The stubs and bodies are not put in
    // maps: FunctionSymbolMap computes them from `names` and `exportIndex` (see its header).
    const globals = new Map<string, ModuleSymbol>();
    const aliases = new Map<string, SymbolAliasMapEntry>();
    const names = new Array<string | undefined>(info.functions.length);
    // The function each primary export name names; the other functions have private names.
    const exportIndex = new Map<string, number>();
    const exportedGlobals: string[] = [];
    const exportedFunctions: string[] = [];
    // Indexed loops: this runs once per add, mostly before V8 optimizes it, and a for-of then
    // allocates an iterator result per element (tens of thousands of them, all garbage).
    const { exports, functions } = info;
    for (let i = 0; i < exports.length; i++) {
      const e = exports[i] as (typeof exports)[number];
      const fn = e.kind === 'function' ? info.functions[e.index] : undefined;
      const lazyFunction = fn !== undefined && !fn.imported && !record.keptFunctions.has(e.index);
      if (!lazyFunction) {
        const flags = e.kind === 'function' ? JITSymbolFlags.ExportedCallable : EXPORTED;
        globals.set(e.name, { flags, kind: e.kind, type: e.type, ref: { kind: e.kind, index: e.index } });
        exportedGlobals.push(e.name);
        continue;
      }
      const primary = names[e.index];
      if (primary === undefined) {
        names[e.index] = e.name;
        exportIndex.set(e.name, e.index);
        exportedFunctions.push(e.name);
      } else {
        aliases.set(e.name, { flags: JITSymbolFlags.ExportedCallable, kind: 'function', type: e.type, aliasee: primary });
      }
    }
    const kept = record.keptFunctions.size > 0 ? record.keptFunctions : undefined;
    for (let i = 0; i < functions.length; i++) {
      const fn = functions[i] as (typeof functions)[number];
      if (fn.imported || kept?.has(fn.index) || names[fn.index] !== undefined) continue;
      names[fn.index] = privateFunctionSymbolName(record.id, fn.index);
    }
    const init = initSymbolName(record.id);
    globals.set(init, { flags: JITSymbolFlags.None, kind: 'module', ref: undefined });

    const indexOf = (name: string): number | undefined => {
      const exported = exportIndex.get(name);
      if (exported !== undefined) return exported;
      const i = privateFunctionIndex(record.id, name);
      return i !== undefined && names[i] === name ? i : undefined;
    };
    const flagsOf = (index: number) => (exportIndex.get(names[index] as string) === index ? JITSymbolFlags.ExportedCallable : CALLABLE);
    const reexports = new FunctionSymbolMap<SymbolInterface>({ names, indexOf, symbol: stubSymbols(implJD, functions, flagsOf) });
    const bodies = new FunctionSymbolMap<BodySymbol>({
      names,
      indexOf,
      symbol: (index) => new BodySymbol(flagsOf(index), (functions[index] as (typeof functions)[number]).type, index),
    });

    const taken = [...target.clashes(globals), ...target.clashes(reexports), ...target.clashes(aliases)];
    if (taken.length > 0) throw new DuplicateDefinition(target.name, taken.map(([n]) => n));
    const takenBodies = implJD.clashes(bodies);
    if (takenBodies.length > 0) throw new DuplicateDefinition(implJD.name, takenBodies.map(([n]) => n));

    record.setFunctionSymbols(names);
    target.define(new GlobalsModuleMaterializationUnit(record, this.base, globals), record.tracker);
    if (aliases.size > 0) target.define(symbolAliases(aliases), record.tracker);
    // One unit for all the reexports and one for all the bodies: materializing some splits just
    // them (and, for bodies, their partition) off the unit (MaterializationUnit.splitOff), so a
    // first call costs time in proportion to what it compiles, not to the module.
    if (reexports.size > 0) {
      target.define(sameNameLazyReexports(this.lctm, this.stubs, implJD, reexports, record.label), record.tracker);
    }
    if (bodies.size > 0) implJD.define(new FunctionBodiesMaterializationUnit(record, this.base, this.partition, bodies), implTracker);
    for (const [name, alias] of aliases) {
      const entry = target.entry(name);
      if (entry !== undefined) setSymbolTarget(entry, { jd: target, name: alias.aliasee, lazy: false });
    }
    return {
      targetSymbols: () => namesOf([globals, aliases], names.filter((n) => n !== undefined)),
      materializeNow: [...globals.keys()],
      exported: namesOf([aliases], [...exportedGlobals, ...exportedFunctions]),
    };
  }
}

/**
 * The stub symbol of each function by index: one interface object per flags and type, shared by
 * every stub declaring them, each leading to the body of its own name in `implJD`.
 */
function stubSymbols(
  implJD: JITDylib,
  functions: readonly { readonly type: unknown }[],
  flagsOf: (index: number) => JITSymbolFlags,
): (index: number) => SymbolInterface {
  const shared = new Map<JITSymbolFlags, Map<unknown, SymbolInterface>>();
  let last: { flags: JITSymbolFlags; type: unknown; symbol: SymbolInterface } | undefined;
  return (index) => {
    const flags = flagsOf(index);
    const type = (functions[index] as (typeof functions)[number]).type;
    // Most functions of a large module share their neighbour's type.
    if (last !== undefined && last.flags === flags && last.type === type) return last.symbol;
    let byType = shared.get(flags);
    if (byType === undefined) shared.set(flags, (byType = new Map()));
    let s = byType.get(type);
    if (s === undefined) {
      s = Object.freeze({ flags, kind: 'function' as const, type });
      setSameNameTarget(s, implJD, true);
      byType.set(type, s);
    }
    last = { flags, type, symbol: s };
    return s;
  };
}

/** The maps' keys appended to `out`, in order, without an iterator step per key (see `add`). */
function namesOf(maps: readonly ReadonlyMap<string, unknown>[], out: string[] = []): string[] {
  for (const m of maps) m.forEach((_, name) => out.push(name));
  return out;
}
