// The CompileOnDemandLayer adds wasm modules lazily, as the seed commit reworked ORC's
// CompileOnDemandLayer: the module's globals module goes into the target dylib at once; its
// functions are defined, untouched, in the per-dylib implementation dylib `<dylib>.impl`
// (created on first use, its link order copied from the target's); and every function becomes
// a lazy reexport in the target dylib: a stub whose first call compiles the body. A module
// exporting one function under several names gets one stub and symbol aliases. Units hand
// their pieces to the next layer (`emit`): this layer decides what is compiled together
// (partition.ts), the layers below how.

import { DylibExists } from '../core/errors.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../core/MaterializationUnit.ts';
import type { SymbolAliasMapEntry } from '../core/ReExports.ts';
import { symbolAliases } from '../core/ReExports.ts';
import type { ResourceTracker } from '../core/ResourceTracker.ts';
import type { SymbolInterface } from '../core/SymbolDefinition.ts';
import { JITSymbolFlags } from '../core/SymbolFlags.ts';
import type { EntityRef, ExportInfo } from '../wasm/index.ts';
import type { IndirectStubsManager } from './IndirectStubsManager.ts';
import type { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import { lazyReexports } from './LazyReexports.ts';
import { IMPL_SUFFIX, initSymbolName, privateFunctionSymbolName } from './names.ts';
import { partitionByReach, type PartitionOptions } from './partition.ts';
import type { PieceLayer, PieceRequest } from './PieceRequest.ts';
import { type SymbolTarget, setSymbolTarget } from './symbolTargets.ts';
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

/**
 * The function bodies of a lazily added module, in the implementation dylib. Looking some up
 * splits them off together with what they statically reach (the partition) and compiles that
 * piece; the other bodies stay in the dylib for later. Calls inside a partition are direct.
 */
export class FunctionBodiesMaterializationUnit extends MaterializationUnit {
  private readonly record: WasmModuleRecord;
  private readonly base: PieceLayer;
  private readonly partition: PartitionOptions;
  /** Function index of each body symbol, and back. */
  private readonly bodies: Map<string, number>;
  private readonly byIndex: Map<number, string>;

  constructor(record: WasmModuleRecord, base: PieceLayer, partition: PartitionOptions, bodies: ReadonlyMap<string, { readonly index: number; readonly info: SymbolInterface }>) {
    super(new Map([...bodies].map(([n, b]) => [n, b.info])));
    this.record = record;
    this.base = base;
    this.partition = partition;
    this.bodies = new Map([...bodies].map(([n, b]) => [n, b.index]));
    this.byIndex = new Map([...bodies].map(([n, b]) => [b.index, n]));
  }

  get name(): string {
    return `<Function bodies of ${this.record.label}>`;
  }

  protected override discard(_jd: JITDylib, name: string): void {
    const index = this.bodies.get(name);
    this.bodies.delete(name);
    if (index !== undefined) this.byIndex.delete(index);
  }

  /** The requested bodies and what they reach within the budget, as a unit of their own. */
  override splitOff(names: ReadonlySet<string>): FunctionBodiesMaterializationUnit {
    const requested = [...names].map((n) => this.bodies.get(n)).filter((i): i is number => i !== undefined);
    const members = partitionByReach(this.record.module, requested, (i) => this.byIndex.has(i), this.partition);
    const part = new Map<string, { index: number; info: SymbolInterface }>();
    for (const index of members) {
      const name = this.byIndex.get(index);
      if (name === undefined) continue;
      const info = this.symbols.get(name);
      if (info === undefined) continue;
      part.set(name, { index, info });
      this.bodies.delete(name);
      this.byIndex.delete(index);
      this.symbols.delete(name);
    }
    return new FunctionBodiesMaterializationUnit(this.record, this.base, this.partition, part);
  }

  materialize(r: MaterializationResponsibility): Promise<void> {
    // Taken whole (a lookup asked for every body left): compile what the requested ones reach,
    // hand the rest back unmaterialized.
    const mine = [...r.getSymbols().keys()];
    const requested = [...r.getRequestedSymbols()].map((n) => this.bodies.get(n)).filter((i): i is number => i !== undefined);
    const members = new Set(partitionByReach(this.record.module, requested, (i) => this.byIndex.has(i), this.partition));
    const rest = new Map<string, { index: number; info: SymbolInterface }>();
    for (const name of mine) {
      const index = this.bodies.get(name) as number;
      if (!members.has(index)) rest.set(name, { index, info: r.getSymbols().get(name) as SymbolInterface });
    }
    if (rest.size > 0) r.replace(new FunctionBodiesMaterializationUnit(this.record, this.base, this.partition, rest));
    const functions = [...members];
    const symbols = new Map(functions.map((f) => [this.byIndex.get(f) as string, { kind: 'function' as const, index: f }]));
    const label = `${this.record.label} ${functions.length === 1 ? (this.byIndex.get(functions[0] as number) as string) : `${functions.length} functions`}`;
    const request: PieceRequest = { kind: 'bodies', record: this.record, functions, symbols, label };
    return this.base.emit(r, request);
  }
}

/** ORC's per-dylib resources of the lazy layer: the impl dylib. Kept on the dylib itself. */
const IMPL_OF = Symbol('CompileOnDemandLayer.implOf');
const IMPL = Symbol('CompileOnDemandLayer.impl');

/** What the layer defined for one module, so the caller can look it up or undo it. */
export interface LazyModuleDefinition {
  /** Every symbol defined in the target dylib. */
  readonly targetSymbols: readonly string[];
  /** Symbols to look up at add: they materialize the globals module (and run the start function). */
  readonly materializeNow: readonly string[];
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

    const globals = new Map<string, ModuleSymbol>();
    const reexports = new Map<string, SymbolAliasMapEntry>();
    const aliases = new Map<string, SymbolAliasMapEntry>();
    const bodies = new Map<string, { index: number; info: SymbolInterface }>();
    const targets = new Map<string, SymbolTarget>();
    const primaryName = new Map<number, string>();

    const exportFlags = (e: ExportInfo) => (e.kind === 'function' ? JITSymbolFlags.ExportedCallable : JITSymbolFlags.of('Exported'));
    for (const e of info.exports) {
      const fn = e.kind === 'function' ? info.functions[e.index] : undefined;
      const lazyFunction = fn !== undefined && !fn.imported && !record.keptFunctions.has(e.index);
      if (!lazyFunction) {
        globals.set(e.name, { flags: exportFlags(e), kind: e.kind, type: e.type, ref: { kind: e.kind, index: e.index } });
        continue;
      }
      const primary = primaryName.get(e.index);
      if (primary === undefined) {
        primaryName.set(e.index, e.name);
        reexports.set(e.name, { flags: exportFlags(e), kind: 'function', type: e.type, aliasee: e.name });
        targets.set(e.name, { jd: implJD, name: e.name, lazy: true });
      } else {
        aliases.set(e.name, { flags: exportFlags(e), kind: 'function', type: e.type, aliasee: primary });
        targets.set(e.name, { jd: target, name: primary, lazy: false });
      }
    }
    for (const fn of info.functions) {
      if (fn.imported || record.keptFunctions.has(fn.index)) continue;
      let name = primaryName.get(fn.index);
      if (name === undefined) {
        name = privateFunctionSymbolName(record.id, fn.index);
        reexports.set(name, { flags: JITSymbolFlags.of('Callable'), kind: 'function', type: fn.type, aliasee: name });
        targets.set(name, { jd: implJD, name, lazy: true });
      }
      record.setFunctionSymbol(fn.index, name);
      const flags = reexports.get(name)?.flags ?? JITSymbolFlags.of('Callable');
      bodies.set(name, { index: fn.index, info: { flags, kind: 'function', type: fn.type } });
    }
    const init = initSymbolName(record.id);
    globals.set(init, { flags: JITSymbolFlags.None, kind: 'module', ref: undefined });

    target.checkCanDefine([...globals.keys(), ...reexports.keys(), ...aliases.keys()]);
    implJD.checkCanDefine(bodies.keys());

    target.define(new GlobalsModuleMaterializationUnit(record, this.base, globals), record.tracker);
    if (aliases.size > 0) target.define(symbolAliases(aliases), record.tracker);
    // One unit for all the reexports and one for all the bodies: materializing some splits just
    // them (and, for bodies, their partition) off the unit (MaterializationUnit.splitOff), so a
    // first call costs time in proportion to what it compiles, not to the module.
    if (reexports.size > 0) target.define(lazyReexports(this.lctm, this.stubs, implJD, reexports, record.label), record.tracker);
    if (bodies.size > 0) implJD.define(new FunctionBodiesMaterializationUnit(record, this.base, this.partition, bodies), implTracker);
    for (const [name, t] of targets) {
      const entry = target.entry(name);
      if (entry) setSymbolTarget(entry, t);
    }
    return { targetSymbols: [...globals.keys(), ...reexports.keys(), ...aliases.keys()], materializeNow: [...globals.keys()] };
  }
}
