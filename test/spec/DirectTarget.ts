// The baseline target: instantiates each module with Node's own engine (WebAssembly.Module and
// WebAssembly.Instance) on the test's own thread. Imports resolve against the spectest host
// module and the exports of registered modules. What the JS API cannot express is the
// baseline's known limit: NaN payloads may not survive JS numbers (those assertions fail), and
// v128 cannot cross at all (those commands are skipped, via SpecSkip).

import type { WasmValue } from '../../src/wasm/types.ts';
import { readExportTypes, type ExportType } from './exportTypes.ts';
import { isWasmGlobal, wasmApi, type WasmInstanceObject } from './jsApi.ts';
import { JsValueCodec } from './jsValues.ts';
import { SpecSkip, type ClassifiedError, type SpecTarget } from './SpecTarget.ts';
import { makeSpectest } from './spectest.ts';

export class DirectModule {
  readonly name: string | undefined;
  readonly instance: WasmInstanceObject;
  readonly exportTypes: ReadonlyMap<string, ExportType>;
  constructor(name: string | undefined, instance: WasmInstanceObject, exportTypes: ReadonlyMap<string, ExportType>) {
    this.name = name;
    this.instance = instance;
    this.exportTypes = exportTypes;
  }
}

export class DirectTarget implements SpecTarget<DirectModule> {
  /** Lines the spectest print functions wrote; kept for debugging, never asserted on. */
  readonly output: string[] = [];
  readonly #registry = new Map<string, Readonly<Record<string, unknown>>>();
  readonly #codec = new JsValueCodec();

  constructor() {
    this.#registry.set('spectest', makeSpectest(this.output));
  }

  async addModule(bytes: Uint8Array, name: string | undefined): Promise<DirectModule> {
    // Compiling first means a module that does not validate is reported as invalid even when
    // its imports could not be resolved either.
    const module = new wasmApi.Module(bytes);
    const imports: Record<string, Record<string, unknown>> = {};
    for (const imp of wasmApi.Module.imports(module)) {
      const value = this.#registry.get(imp.module)?.[imp.name];
      if (value === undefined) throw new wasmApi.LinkError(`unknown import ${JSON.stringify(imp.module)}.${JSON.stringify(imp.name)}`);
      (imports[imp.module] ??= {})[imp.name] = value;
    }
    const exportTypes = readExportTypes(bytes);
    let instance: WasmInstanceObject;
    try {
      instance = new wasmApi.Instance(module, imports);
    } catch (err) {
      // The JS API reports some import mismatches (a non-callable where a function is
      // expected) as TypeError; to the spec they are link errors all the same.
      if (err instanceof TypeError) throw new wasmApi.LinkError(err.message);
      throw err;
    }
    return new DirectModule(name, instance, exportTypes);
  }

  async register(module: DirectModule, as: string): Promise<void> {
    this.#registry.set(as, module.instance.exports);
  }

  async invoke(module: DirectModule, field: string, args: readonly WasmValue[]): Promise<readonly WasmValue[]> {
    const fn = module.instance.exports[field];
    const info = module.exportTypes.get(field);
    if (typeof fn !== 'function' || info?.kind !== 'function') throw new Error(`no exported function ${JSON.stringify(field)}`);
    const { params, results } = info.type;
    if (params.includes('v128') || results.includes('v128')) throw new SpecSkip('v128 cannot cross the JS API');
    if (args.length !== params.length) throw new Error(`${field} takes ${params.length} arguments, got ${args.length}`);
    const jsArgs = args.map((a) => this.#codec.toJs(a));
    const out: unknown = (fn as (...a: unknown[]) => unknown)(...jsArgs);
    if (results.length === 0) return [];
    if (results.length === 1) return [this.#codec.fromJs(results[0]!, out)];
    const values = Array.from(out as Iterable<unknown>);
    return results.map((t, i) => this.#codec.fromJs(t, values[i]));
  }

  async get(module: DirectModule, field: string): Promise<WasmValue> {
    const g = module.instance.exports[field];
    const info = module.exportTypes.get(field);
    if (!isWasmGlobal(g) || info?.kind !== 'global') throw new Error(`no exported global ${JSON.stringify(field)}`);
    return this.#codec.fromJs(info.type.type, g.value);
  }

  classify(err: unknown): ClassifiedError {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof wasmApi.RuntimeError) return { kind: 'trap', message };
    if (err instanceof wasmApi.CompileError) return { kind: 'invalid', message };
    if (err instanceof wasmApi.LinkError) return { kind: 'link', message };
    // V8 reports wasm stack overflow as the JS one.
    if (err instanceof RangeError && /call stack/i.test(message)) return { kind: 'exhaustion', message };
    return { kind: 'other', message };
  }

  async close(): Promise<void> {
    this.#registry.clear();
  }
}
