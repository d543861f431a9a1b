// The floor under issue 13's goal: the bare fastify route of bench/bare-server.ts, with the one
// thing the service must add to it: the user's function runs off the event loop. HOP says how
// the request travels to the code that computes the sum and back:
//
//   thread   a worker thread, one postMessage each way (the executor with EXECUTOR_PROCESSES=0)
//   process  a child process over Node's IPC channel, advanced serialization (the executor hosts)
//   shared   a worker thread through rings in a SharedArrayBuffer: the worker blocks in
//            Atomics.wait while there is nothing to do, the main thread learns of answers through
//            Atomics.waitAsync (no message, no serialization; one futex wake each way at most)
//
// No validation, no JIT, no metrics: what is measured is the hop alone. bench/hopFloor.ts drives it.
// PORT from the environment; prints the address it listens on, as bare-server.ts does.

import { fork, type ChildProcess } from 'node:child_process';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import Fastify from 'fastify';

type Hop = 'thread' | 'process' | 'shared';

/** Slots per ring: a request slot is three int32s (id, a, b), an answer slot two (id, sum). */
const SLOTS = 1024;
/** Int32 indexes of the control words at the start of the buffer. */
const REQ_HEAD = 0;
const RES_HEAD = 1;
const CONTROL = 4;

interface SharedRings {
  readonly control: Int32Array;
  /** Requests: id, a, b per slot. */
  readonly req: Int32Array;
  /** Answers: id, sum per slot. */
  readonly res: Int32Array;
}

function rings(sab: SharedArrayBuffer): SharedRings {
  return {
    control: new Int32Array(sab, 0, CONTROL),
    req: new Int32Array(sab, CONTROL * 4, SLOTS * 3),
    res: new Int32Array(sab, CONTROL * 4 + SLOTS * 12, SLOTS * 2),
  };
}

const add = (a: number, b: number): number => (a + b) | 0;

// The worker side of 'thread' and 'shared', and the child side of 'process'.
if (!isMainThread && workerData?.hop === 'shared') {
  const { control, req, res } = rings(workerData.sab as SharedArrayBuffer);
  let seen = 0;
  let written = 0;
  for (;;) {
    Atomics.wait(control, REQ_HEAD, seen);
    const head = Atomics.load(control, REQ_HEAD);
    for (; seen !== head; seen = (seen + 1) | 0) {
      const i = (seen % SLOTS) * 3;
      const o = (written % SLOTS) * 2;
      res[o] = req[i] as number;
      res[o + 1] = add(req[i + 1] as number, req[i + 2] as number);
      written = (written + 1) | 0;
    }
    Atomics.store(control, RES_HEAD, written);
    Atomics.notify(control, RES_HEAD);
  }
} else if (!isMainThread) {
  parentPort?.on('message', (m: { id: number; a: number; b: number }) => parentPort?.postMessage({ id: m.id, value: add(m.a, m.b) }));
} else if (process.env['HOP_CHILD'] === '1') {
  process.on('message', (m: { id: number; a: number; b: number }) => process.send?.({ id: m.id, value: add(m.a, m.b) }));
} else {
  await serve((process.env['HOP'] ?? 'thread') as Hop);
}

async function serve(hop: Hop): Promise<void> {
  const pending = new Map<number, (value: number) => void>();
  let nextId = 0;
  const settle = (id: number, value: number): void => {
    const resolve = pending.get(id);
    pending.delete(id);
    resolve?.(value);
  };
  let send: (id: number, a: number, b: number) => void;
  let stop: () => void;

  if (hop === 'process') {
    const child: ChildProcess = fork(new URL(import.meta.url), [], { env: { ...process.env, HOP_CHILD: '1' }, serialization: 'advanced' });
    child.on('message', (m: { id: number; value: number }) => settle(m.id, m.value));
    send = (id, a, b) => void child.send({ id, a, b });
    stop = () => void child.kill();
  } else if (hop === 'thread') {
    const worker = new Worker(new URL(import.meta.url), { workerData: { hop } });
    worker.on('message', (m: { id: number; value: number }) => settle(m.id, m.value));
    send = (id, a, b) => worker.postMessage({ id, a, b });
    stop = () => void worker.terminate();
  } else {
    const sab = new SharedArrayBuffer(CONTROL * 4 + SLOTS * 12 + SLOTS * 8);
    const { control, req, res } = rings(sab);
    const worker = new Worker(new URL(import.meta.url), { workerData: { hop, sab } });
    let written = 0;
    let read = 0;
    let stopped = false;
    // Answers: wait (asynchronously: this is the event loop) for RES_HEAD to move past what was read.
    const drain = (): void => {
      if (stopped) return;
      const head = Atomics.load(control, RES_HEAD);
      for (; read !== head; read = (read + 1) | 0) {
        const o = (read % SLOTS) * 2;
        settle(res[o] as number, res[o + 1] as number);
      }
      const w = Atomics.waitAsync(control, RES_HEAD, head);
      if (w.async) void w.value.then(drain);
      else queueMicrotask(drain);
    };
    drain();
    send = (id, a, b) => {
      // At most SLOTS requests are in flight (10 connections here), so the ring never laps.
      const i = (written % SLOTS) * 3;
      req[i] = id;
      req[i + 1] = a;
      req[i + 2] = b;
      written = (written + 1) | 0;
      Atomics.store(control, REQ_HEAD, written);
      Atomics.notify(control, REQ_HEAD);
    };
    stop = () => {
      stopped = true;
      void worker.terminate();
    };
  }

  const app = Fastify({ logger: false });
  app.post<{ Params: { dylib: string; symbol: string }; Body: { args: number[] } }>('/dylibs/:dylib/symbols/:symbol/invoke', async (request) => {
    const [a = 0, b = 0] = request.body.args;
    const id = (nextId = (nextId + 1) | 0);
    const s = await new Promise<number>((resolve) => {
      pending.set(id, resolve);
      send(id, a, b);
    });
    return { results: [{ type: 'i32', value: s, bits: String(s >>> 0) }], compiled: [], output: [], timing: { compileMs: 0, runMs: 0.01 } };
  });
  app.get('/health', async () => ({ status: 'ok' }));
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT'] ?? 0) });
  process.stdout.write(`listening ${address}\n`);
  process.once('SIGTERM', () => {
    stop();
    void app.close().then(() => process.exit(0));
  });
}
