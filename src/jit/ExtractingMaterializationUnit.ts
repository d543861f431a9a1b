// The functions of a lazily added module, defined untouched in the implementation dylib.
// Looking a body up extracts just the requested functions (one partition) into a fresh
// module, optimizes, compiles and links it; the other bodies go back to the dylib for later.
// Calls inside a partition, and a function's calls to itself, stay direct. Bodies compiled here
// are the baseline tier: they count their entries for the ReOptimizeLayer.

import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../core/MaterializationUnit.ts';
import type { ExecutorSymbolDef, SymbolInterface } from '../core/SymbolDefinition.ts';
import type { CompileObserver } from './CompileObserver.ts';
import type { ReOptimizeLayer } from './ReOptimizeLayer.ts';
import type { WasmLinkingLayer } from './WasmLinkingLayer.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export class ExtractingMaterializationUnit extends MaterializationUnit {
  private readonly record: WasmModuleRecord;
  private readonly linker: WasmLinkingLayer;
  private readonly observer: CompileObserver;
  private readonly reoptimizer: ReOptimizeLayer;
  /** Function index of each body symbol. */
  private readonly bodies: Map<string, number>;

  constructor(
    record: WasmModuleRecord,
    linker: WasmLinkingLayer,
    bodies: ReadonlyMap<string, { readonly index: number; readonly info: SymbolInterface }>,
    observer: CompileObserver,
    reoptimizer: ReOptimizeLayer,
  ) {
    super(new Map([...bodies].map(([n, b]) => [n, b.info])));
    this.record = record;
    this.linker = linker;
    this.observer = observer;
    this.reoptimizer = reoptimizer;
    this.bodies = new Map([...bodies].map(([n, b]) => [n, b.index]));
  }

  get name(): string {
    return `<Function bodies of ${this.record.label}>`;
  }

  protected override discard(_jd: unknown, name: string): void {
    this.bodies.delete(name);
  }

  /** With per-function partitions, the requested bodies are extracted on their own. */
  override splitOff(names: ReadonlySet<string>): ExtractingMaterializationUnit | undefined {
    if (this.record.options.partition === 'module') return undefined;
    const part = new Map<string, { index: number; info: SymbolInterface }>();
    for (const name of names) {
      const index = this.bodies.get(name);
      const info = this.symbols.get(name);
      if (index === undefined || info === undefined) continue;
      part.set(name, { index, info });
      this.bodies.delete(name);
      this.symbols.delete(name);
    }
    return new ExtractingMaterializationUnit(this.record, this.linker, part, this.observer, this.reoptimizer);
  }

  async materialize(r: MaterializationResponsibility): Promise<void> {
    const mine = [...r.getSymbols().keys()];
    const partition = this.record.options.partition === 'module' ? mine : [...r.getRequestedSymbols()];
    const inPartition = new Set(partition);
    const rest = new Map(
      mine
        .filter((n) => !inPartition.has(n))
        .map((n) => [n, { index: this.bodies.get(n) as number, info: r.getSymbols().get(n) as SymbolInterface }]),
    );
    if (rest.size > 0) r.replace(new ExtractingMaterializationUnit(this.record, this.linker, rest, this.observer, this.reoptimizer));

    const started = performance.now();
    const indices = partition.map((n) => this.bodies.get(n) as number);
    const entryCounters = this.reoptimizer.entryCounters(this.record, indices);
    const piece = await this.record.compiler.extractFunctions(this.record.parsed, indices, {
      optimizeLevel: this.record.options.optimize,
      ...(entryCounters ? { entryCounters } : {}),
    });
    // Who calls whom among compiled code: a hot function's compiled callers are re-optimized with it.
    for (const [f, callees] of piece.callees ?? []) this.record.noteCompiled(f, callees);
    const linked = await this.linker.link(this.record, piece, `${this.record.label} ${partition.join(', ')}`);
    // Not awaited: this may run inside a lazy call-through, while the executor waits for us.
    linked.instantiated.catch((err: unknown) => r.session.reportError(err));

    const resolved = new Map<string, ExecutorSymbolDef>();
    for (const name of partition) {
      const index = this.bodies.get(name) as number;
      const exp = [...linked.exports.values()].find((e) => e.ref.kind === 'function' && e.ref.index === index);
      if (!exp) throw new Error(`extracted piece does not export function ${index}`);
      resolved.set(name, { address: exp.addr, flags: (r.getSymbols().get(name) as SymbolInterface).flags });
    }
    r.notifyResolved(resolved);
    r.notifyEmitted(linked.deps);
    this.observer({ dylib: r.targetJD.name, names: partition, kind: 'body', ms: performance.now() - started });
  }
}
