// The messages between the server process and an executor host (a child process holding the
// worker threads of several sessions), over the child's IPC channel with Node's 'advanced'
// serialization (structured clone, so Uint8Array bytes cross as bytes).
//
// One channel carries every connection of the host, each message tagged with its connection id;
// each IPC message is an array of these, sent in order (BatchedSend).
// Node delivers IPC messages in send order, so a connection's ops and requests reach the host in
// the order Executor posted them, and its events reach Executor in the order the worker posted
// them: the same guarantees as a worker of the server's own process (see ExecutorConnection).

import type { WorkerSettings } from './ExecutorConnection.ts';
import type { CallThroughAnswer, ExecRequest, LinkOp, WorkerEvent } from './protocol.ts';

export type ToHost =
  /** Starts a worker for connection `conn`. */
  | { readonly t: 'open'; readonly conn: number; readonly settings: WorkerSettings }
  | { readonly t: 'op'; readonly conn: number; readonly op: LinkOp }
  | { readonly t: 'request'; readonly conn: number; readonly req: ExecRequest }
  | { readonly t: 'answer'; readonly conn: number; readonly answer: CallThroughAnswer }
  /** Terminates the connection's worker; the host answers `disposed` once it is gone. */
  | { readonly t: 'dispose'; readonly conn: number };

export type FromHost =
  /** The host listens for messages (sent once, first). */
  | { readonly t: 'hello'; readonly pid: number }
  | { readonly t: 'event'; readonly conn: number; readonly ev: WorkerEvent }
  /** The worker died on its own; `code` is Node's error code when there is one (ERR_WORKER_OUT_OF_MEMORY). */
  | { readonly t: 'death'; readonly conn: number; readonly message: string; readonly code: string | undefined }
  | { readonly t: 'disposed'; readonly conn: number };
