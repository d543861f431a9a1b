// The main thread's side of the SQLite writer thread: StoreWrites as messages. Errors come
// back as their named classes. If the thread dies (a crash, an out-of-memory), the writes in
// flight fail with StoreUnavailable and the next write starts a new thread; a write in flight
// either committed before the thread died or not at all, as SQLite's journal guarantees.
// The thread keeps the process alive only while a write is in flight.

import { Worker } from 'node:worker_threads';
import { reviveStoreError, StoreClosed, StoreUnavailable } from '../errors.ts';
import { WRITE_METHODS, type StoreWrites } from '../sql/StoreCore.ts';
import type { WriteMethod, WriterInit, WriterReply, WriterRequest } from './writerProtocol.ts';

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Thread {
  readonly worker: Worker;
  readonly ready: Promise<void>;
}

export class WriterClient {
  private readonly init: WriterInit;
  private thread: Thread | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** StoreWrites whose every method is a message to the thread. */
  readonly writes: StoreWrites;

  private constructor(init: WriterInit) {
    this.init = init;
    this.writes = Object.fromEntries(
      WRITE_METHODS.map((m) => [m, (...args: unknown[]) => this.call(m, args)]),
    ) as unknown as StoreWrites;
  }

  /** Starts the thread, which opens, checks and migrates the file; rejects with what stopped it. */
  static async start(init: WriterInit): Promise<WriterClient> {
    const client = new WriterClient(init);
    await client.ensureThread().ready;
    return client;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const thread = this.thread;
    if (!thread) return;
    const exited = new Promise<void>((resolve) => thread.worker.once('exit', () => resolve()));
    thread.worker.ref();
    thread.worker.postMessage({ type: 'close' } satisfies WriterRequest);
    await exited;
  }

  private async call(method: WriteMethod, args: readonly unknown[]): Promise<unknown> {
    if (this.closed) throw new StoreClosed();
    const thread = this.ensureThread();
    await thread.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) thread.worker.ref();
      this.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ type: 'call', id, method, args } satisfies WriterRequest);
    });
  }

  private ensureThread(): Thread {
    if (this.thread) return this.thread;
    const worker = new Worker(new URL('./writerWorker.ts', import.meta.url), { workerData: this.init });
    let settle: { resolve(): void; reject(err: unknown): void } | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const thread: Thread = { worker, ready };
    this.thread = thread;
    worker.on('message', (reply: WriterReply) => {
      switch (reply.type) {
        case 'ready':
          settle?.resolve();
          worker.unref();
          return;
        case 'failed':
          settle?.reject(reviveStoreError(reply.error));
          return;
        case 'result':
        case 'error': {
          const p = this.pending.get(reply.id);
          if (!p) return;
          this.pending.delete(reply.id);
          if (this.pending.size === 0 && !this.closed) worker.unref();
          if (reply.type === 'result') p.resolve(reply.value);
          else p.reject(reviveStoreError(reply.error));
          return;
        }
        case 'closed':
          return;
      }
    });
    const died = (why: string) => {
      if (this.thread !== thread) return;
      this.thread = undefined;
      const err = new StoreUnavailable(`The SQLite writer thread for ${this.init.path} stopped (${why}).`, 1);
      settle?.reject(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => died(err.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
    // A thread that failed to open reports it and exits; its promise must not count as unhandled
    // when no call is waiting on it.
    ready.catch(() => {
      if (this.thread === thread) this.thread = undefined;
    });
    return thread;
  }
}
