// The JIT's side of its compile thread: parsed modules stay in that thread (binaryen's heap is
// there), and each job — parse, build a globals module, extract functions, compile a whole
// module — is a message answered with plain data or a compiled WebAssembly.Module. One thread
// serves every session of the process; it is unref'd, so it never keeps the process alive.
//
// A hand-written worker rather than a pool library: each parsed module must stay in the
// thread that parsed it (re-parsing per job would make extraction cost the whole module), which
// stateless task pools do not model.

import { Worker } from 'node:worker_threads';
import { InvalidModule, ResourceExhausted } from '../core/errors.ts';
import type { ExtractOptions, ModuleInfo, ParseOptions, ReoptimizeOptions } from '../wasm/index.ts';
import type { CompiledObject, CompileReply, CompileRequest, ModuleSourceMessage, SerializedError } from './compileProtocol.ts';

export type { CompiledObject };

/** Distributes Omit over the request union. */
type RequestBody<R> = R extends unknown ? Omit<R, 'id'> : never;

/** A module parsed in the compile thread, as the JIT sees it. */
export class CompilerModule {
  readonly id: number;
  readonly info: ModuleInfo;
  private readonly compiler: WasmCompiler;
  private disposed = false;

  constructor(compiler: WasmCompiler, id: number, info: ModuleInfo) {
    this.compiler = compiler;
    this.id = id;
    this.info = info;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.compiler.request({ job: 'dispose', module: this.id }).catch(() => {});
  }
}

export class WasmCompiler {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: CompileReply & { ok: true }) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private nextModule = 1;

  /** The process's compile thread, started on first use. */
  static shared(): WasmCompiler {
    shared ??= new WasmCompiler();
    return shared;
  }

  private constructor() {
    this.worker = new Worker(new URL('./compileWorker.ts', import.meta.url));
    // Referenced only while a job is pending: an idle compile thread never holds the process.
    this.worker.unref();
    this.worker.on('message', (reply: CompileReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) p.resolve(reply);
      else p.reject(deserialize(reply.error));
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) => {
      this.failAll(new Error(`the compile thread exited with code ${code}`));
      if (shared === this) shared = undefined;
    });
  }

  /** @internal */
  request(body: RequestBody<CompileRequest>): Promise<CompileReply & { ok: true }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...body, id });
    });
  }

  private failAll(err: unknown): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Parses and validates a module; throws InvalidModule or ResourceExhausted. */
  async parse(source: ModuleSourceMessage, options: ParseOptions): Promise<CompilerModule> {
    const module = this.nextModule++;
    const reply = await this.request({ job: 'parse', module, source, options });
    return new CompilerModule(this, module, reply.info as ModuleInfo);
  }

  async buildGlobalsModule(m: CompilerModule, options: { keepFunctions: readonly number[]; optimizeLevel: number }): Promise<CompiledObject> {
    return (await this.request({ job: 'globals', module: m.id, options })).object as CompiledObject;
  }

  async extractFunctions(m: CompilerModule, functions: readonly number[], options: ExtractOptions): Promise<CompiledObject> {
    return (await this.request({ job: 'extract', module: m.id, functions, options })).object as CompiledObject;
  }

  /** The optimized tier of function `root`: it and the callees it reaches, in one piece exporting only it. */
  async reoptimize(m: CompilerModule, root: number, options: ReoptimizeOptions): Promise<CompiledObject> {
    return (await this.request({ job: 'reoptimize', module: m.id, root, options })).object as CompiledObject;
  }

  async compileWhole(m: CompilerModule, options: { optimizeLevel: number }): Promise<CompiledObject> {
    return (await this.request({ job: 'whole', module: m.id, options })).object as CompiledObject;
  }
}

let shared: WasmCompiler | undefined;

function deserialize(e: SerializedError): Error {
  switch (e.kind) {
    case 'InvalidModule':
      return new InvalidModule(e.message, e.diagnostics);
    case 'ResourceExhausted':
      return new ResourceExhausted(e.limit, e.message);
    case 'Error':
      return new Error(e.message);
  }
}
