// The service facade over LazyJIT: every operation a client can perform, with results in the
// API's view shapes (schemas/). It turns symbol-table entries into symbol views, JSON
// arguments into exact values and back, and keeps the counters /metrics reports.

import type { DylibView } from '../../schemas/dylib.ts';
import type { SessionDump } from '../../schemas/dump.ts';
import type { InvokeResult } from '../../schemas/invoke.ts';
import type { AddModuleResult, ModuleView } from '../../schemas/module.ts';
import type { SymbolFlag, SymbolKind, SymbolState as SymbolStateName, SymbolView } from '../../schemas/symbol.ts';
import { FailedToMaterialize, JITError } from '../core/errors.ts';
import type { JITDylib, SymbolTableEntry } from '../core/JITDylib.ts';
import { formatAddress } from '../core/SymbolDefinition.ts';
import { SymbolState, symbolStateName } from '../core/SymbolFlags.ts';
import type { LazyJIT } from '../jit/LazyJIT.ts';
import type { FuncType } from '../wasm/types.ts';
import type { JITService, ServiceMetrics } from './JITService.ts';
import { MemoryOutOfRange } from './errors.ts';
import { decodeArgs, encodeResult } from './values.ts';

export class JITServiceImpl implements JITService {
  private readonly jit: LazyJIT;
  private failedMaterializations = 0;
  private stackOverflows = 0;
  private invokeRunMs = 0;

  constructor(jit: LazyJIT) {
    this.jit = jit;
  }

  createDylib(name: string, linkOrder?: readonly string[]): DylibView {
    return this.dylibView(this.jit.createDylib(name, linkOrder));
  }

  listDylibs(opts: { hidden: boolean } = { hidden: false }): DylibView[] {
    return this.jit.session.getJITDylibs().map((jd) => this.dylibView(jd, opts.hidden));
  }

  getDylib(name: string, opts: { hidden: boolean } = { hidden: false }): DylibView {
    return this.dylibView(this.jit.getDylib(name), opts.hidden);
  }

  setLinkOrder(name: string, linkOrder: readonly string[]): DylibView {
    return this.dylibView(this.jit.setLinkOrder(name, linkOrder));
  }

  removeDylib(name: string): Promise<void> {
    return this.jit.removeDylib(name);
  }

  async addModule(
    dylib: string,
    source: { wat: string } | { wasm: Uint8Array },
    opts: { lazy: boolean; optimize: number; name?: string | undefined },
  ): Promise<AddModuleResult> {
    const added = await this.track(this.jit.addModule(dylib, source, opts));
    const module: ModuleView = { id: added.id, lazy: added.lazy, ...(added.name === undefined ? {} : { name: added.name }) };
    const unresolvedImports = added.unresolvedImports.map((imp) => ({ module: imp.module, name: imp.name }));
    return { module, symbols: added.symbols.map((e) => this.symbolView(e)), unresolvedImports };
  }

  removeModule(dylib: string, moduleId: string): Promise<void> {
    return this.jit.removeModule(dylib, moduleId);
  }

  async addReexports(
    dylib: string,
    from: string,
    symbols: readonly string[] | Readonly<Record<string, string>>,
    opts: { lazy: boolean },
  ): Promise<{ symbols: SymbolView[] }> {
    const aliases = Array.isArray(symbols)
      ? new Map(symbols.map((s) => [s, s]))
      : new Map(Object.entries(symbols as Readonly<Record<string, string>>));
    const entries = await this.jit.addReexports(dylib, from, aliases, opts.lazy);
    return { symbols: entries.map((e) => this.symbolView(e)) };
  }

  async getSymbol(dylib: string, name: string): Promise<SymbolView> {
    const [view] = await this.lookup(dylib, [name]);
    return view as SymbolView;
  }

  async lookup(dylib: string, names: readonly string[]): Promise<SymbolView[]> {
    const result = await this.track(this.jit.lookup(dylib, names));
    return Promise.all(
      names.map(async (n) => {
        const entry = result.get(n)?.entry as SymbolTableEntry;
        const view = this.symbolView(entry);
        const value = await this.jit.globalValue(entry);
        return value ? { ...view, value: encodeResult(value) } : view;
      }),
    );
  }

