// The globals module of a lazily added wasm module: its memories, tables, globals, data and
// element segments and its start function, with no function bodies but those that must live
// beside the segments. It is materialized when the module is added (that runs the start
// function and resolves every import), and provides the module's exported memories, tables,
// globals and re-exported imports, plus a hidden init symbol that stands for the module itself.

import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../core/MaterializationUnit.ts';
import type { ExecutorSymbolDef, SymbolInterface } from '../core/SymbolDefinition.ts';
import type { EntityRef } from '../wasm/index.ts';
import type { CompileObserver } from './CompileObserver.ts';
import type { WasmLinkingLayer } from './WasmLinkingLayer.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export interface GlobalsSymbol extends SymbolInterface {
  /** The entity the symbol names; undefined for the init symbol. */
  readonly ref: EntityRef | undefined;
}

export class GlobalsModuleMaterializationUnit extends MaterializationUnit {
  private readonly record: WasmModuleRecord;
  private readonly linker: WasmLinkingLayer;
  private readonly refs: ReadonlyMap<string, EntityRef | undefined>;
  private readonly observer: CompileObserver;

  constructor(record: WasmModuleRecord, linker: WasmLinkingLayer, symbols: ReadonlyMap<string, GlobalsSymbol>, observer: CompileObserver) {
    super(new Map([...symbols].map(([n, s]) => [n, { flags: s.flags, kind: s.kind, type: s.type }])));
    this.record = record;
    this.linker = linker;
    this.refs = new Map([...symbols].map(([n, s]) => [n, s.ref]));
    this.observer = observer;
  }

  get name(): string {
    return `<Globals of ${this.record.label}>`;
  }

  async materialize(r: MaterializationResponsibility): Promise<void> {
    const started = performance.now();
    const piece = await this.record.compiler.buildGlobalsModule(this.record.parsed, {
      keepFunctions: [...this.record.keptFunctions],
      optimizeLevel: this.record.options.optimize,
    });
    const linked = await this.linker.link(this.record, piece, `${this.record.label} globals`);
    for (const { ref, addr } of linked.exports.values()) this.record.setAddress(ref, addr);
    const ms = performance.now() - started;
    await linked.instantiated;
    if (piece.start) await this.linker.runStart(this.record, piece.start.index, linked.deps);

    const resolved = new Map<string, ExecutorSymbolDef>();
    for (const [name, info] of r.getSymbols()) {
      const ref = this.refs.get(name);
      const addr = ref ? this.record.address(ref) : 0;
      if (addr === undefined) throw new Error(`${name} has no address after linking the globals module`);
      resolved.set(name, { address: addr, flags: info.flags });
    }
    r.notifyResolved(resolved);
    r.notifyEmitted(linked.deps);
    const kept = [...this.record.keptFunctions].map((i) => this.record.parsed.info.functions[i]?.name ?? `func[${i}]`);
    this.observer({ dylib: r.targetJD.name, names: kept, kind: 'globals', ms });
  }
}
