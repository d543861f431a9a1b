// The JIT as a spec target: each script gets a fresh LazyJIT (its own session and executor);
// each module goes into a dylib of its own, added lazily or eagerly; `register "M"` creates a
// dylib "M" that reexports the module's exports, which is how imports from module "M"
// resolve. Values cross exactly (NaN payloads and v128 included), so this target can pass
// assertions the direct target cannot.

import { FailedToMaterialize, InvalidModule, JITError } from '../../src/core/errors.ts';
import { initSymbolName } from '../../src/jit/CompileOnDemandLayer.ts';
import { defaultJITConfig } from '../../src/config.ts';
import { LazyJIT } from '../../src/jit/LazyJIT.ts';
import type { WasmValue } from '../../src/wasm/types.ts';
import type { ClassifiedError, SpecTarget } from './SpecTarget.ts';

export interface JITModule {
  readonly dylib: string;
  readonly exports: readonly string[];
}

export interface JITTargetOptions {
  readonly lazy: boolean;
  readonly optimize?: number;
  /** LazyJIT's reoptimizeThreshold (1: every function is re-optimized on its first call); default: LazyJIT's. */
  readonly reoptimizeThreshold?: number;
  /** Receives what the session reports (e.g. a failed re-optimization, which no call sees). */
  readonly onReportedError?: (err: unknown) => void;
}

export class JITTarget implements SpecTarget<JITModule> {
  readonly jit: LazyJIT;
  private readonly options: JITTargetOptions;
  private next = 1;

  private constructor(jit: LazyJIT, options: JITTargetOptions) {
    this.jit = jit;
    this.options = options;
  }

  static async create(options: JITTargetOptions): Promise<JITTarget> {
    const jit = await LazyJIT.create({
      ...defaultJITConfig(),
      callTimeoutMs: 20_000,
      maxCallTimeoutMs: 20_000,
      ...(options.reoptimizeThreshold !== undefined ? { reoptimizeThreshold: options.reoptimizeThreshold } : {}),
    });
    if (options.onReportedError) jit.session.setErrorReporter(options.onReportedError);
    return new JITTarget(jit, options);
  }

  async addModule(bytes: Uint8Array, _name: string | undefined): Promise<JITModule> {
    const dylib = `module${this.next++}`;
    this.jit.createDylib(dylib);
    // A module that fails to instantiate keeps its dylib: wasm lets the elements it stored in a
    // shared table before failing outlive it, and calls through them must keep working.
    const added = await this.jit.addModule(dylib, { wasm: bytes }, {
      lazy: this.options.lazy,
      optimize: this.options.optimize ?? 2,
    });
    const exports = added.symbols.map((s) => s.name);
    // An eager module compiles on first lookup; the script expects it instantiated now.
    // (The initializer is the JIT's own symbol, not exported: looked up in the dylib itself.)
    if (!this.options.lazy) {
      const jd = this.jit.getDylib(dylib);
      await this.jit.session.lookup([{ jd, flags: 'MatchAllSymbols' }], [...exports, initSymbolName(added.id)]);
    }
    // The script expects every import resolved at instantiation; the JIT resolves a function
    // import that is missing then on its first call instead.
    if (added.unresolvedImports.length > 0) {
      const names = added.unresolvedImports.map((i) => `${i.module}.${i.name}`).join(', ');
      throw new FailedToMaterialize([{ dylib, name: names }], new Error(`unknown import ${names}`));
    }
    return { dylib, exports };
  }

  async register(module: JITModule, as: string): Promise<void> {
    if (this.jit.session.getJITDylibByName(as)) await this.jit.removeDylib(as);
    this.jit.createDylib(as);
    await this.jit.addReexports(as, module.dylib, new Map(module.exports.map((e) => [e, e])), false);
  }

  async invoke(module: JITModule, field: string, args: readonly WasmValue[]): Promise<readonly WasmValue[]> {
    try {
      return (await this.jit.invoke(module.dylib, field, () => [...args])).results;
    } finally {
      // Re-optimization runs beside the program: let it finish, so later calls run what it made.
      await this.jit.whenIdle();
    }
  }

  async get(module: JITModule, field: string): Promise<WasmValue> {
    const def = await this.jit.lookupData(module.dylib, field, 'global');
    const value = await this.jit.globalValue(def.entry);
    if (!value) throw new Error(`global ${field} has no value`);
    return value;
  }

  classify(err: unknown): ClassifiedError {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof InvalidModule) return { kind: 'invalid', message };
    if (err instanceof FailedToMaterialize) {
      // A module whose imports do not resolve or do not match is what the spec calls unlinkable.
      let cause: unknown = err.cause;
      while (cause instanceof FailedToMaterialize) cause = cause.cause;
      if (cause instanceof JITError && cause.code === 'Trap') return { kind: 'trap', message: cause.message };
      return { kind: 'link', message };
    }
    if (err instanceof JITError) {
      if (err.code === 'Trap') return { kind: 'trap', message };
      if (err.code === 'StackOverflow') return { kind: 'exhaustion', message };
    }
    return { kind: 'other', message };
  }

  close(): Promise<void> {
    return this.jit.close();
  }
}