  async invoke(dylib: string, symbol: string, args: readonly unknown[], opts: { timeoutMs?: number | undefined }): Promise<InvokeResult> {
    try {
      const out = await this.track(this.jit.invoke(dylib, symbol, (type: FuncType) => decodeArgs(args, type.params), opts));
      this.invokeRunMs += out.runMs;
      return {
        results: out.results.map(encodeResult),
        compiled: [...out.compiled],
        output: [...out.output],
        timing: { compileMs: round(out.compileMs), runMs: round(out.runMs) },
      };
    } catch (err) {
      if (err instanceof JITError && err.code === 'StackOverflow') this.stackOverflows++;
      throw err;
    }
  }

  async readMemory(dylib: string, symbol: string, offset: number, length?: number) {
    const r = await this.track(inRange(this.jit.readMemory(dylib, symbol, offset, length), symbol, offset, length));
    return { offset, length: r.bytes.byteLength, base64: Buffer.from(r.bytes).toString('base64'), pages: r.pages };
  }

  async writeMemory(dylib: string, symbol: string, offset: number, bytes: Uint8Array): Promise<void> {
    await this.track(inRange(this.jit.writeMemory(dylib, symbol, offset, bytes), symbol, offset, bytes.byteLength));
  }

  dump(): SessionDump {
    // The dump shows everything, private symbols too (they lack the Exported flag).
    return { dylibs: this.listDylibs({ hidden: true }) };
  }

  dumpText(): string {
    return this.jit.dumpText();
  }

  metrics(): ServiceMetrics {
    const symbolsByState: Record<SymbolStateName, number> = { NeverSearched: 0, Materializing: 0, Resolved: 0, Emitted: 0, Ready: 0 };
    let modules = 0;
    const dylibs = this.jit.session.getJITDylibs();
    for (const jd of dylibs) {
      modules += this.jit.modulesOf(jd).length;
      for (const e of jd.symbols()) symbolsByState[symbolStateName(e.state)]++;
    }
    const c = this.jit.counters;
    return {
      dylibs: dylibs.length,
      modules,
      symbolsByState,
      compiles: c.compiles,
      reoptimizations: c.reoptimizations,
      compileMs: c.compileMs,
      failedMaterializations: this.failedMaterializations,
      invokes: c.invokes,
      invokeRunMs: this.invokeRunMs,
      traps: c.traps,
      stackOverflows: this.stackOverflows,
      timeouts: c.timeouts,
    };
  }

  close(): Promise<void> {
    return this.jit.close();
  }

  // ---- views ----

  /** `hidden`: also the symbols other dylibs cannot see (no Exported flag). */
  private dylibView(jd: JITDylib, hidden = false): DylibView {
    const implOf = this.jit.implOf(jd);
    return {
      name: jd.name,
      linkOrder: jd.getLinkOrder().map((e) => e.jd.name),
      ...(implOf ? { implOf: implOf.name } : {}),
      symbols: [...jd.symbols()]
        .filter((e) => e.info.kind !== 'module' && (hidden || e.info.flags.isExported))
        .map((e) => this.symbolView(e)),
      modules: this.jit.modulesOf(jd).map((r) => ({ id: r.id, lazy: r.options.lazy, ...(r.options.name ? { name: r.options.name } : {}) })),
    };
  }

  private symbolView(e: SymbolTableEntry): SymbolView {
    const target = this.jit.targetOf(e);
    const view: SymbolView = {
      name: e.name,
      dylib: e.jd.name,
      kind: e.info.kind as SymbolKind,
      flags: e.flags.names() as SymbolFlag[],
      state: symbolStateName(e.state),
    };
    if (e.state >= SymbolState.Resolved && e.address !== undefined && !e.error) view.address = formatAddress(e.address);
    if (e.info.kind === 'function' && e.info.type) {
      const t = e.info.type as FuncType;
      view.type = { params: [...t.params], results: [...t.results] };
    }
    if (target) {
      if (target.lazy) view.lazy = true;
      view.target = { dylib: target.jd.name, name: target.name, compiled: target.compiled, ...(target.tier ? { tier: target.tier } : {}) };
    }
    return view;
  }

  /** Counts failed materializations on their way to the client. */
  private async track<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof FailedToMaterialize) this.failedMaterializations++;
      throw err;
    }
  }
}

/**
 * A memory access whose range the executor refused becomes MemoryOutOfRange (a 400). The
 * executor reports exactly that case as a RangeError; JITErrors and anything else pass through.
 */
async function inRange<T>(p: Promise<T>, memory: string, offset: number, length: number | undefined): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof RangeError) throw new MemoryOutOfRange(memory, offset, length, err.message);
    throw err;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
