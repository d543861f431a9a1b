// The reference side of the differential fuzz test: the same module bytes instantiated with
// Node's own engine (new WebAssembly.Instance(new WebAssembly.Module(bytes), imports)), the
// same calls made in the same order. It runs in a worker thread because fuzzed code may loop
// forever and a direct call has no time limit of its own: the worker is terminated when the
// run's deadline passes, and the calls that finished by then are kept.

import { Worker } from 'node:worker_threads';
import type { NumType } from './numbers.ts';

export interface CallPlan {
  readonly name: string;
  readonly params: readonly NumType[];
  readonly results: readonly NumType[];
  /** Bit patterns, one per param. */
  readonly args: readonly string[];
}

/** How a call (or the instantiation) ended, on either side, in comparable terms. */
export type Outcome =
  | { readonly kind: 'ok'; readonly results: readonly string[] }
  | { readonly kind: 'trap'; readonly message: string }
  | { readonly kind: 'stackOverflow' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'error'; readonly message: string };

/** What the module's exported numeric globals and memories hold after the calls. */
export interface FinalState {
  /** Global name -> bits. */
  readonly globals: Readonly<Record<string, string>>;
  /** Memory name -> sha256 of its bytes, plus its size in pages. */
  readonly memories: Readonly<Record<string, string>>;
}

export interface DirectInput {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Binaries of the modules that provide the imports, by import module name. */
  readonly importModules: Readonly<Record<string, Uint8Array<ArrayBuffer>>>;
  readonly calls: readonly CallPlan[];
  readonly globals: readonly { readonly name: string; readonly type: NumType }[];
  readonly memories: readonly string[];
}

export interface DirectRun {
  readonly instantiation: Outcome;
  /** One per call that ended before the deadline, in order. */
  readonly calls: Outcome[];
  /** Set when every call ended. */
  final?: FinalState;
}

/** Messages the worker posts, in this order: instantiation, each call, final. */
export type WorkerMessage =
  | { readonly kind: 'instantiated'; readonly outcome: Outcome }
  | { readonly kind: 'call'; readonly outcome: Outcome }
  | { readonly kind: 'final'; readonly state: FinalState };

const WORKER_URL = new URL('./directWorker.ts', import.meta.url);

export function runDirect(input: DirectInput, deadlineMs: number): Promise<DirectRun> {
  return new Promise((resolve, reject) => {
    const run: DirectRun = { instantiation: { kind: 'timeout' }, calls: [] };
    let settled = false;
    const worker = new Worker(WORKER_URL, { workerData: input });
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve(run);
    };
    const timer = setTimeout(() => {
      // The call in progress (if any) is the one that ran out of time.
      if (run.instantiation.kind === 'ok' && run.calls.length < input.calls.length) run.calls.push({ kind: 'timeout' });
      finish();
    }, deadlineMs);
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.kind === 'instantiated') {
        (run as { instantiation: Outcome }).instantiation = msg.outcome;
        if (msg.outcome.kind !== 'ok') finish();
      } else if (msg.kind === 'call') {
        run.calls.push(msg.outcome);
      } else {
        run.final = msg.state;
        finish();
      }
    });
    worker.on('error', (err) => finish(err));
    worker.on('exit', (code) => finish(settled ? undefined : new Error(`the direct worker exited (code ${code}) before finishing`)));
  });
}
