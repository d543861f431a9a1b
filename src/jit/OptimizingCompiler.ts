// The JIT's binaryen thread: WAT parsing and the optimized tier (ORC's compile threads, for the
// one compiler that is expensive). Every job is bytes in, bytes out, so a worker-pool library
// runs it: piscina starts the thread on the first job (an idle server never loads binaryen, which
// holds ~70 MB) and stops it after a while without work. One thread for the whole process, shared
// by every session: binaryen's jobs are large and the machine's other core runs the executors.

import { Piscina } from 'piscina';
import { InvalidModule } from '../core/errors.ts';
import { StartupWindows } from '../executor/StartupWindows.ts';
import type { OptimizeOptions } from '../wasm/optimizing.ts';
import type { JobResult } from './optimizerThread.ts';

/** Stop the thread after this long without a job. */
const IDLE_MS = 30_000;

export class OptimizingCompiler {
  #pool: Piscina | undefined;
  /** When the thread was starting (loading binaryen): not counted against the calls that waited. */
  readonly startups = new StartupWindows();
  #endStartup: (() => void) | undefined;

  /** The process's optimizer. */
  static shared(): OptimizingCompiler {
    shared ??= new OptimizingCompiler();
    return shared;
  }

  private get pool(): Piscina {
    this.#pool ??= new Piscina({
      filename: new URL('./optimizerThread.ts', import.meta.url).href,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: IDLE_MS,
    });
    return this.#pool;
  }

  async #run(task: object, name: string): Promise<JobResult> {
    const pool = this.pool;
    // No thread: this job starts one, which loads binaryen first (again after IDLE_MS idle). A
    // `ready` job ahead of it (one thread, jobs in order) answers when the load is done.
    if (pool.threads.length === 0 && this.#endStartup === undefined) {
      const end = this.startups.begin();
      this.#endStartup = end;
      const done = () => {
        end();
        if (this.#endStartup === end) this.#endStartup = undefined;
      };
      pool.run({}, { name: 'ready' }).then(done, done);
    }
    return (await pool.run(task, { name })) as JobResult;
  }

  /** Whether the thread has been started (for metrics and tests). */
  get started(): boolean {
    return this.#pool !== undefined;
  }

  /** Parses and validates WAT; throws InvalidModule. */
  async watToWasm(text: string): Promise<Uint8Array> {
    return unwrap(await this.#run({ text }, 'wat'));
  }

  /** Optimizes a valid binary at `options.level`; throws (Error) when binaryen cannot. */
  async optimize(bytes: Uint8Array, options: OptimizeOptions): Promise<Uint8Array> {
    return unwrap(await this.#run({ bytes, options }, 'optimize'));
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#endStartup?.();
    this.#endStartup = undefined;
    await pool?.destroy();
  }
}

let shared: OptimizingCompiler | undefined;

function unwrap(r: JobResult): Uint8Array {
  if (r.ok) return r.bytes;
  if (r.kind === 'InvalidModule') throw new InvalidModule(r.message, r.diagnostics);
  throw new Error(r.message);
}
