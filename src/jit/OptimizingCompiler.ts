// The JIT's binaryen thread: WAT parsing and the optimized tier (ORC's compile threads, for the
// one compiler that is expensive). Every job is bytes in, bytes out, so a worker-pool library
// runs it: piscina starts the thread on the first job (an idle server never loads binaryen, which
// holds ~70 MB) and stops it after a while without work. One thread for the whole process, shared
// by every session: binaryen's jobs are large and the machine's other core runs the executors.

import { Piscina } from 'piscina';
import { InvalidModule } from '../core/errors.ts';
import type { OptimizeOptions } from '../wasm/optimizing.ts';
import type { JobResult } from './optimizerThread.ts';

/** Stop the thread after this long without a job. */
const IDLE_MS = 30_000;

export class OptimizingCompiler {
  #pool: Piscina | undefined;

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

  /** Whether the thread has been started (for metrics and tests). */
  get started(): boolean {
    return this.#pool !== undefined;
  }

  /** Parses and validates WAT; throws InvalidModule. */
  async watToWasm(text: string): Promise<Uint8Array> {
    return unwrap(await this.pool.run({ text }, { name: 'wat' }));
  }

  /** Optimizes a valid binary at `options.level`; throws (Error) when binaryen cannot. */
  async optimize(bytes: Uint8Array, options: OptimizeOptions): Promise<Uint8Array> {
    return unwrap(await this.pool.run({ bytes, options }, { name: 'optimize' }));
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.destroy();
  }
}

let shared: OptimizingCompiler | undefined;

function unwrap(r: JobResult): Uint8Array {
  if (r.ok) return r.bytes;
  if (r.kind === 'InvalidModule') throw new InvalidModule(r.message, r.diagnostics);
  throw new Error(r.message);
}
