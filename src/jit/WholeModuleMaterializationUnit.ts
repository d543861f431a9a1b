// A wasm module added eagerly (ORC's addIRModule): one unit for all its exports, which
// compiles, optimizes and instantiates the whole module when any of them is first looked up.

import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../core/MaterializationUnit.ts';
import type { ExecutorSymbolDef, SymbolInterface } from '../core/SymbolDefinition.ts';
import { privateFunctionSymbolName } from './CompileOnDemandLayer.ts';
import type { CompileObserver } from './CompileObserver.ts';
import type { WasmLinkingLayer } from './WasmLinkingLayer.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export class WholeModuleMaterializationUnit extends MaterializationUnit {
  private readonly record: WasmModuleRecord;
  private readonly linker: WasmLinkingLayer;
  private readonly observer: CompileObserver;
  /** The export each symbol names; undefined for the init symbol. */
  private readonly exportOf: ReadonlyMap<string, string | undefined>;

  constructor(
    record: WasmModuleRecord,
    linker: WasmLinkingLayer,
    symbols: ReadonlyMap<string, SymbolInterface & { readonly exportName: string | undefined }>,
    observer: CompileObserver,
  ) {
    super(symbols);
    this.record = record;
    this.linker = linker;
    this.observer = observer;
    this.exportOf = new Map([...symbols].map(([n, s]) => [n, s.exportName]));
  }

  get name(): string {
    return `<Module ${this.record.label}>`;
  }

  async materialize(r: MaterializationResponsibility): Promise<void> {
    const started = performance.now();
    const piece = await this.record.compiler.compileWhole(this.record.parsed, { optimizeLevel: this.record.options.optimize });
    const linked = await this.linker.link(this.record, piece, this.record.label);
    const ms = performance.now() - started;
    await linked.instantiated;
    const resolved = new Map<string, ExecutorSymbolDef>();
    for (const [name, info] of r.getSymbols()) {
      const exportName = this.exportOf.get(name);
      const addr = exportName === undefined ? 0 : linked.exports.get(exportName)?.addr;
      if (addr === undefined) throw new Error(`the compiled module does not export ${JSON.stringify(exportName)}`);
      resolved.set(name, { address: addr, flags: info.flags });
    }
    r.notifyResolved(resolved);
    r.notifyEmitted(linked.deps);
    // Named as the lazy path names bodies: by export name, else as the module's private function.
    const { info } = this.record.parsed;
    const exportName = new Map(info.exports.filter((e) => e.kind === 'function').map((e) => [e.index, e.name] as const));
    const names = info.functions.filter((f) => !f.imported).map((f) => exportName.get(f.index) ?? privateFunctionSymbolName(this.record.id, f.index));
    this.observer({ dylib: r.targetJD.name, names, kind: 'module', ms });
  }
}
