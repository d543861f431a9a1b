// Main side: one executor worker thread of this process and its channels (one "generation"; a
// restart makes a new one). An executor host runs the same class for each worker it holds.
// Posting is always asynchronous and never blocks main; after every op or call-through answer
// the shared signal counter is bumped and notified, which wakes a worker blocked in a
// call-through so it can apply the op (see CallThroughClient).

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { ConnectionOptions, ExecutorConnection } from './ExecutorConnection.ts';
import { SIGNAL, type CallThroughAnswer, type ExecRequest, type LinkOp, type WorkerEvent, type WorkerInit } from './protocol.ts';

export class WorkerConnection implements ExecutorConnection {
  private readonly worker: Worker;
  private readonly ops: MessagePort;
  private readonly answers: MessagePort;
  private readonly signal: Int32Array;
  private disposed = false;
  private dead = false;
  /** When this worker was asked to start (performance.now()), to measure its boot. */
  readonly startedAt = performance.now();
  readonly pid: number | undefined = process.pid;

  constructor(opts: ConnectionOptions) {
    const opsChannel = new MessageChannel();
    const answerChannel = new MessageChannel();
    const shared = new SharedArrayBuffer(16);
    this.signal = new Int32Array(shared);
    this.ops = opsChannel.port1;
    this.answers = answerChannel.port1;
    const init: WorkerInit = {
      opsPort: opsChannel.port2,
      answerPort: answerChannel.port2,
      signal: shared,
      maxOutputLines: opts.maxOutputLines,
      sessionMemoryLimitPages: opts.sessionMemoryLimitPages,
      sessionTableLimitElements: opts.sessionTableLimitElements,
    };
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), {
      workerData: init,
      transferList: [opsChannel.port2, answerChannel.port2],
      ...(opts.compileCacheDir !== undefined ? { env: { ...process.env, NODE_COMPILE_CACHE: opts.compileCacheDir } } : {}),
      ...(opts.resourceLimits ? { resourceLimits: opts.resourceLimits } : {}),
    });
    this.worker.on('message', (ev: WorkerEvent) => {
      if (!this.disposed) opts.onEvent(ev);
    });
    const die = (err: Error): void => {
      if (this.disposed || this.dead) return;
      this.dead = true;
      opts.onDeath(err);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`the executor worker exited with code ${code}`)));
  }

  postOp(op: LinkOp): void {
    this.ops.postMessage(op);
    this.wake();
  }

  postRequest(req: ExecRequest): void {
    this.worker.postMessage(req);
  }

  answer(a: CallThroughAnswer): void {
    if (this.disposed) return;
    this.answers.postMessage(a);
    this.wake();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Stops the worker (interrupting running wasm) and ignores everything it says from now on. */
  dispose(): Promise<void> {
    this.disposed = true;
    this.ops.close();
    this.answers.close();
    return this.worker.terminate().then(() => undefined);
  }

  private wake(): void {
    Atomics.add(this.signal, SIGNAL, 1);
    Atomics.notify(this.signal, SIGNAL);
  }
}
