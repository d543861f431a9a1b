// The direct run: the same setup and workload with the WebAssembly JS API, as a user of V8
// would run the module. Imports resolve the way the service resolves them (module "env"
// through the importing dylib's link order, any other module name X in dylib X); a function
// import whose provider is added later (SQLite's host module needs SQLite's memory first)
// gets a small JS forwarder that finds it when first called, as the service binds an
// unresolved import to a stub that looks it up again.
//
// Run as a script (`node bench/realModules/direct.ts <id> [quick]`) it does one timed run in
// this fresh process, so V8 compiles the module cold, and prints one JSON line: the time from
// the first compile to the workload's last result, and the workload's outcome.

import { realModule } from './modules.ts';
import { type ModuleAdd, type Setup, type Target, type WorkloadOutcome, WorkloadError } from './target.ts';

export class LinkError extends Error {
  override name = 'LinkError';
}

type Exports = Map<string, WebAssembly.ExportValue>;

export class DirectTarget implements Target {
  readonly #dylibs = new Map<string, Exports>();
  readonly #linkOrders = new Map<string, readonly string[]>();

  constructor(setup: Setup) {
    for (const d of setup.dylibs) {
      this.#dylibs.set(d.name, new Map());
      this.#linkOrders.set(d.name, d.linkOrder ?? [d.name]);
    }
    for (const m of setup.modules) this.#add(m);
  }

  #find(dylib: string, module: string, name: string): WebAssembly.ExportValue | undefined {
    const order = module === 'env' ? (this.#linkOrders.get(dylib) ?? [dylib]) : [module];
    for (const d of order) {
      const v = this.#dylibs.get(d)?.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  #add(m: ModuleAdd): void {
    const exports = this.#dylibs.get(m.dylib);
    if (!exports) throw new LinkError(`module ${m.name}: no dylib ${m.dylib}`);
    const module = new WebAssembly.Module(m.bytes as Uint8Array<ArrayBuffer>);
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      let value = this.#find(m.dylib, imp.module, imp.name);
      if (value === undefined) {
        if (imp.kind !== 'function') throw new LinkError(`module ${m.name}: ${imp.kind} import ${imp.module}.${imp.name} resolves nowhere`);
        value = this.#forwarder(m, imp.module, imp.name);
      }
      (imports[imp.module] ??= {})[imp.name] = value;
    }
    const instance = new WebAssembly.Instance(module, imports);
    for (const [name, value] of Object.entries(instance.exports)) exports.set(name, value);
  }

  #forwarder(m: ModuleAdd, module: string, name: string): (...args: unknown[]) => unknown {
    let target: ((...args: unknown[]) => unknown) | undefined;
    return (...args) => {
      if (!target) {
        const found = this.#find(m.dylib, module, name);
        if (typeof found !== 'function') throw new LinkError(`module ${m.name}: import ${module}.${name} is not defined`);
        target = found as (...args: unknown[]) => unknown;
      }
      return target(...args);
    };
  }

  #get(dylib: string, symbol: string): WebAssembly.ExportValue {
    const v = this.#dylibs.get(dylib)?.get(symbol);
    if (v === undefined) throw new WorkloadError(`${dylib} has no symbol ${symbol}`);
    return v;
  }

  #memory(dylib: string, name: string): WebAssembly.Memory {
    const m = this.#get(dylib, name);
    if (!(m instanceof WebAssembly.Memory)) throw new WorkloadError(`${dylib}.${name} is not a memory`);
    return m;
  }

  async invoke(dylib: string, symbol: string, args: readonly number[] = []): Promise<number | undefined> {
    const f = this.#get(dylib, symbol);
    if (typeof f !== 'function') throw new WorkloadError(`${dylib}.${symbol} is not a function`);
    const r: unknown = (f as (...a: number[]) => unknown)(...args);
    return typeof r === 'number' ? r : undefined;
  }

  async readMemory(dylib: string, memory: string, offset: number, length: number): Promise<Uint8Array> {
    return new Uint8Array(this.#memory(dylib, memory).buffer, offset, length).slice();
  }

  async writeMemory(dylib: string, memory: string, offset: number, bytes: Uint8Array): Promise<void> {
    new Uint8Array(this.#memory(dylib, memory).buffer).set(bytes, offset);
  }

  async readGlobal(dylib: string, name: string): Promise<number> {
    const g = this.#get(dylib, name);
    if (!(g instanceof WebAssembly.Global) || typeof g.value !== 'number') throw new WorkloadError(`${dylib}.${name} is not an i32 global`);
    return g.value;
  }
}

/** What the direct child prints. */
export interface DirectReport extends WorkloadOutcome {
  /** First compile to last result. */
  readonly ms: number;
  /** Of which compiling and instantiating every module. */
  readonly linkMs: number;
}

export async function directRun(id: string, quick: boolean): Promise<DirectReport> {
  const m = realModule(id);
  if (!m) throw new WorkloadError(`no real module ${id}`);
  const setup = m.setup(); // reads the files before the clock starts
  const t0 = performance.now();
  const target = new DirectTarget(setup);
  const linkMs = performance.now() - t0;
  const outcome = await m.run(target, quick);
  return { ms: performance.now() - t0, linkMs, ...outcome };
}

if (import.meta.main) {
  const [id = '', mode] = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(await directRun(id, mode === 'quick'))}\n`);
}
