// The executor worker: owns every instance, memory, table and global of one session and runs all
// user code. It applies link ops in send order (from the ops port, both when idle and, through
// receiveMessageOnPort, at every point where order matters; OpSequencer says how ops sent during
// an instantiate's start function are ordered), answers one request at a time, and reports each
// top-level activity so main can time it and stop it.

import { getHeapStatistics } from 'node:v8';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { CallThroughClient } from './CallThroughClient.ts';
import { classify } from './failures.ts';
import { Invoker } from './Invoker.ts';
import { Linker } from './Linker.ts';
import { MEMORY_GROW_HOOK_ADDR, MemoryBudget } from './memoryBudget.ts';
import { OpSequencer } from './OpSequencer.ts';
import { OutputSink } from './OutputSink.ts';
import type { ExecRequest, ExecResponse, LinkOp, WorkerEvent, WorkerInit } from './protocol.ts';
import { RefInterner } from './RefInterner.ts';
import { SessionSpace } from './SessionSpace.ts';
import { TABLE_GROW_HOOK_ADDR, TableBudget } from './tableBudget.ts';
import { createHooks } from './hooks.ts';
import { createSpectest } from './spectestHost.ts';

const init = workerData as WorkerInit;
const port = parentPort;
if (port === null) throw new Error('worker.ts must run in a worker thread');

// Enough frames to name the functions around a trap; stack overflows are cut to this many.
Error.stackTraceLimit = 64;

const post = (ev: WorkerEvent): void => port.postMessage(ev);
const space = new SessionSpace();
const refs = new RefInterner(space);
const invoker = new Invoker(space, refs);
/** The current top-level activity's output; null when idle. Nested ops print into it. */
let sink: OutputSink | null = null;

const callThrough = new CallThroughClient({
  signal: new Int32Array(init.signal),
  answerPort: init.answerPort,
  post,
  drainOps,
  isResolved: (id) => linker.isResolved(id),
});
const memoryBudget = new MemoryBudget(init.sessionMemoryLimitPages);
const tableBudget = new TableBudget(init.sessionTableLimitElements);
const linker = new Linker(space, (id) => callThrough.resolve(id), memoryBudget, tableBudget);
space.placeFunction(MEMORY_GROW_HOOK_ADDR, memoryBudget.hookFunction());
space.placeFunction(TABLE_GROW_HOOK_ADDR, tableBudget.hookFunction());

const spectest = createSpectest((line) => sink?.push(line));
for (const f of spectest.functions) space.placeFunction(f.addr, f.fn);
for (const h of createHooks((id) => callThrough.notifyHot(id))) space.placeFunction(h.addr, h.fn);
for (const d of spectest.data) space.placeData(d.addr, d.object);

function applyOp(op: LinkOp): void {
  const topLevel = sink === null;
  const own = topLevel ? new OutputSink(init.maxOutputLines) : null;
  if (own !== null) {
    sink = own;
    // Only instantiation and start functions run user code, so only they need a watchdog.
    if (op.op === 'instantiate' || op.op === 'runStart') post({ ev: 'activity', activity: { kind: 'op', seq: op.seq } });
  }
  try {
    linker.apply(op);
    post({ ev: 'opResult', result: { seq: op.seq, ok: true, output: own?.lines() ?? [] } });
  } catch (err) {
    post({ ev: 'opResult', result: { seq: op.seq, ok: false, error: classify(err), output: own?.lines() ?? [] } });
  } finally {
    if (own !== null) sink = null;
  }
}

const sequencer = new OpSequencer(applyOp);

function drainOps(): void {
  for (let m = receiveMessageOnPort(init.opsPort); m !== undefined; m = receiveMessageOnPort(init.opsPort)) {
    sequencer.submit(m.message as LinkOp);
  }
}

function handle(req: ExecRequest): ExecResponse {
  switch (req.req) {
    case 'invoke': {
      const own = new OutputSink(init.maxOutputLines);
      sink = own;
      post({ ev: 'activity', activity: { kind: 'invoke', id: req.id } });
      const waitedBefore = callThrough.waitedMs;
      const started = performance.now();
      try {
        const results = invoker.invoke(req.addr, req.type, req.args);
        const runMs = performance.now() - started - (callThrough.waitedMs - waitedBefore);
        return { id: req.id, ok: true, results, output: own.lines(), runMs };
      } catch (err) {
        return { id: req.id, ok: false, error: classify(err), output: own.lines() };
      } finally {
        sink = null;
      }
    }
    case 'readMemory':
      return { id: req.id, ok: true, ...invoker.readMemory(req.addr, req.offset, req.length) };
    case 'writeMemory':
      invoker.writeMemory(req.addr, req.offset, req.bytes);
      return { id: req.id, ok: true };
    case 'readGlobal':
      return { id: req.id, ok: true, value: invoker.readGlobal(req.addr, req.type) };
    case 'dataSize':
      return { id: req.id, ok: true, size: invoker.dataSize(req.addr) };
  }
}

/** Usage rides on a response at most once a second: metrics want it, calls should not pay for it. */
let usageAt = -Infinity;
function withUsage(response: ExecResponse): ExecResponse {
  const now = performance.now();
  if (now - usageAt < 1000) return response;
  usageAt = now;
  const usage = { memoryPages: memoryBudget.usedPages(), tableElements: tableBudget.usedElements(), heapUsedBytes: getHeapStatistics().used_heap_size };
  return { ...response, usage };
}

init.opsPort.on('message', (op: LinkOp) => sequencer.submit(op));
port.on('message', (req: ExecRequest) => {
  // Every op sent before this request must be in place before it runs.
  drainOps();
  let response: ExecResponse;
  try {
    response = handle(req);
  } catch (err) {
    response = { id: req.id, ok: false, error: classify(err) };
  }
  post({ ev: 'response', response: withUsage(response) });
});

post({ ev: 'ready' });
