// What Executor needs from "a worker somewhere": one executor worker and its channels, for one
// generation (a restart opens a new connection). Two kinds implement it: WorkerConnection (a
// worker thread of this process) and the connections an ExecutorHostPool opens (a worker thread
// of a child process). Both keep the same promises: ops and requests are delivered in the order
// they are posted, every post wakes a worker blocked in a call-through, and events arrive in the
// order the worker posted them.

import type { ResourceLimits } from 'node:worker_threads';
import type { CallThroughAnswer, ExecRequest, LinkOp, WorkerEvent } from './protocol.ts';

/** How to start the worker: what crosses to wherever it runs (no functions here). */
export interface WorkerSettings {
  readonly resourceLimits: ResourceLimits | undefined;
  /**
   * Node's compile cache directory for the worker, or undefined for none. Each worker otherwise
   * strips the types of every executor .ts file again, which doubles its start time (~75 ms
   * against ~35 ms measured here).
   */
  readonly compileCacheDir: string | undefined;
  readonly maxOutputLines: number;
  readonly sessionMemoryLimitPages: number | undefined;
  /** Most elements all tables the session creates may hold together; undefined: no cap. */
  readonly sessionTableLimitElements: number | undefined;
}

export interface ConnectionCallbacks {
  readonly onEvent: (ev: WorkerEvent) => void;
  /**
   * The worker died on its own (not through `dispose`): an error, an exit, or the death of the
   * process it lived in. Called at most once; nothing is delivered after it.
   */
  readonly onDeath: (err: Error) => void;
}

export type ConnectionOptions = WorkerSettings & ConnectionCallbacks;

export interface ExecutorConnection {
  /** When this worker was asked to start (performance.now()), to measure its boot. */
  readonly startedAt: number;
  /** The process the worker runs in (undefined: a host that failed to start). */
  readonly pid: number | undefined;
  readonly isDisposed: boolean;
  postOp(op: LinkOp): void;
  postRequest(req: ExecRequest): void;
  answer(a: CallThroughAnswer): void;
  /** Stops the worker (interrupting running wasm) and ignores everything it says from now on. */
  dispose(): Promise<void>;
}

/** Opens connections: the seam between Executor and where its worker runs. */
export interface ConnectionFactory {
  open(opts: ConnectionOptions): ExecutorConnection;
}
