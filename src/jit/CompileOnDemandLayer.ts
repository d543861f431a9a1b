// The CompileOnDemandLayer adds wasm modules lazily, as the seed commit reworked ORC's
// CompileOnDemandLayer: the module's globals module goes into the target dylib at once; its
// functions module is defined, untouched, in the per-dylib implementation dylib `<dylib>.impl`
// (created on first use, its link order copied from the target); and every function becomes a
// lazy reexport in the target dylib: a stub whose first call extracts and compiles the body.
// A module exporting one function under several names gets one stub and symbol aliases.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { SymbolAliasMapEntry } from '../core/ReExports.ts';
import { symbolAliases } from '../core/ReExports.ts';
import type { SymbolInterface } from '../core/SymbolDefinition.ts';
import { JITSymbolFlags } from '../core/SymbolFlags.ts';
import type { ExportInfo } from '../wasm/index.ts';
import type { CompileObserver } from './CompileObserver.ts';
import { ExtractingMaterializationUnit } from './ExtractingMaterializationUnit.ts';
import { GlobalsModuleMaterializationUnit, type GlobalsSymbol } from './GlobalsModuleMaterializationUnit.ts';
import type { IndirectStubsManager } from './IndirectStubsManager.ts';
import type { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import type { ReOptimizeLayer } from './ReOptimizeLayer.ts';
import { lazyReexports } from './LazyReexports.ts';
import type { WasmLinkingLayer } from './WasmLinkingLayer.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

/** The per-dylib state of the lazy layer (ORC's PerDylibResources). */
export interface PerDylibResources {
  readonly implJD: JITDylib;
  readonly stubs: IndirectStubsManager;
}

/** What the layer defined for one module, so the caller can look it up or undo it. */
export interface LazyModuleDefinition {
  /** Symbols defined in the target dylib, in export order, then private and init symbols. */
  readonly targetSymbols: readonly string[];
  readonly implSymbols: readonly string[];
  /** The symbols to look up at add: they materialize the globals module. */
  readonly globalsSymbols: readonly string[];
  /** For each lazy reexport and alias: the body it leads to. */
  readonly targets: ReadonlyMap<string, { readonly jd: JITDylib; readonly name: string; readonly lazy: boolean }>;
}

export function initSymbolName(moduleId: string): string {
  return `${moduleId}:init`;
}

export function privateFunctionSymbolName(moduleId: string, index: number): string {
  return `${moduleId}:func[${index}]`;
}

export class CompileOnDemandLayer {
  private readonly session: ExecutionSession;
  private readonly linker: WasmLinkingLayer;
  private readonly lctm: LazyCallThroughManager;
  private readonly observer: CompileObserver;
  private readonly getResources: (jd: JITDylib) => PerDylibResources;
  private readonly reoptimizer: ReOptimizeLayer;

  constructor(
    session: ExecutionSession,
    linker: WasmLinkingLayer,
    lctm: LazyCallThroughManager,
    observer: CompileObserver,
    getResources: (jd: JITDylib) => PerDylibResources,
    reoptimizer: ReOptimizeLayer,
  ) {
    this.session = session;
    this.linker = linker;
    this.lctm = lctm;
    this.observer = observer;
    this.getResources = getResources;
    this.reoptimizer = reoptimizer;
  }

  /**
   * Defines the module's symbols: globals unit, lazy reexports and aliases in the target
   * dylib, the extracting functions unit in the impl dylib. All or nothing: a name taken in
   * either dylib is a DuplicateDefinition and nothing is defined. Compiles nothing.
   */
  add(record: WasmModuleRecord): LazyModuleDefinition {
    const { info } = record.parsed;
    const target = record.targetJD;
    const { implJD, stubs } = this.getResources(target);

    const globals = new Map<string, GlobalsSymbol>();
    const reexports = new Map<string, SymbolAliasMapEntry>();
    const aliases = new Map<string, SymbolAliasMapEntry>();
    const bodies = new Map<string, { index: number; info: SymbolInterface }>();
    const targets = new Map<string, { jd: JITDylib; name: string; lazy: boolean }>();
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
      bodies.set(name, { index: fn.index, info: { flags: reexports.get(name)?.flags ?? JITSymbolFlags.of('Callable'), kind: 'function', type: fn.type } });
    }
    const init = initSymbolName(record.id);
    globals.set(init, { flags: JITSymbolFlags.None, kind: 'module', ref: undefined });

    const targetSymbols = [...globals.keys(), ...reexports.keys(), ...aliases.keys()];
    target.checkCanDefine(targetSymbols);
    implJD.checkCanDefine(bodies.keys());

    target.define(new GlobalsModuleMaterializationUnit(record, this.linker, globals, this.observer));
    if (aliases.size > 0) target.define(symbolAliases(aliases));
    // One unit for all the reexports and one for all the bodies. Materializing one function
    // splits just it off its unit (MaterializationUnit.splitOff; with per-function partitions
    // for the bodies too), so a first call touches only that function. ORC instead hands a
    // unit's unrequested symbols back in a new unit, which costs time in proportion to the
    // module on every first call; a unit per function costs a few hundred bytes per function
    // of memory that lives as long as the module.
    if (reexports.size > 0) target.define(lazyReexports(this.lctm, stubs, implJD, reexports, record.label));
    if (bodies.size > 0) implJD.define(new ExtractingMaterializationUnit(record, this.linker, bodies, this.observer, this.reoptimizer));

    return { targetSymbols, implSymbols: [...bodies.keys()], globalsSymbols: [...globals.keys()], targets };
  }
}
