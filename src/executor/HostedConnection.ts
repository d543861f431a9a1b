// Parent side of one connection to a worker that lives in an executor host: the same contract as
// WorkerConnection (see ExecutorConnection), carried over the host's IPC channel. The host owns
// the worker's wake-up counter and bumps it after each op and answer it passes on.

import type { ConnectionOptions, ExecutorConnection } from './ExecutorConnection.ts';
import type { ToHost } from './hostProtocol.ts';
import type { CallThroughAnswer, ExecRequest, LinkOp, WorkerEvent } from './protocol.ts';

export class HostedConnection implements ExecutorConnection {
  readonly id: number;
  readonly startedAt = performance.now();
  private readonly send: (msg: ToHost) => void;
  private readonly opts: ConnectionOptions;
  private disposed = false;
  /** The worker is gone: it died, or the host confirmed a dispose. */
  private ended = false;
  private disposal: Promise<void> | null = null;
  private resolveDisposal: () => void = () => {};

  readonly pid: number | undefined;

  constructor(id: number, pid: number | undefined, send: (msg: ToHost) => void, opts: ConnectionOptions) {
    this.id = id;
    this.pid = pid;
    this.send = send;
    this.opts = opts;
    const { resourceLimits, compileCacheDir, maxOutputLines, sessionMemoryLimitPages, sessionTableLimitElements } = opts;
    send({ t: 'open', conn: id, settings: { resourceLimits, compileCacheDir, maxOutputLines, sessionMemoryLimitPages, sessionTableLimitElements } });
  }

  /** Counts towards its host's load: not disposed and not dead. */
  get isLive(): boolean {
    return !this.disposed && !this.ended;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  // Posting to a dead worker does nothing, as posting to a dead worker thread's port does.
  postOp(op: LinkOp): void {
    if (!this.ended) this.send({ t: 'op', conn: this.id, op });
  }

  postRequest(req: ExecRequest): void {
    if (!this.ended) this.send({ t: 'request', conn: this.id, req });
  }

  answer(a: CallThroughAnswer): void {
    if (!this.ended && !this.disposed) this.send({ t: 'answer', conn: this.id, answer: a });
  }

  dispose(): Promise<void> {
    if (this.disposal !== null) return this.disposal;
    this.disposed = true;
    this.disposal = new Promise<void>((resolve) => {
      this.resolveDisposal = resolve;
    });
    if (this.ended) this.resolveDisposal();
    else this.send({ t: 'dispose', conn: this.id });
    return this.disposal;
  }

  // --- what the host says about this connection ---------------------------------------------

  deliver(ev: WorkerEvent): void {
    if (this.isLive) this.opts.onEvent(ev);
  }

  /** The worker (or its whole host) died; a connection being disposed just finishes. */
  died(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (this.disposed) this.resolveDisposal();
    else this.opts.onDeath(err);
  }

  disposedByHost(): void {
    this.ended = true;
    this.resolveDisposal();
  }
}
