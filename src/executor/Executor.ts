// Main-thread proxy of the executor: the one object the JIT uses to change and run the
// session's code. It owns the worker's lifecycle (a worker thread of this process, or of an
// executor host process when started with a pool), keeps requests in a FIFO (one runs at a time;
// up to MAX_IN_FLIGHT are sent ahead so the worker goes from one to the next without waiting for
// main), assigns link ops their send order, answers lazy call-throughs with the JIT's handler, enforces
// time limits (terminate, restart, replay) and turns worker failures into JITErrors.
//
// Main never blocks on the worker: every interaction is a posted message, and the worker blocks
// only while main runs a call-through handler (see CallThroughClient for why that is safe).

import { AsyncResource } from 'node:async_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import { ExecutionTimeout, ResourceExhausted, TypeMismatch } from '../core/errors.ts';
import type { HostFunction } from '../wasm/index.ts';
import type { FuncType, GlobalType, WasmValue } from '../wasm/types.ts';
import { HOOK_ADDRESSES } from './hooks.ts';
import { failureToError } from './errors.ts';
import type { Activity, ExecRequest, ExecResponse, ExecutorAddr, LinkOp, LinkOpInput, LinkOpResult, WorkerEvent, WorkerUsage } from './protocol.ts';
import { CallThroughServer, type CallThroughHandler } from './CallThroughServer.ts';
import { checkValue } from './rawValues.ts';
import { ReplayLog } from './ReplayLog.ts';
import { SPECTEST_FUNCTIONS, SPECTEST_SYMBOLS, type HostSymbol } from './spectest.ts';
import { StartupWindows } from './StartupWindows.ts';
import { Watchdog } from './Watchdog.ts';
import { WorkerConnection } from './WorkerConnection.ts';
import type { ConnectionFactory, ExecutorConnection } from './ExecutorConnection.ts';
import { ExecutorHostDied, ExecutorHostPoolClosed, isHeapExhaustion } from './hostErrors.ts';

export interface ExecutorOptions {
  /**
   * Heap limit of the worker (V8 old generation), in MB. Unset: Node's default. It bounds the
   * worker's JavaScript objects, not linear memories (their buffers live outside that heap).
   */
  readonly heapLimitMb?: number;
  /** Most 64 KiB pages the session's memories (createMemory) may hold together. Unset: no cap. */
  readonly sessionMemoryLimitPages?: number;
  /**
   * Most elements the tables the session's modules define may hold together (instantiate ops
   * that define tables, table.grow). Unset: no cap. Tables live in the worker's heap: keep this
   * well under heapLimitMb.
   */
  readonly sessionTableLimitElements?: number;
  /** Time limit for a start function run by apply(instantiate) outside any invoke. Default 10 s. */
  readonly startTimeoutMs?: number;
  /** Print lines kept per invoke or op; more are counted in a final line. Default 10,000. */
  readonly maxOutputLines?: number;
  /**
   * Node compile cache directory for the worker's modules (speeds up every worker start, restarts
   * included). Default: $NODE_COMPILE_CACHE, else Node's usual <tmpdir>/node-compile-cache.
   * false: none.
   */
  readonly compileCacheDir?: string | false;
  /** A call-through handler that has not settled after this long fails the call. Default 60 s. */
  readonly callThroughTimeoutMs?: number;
  /**
   * Where the worker lives: an ExecutorHostPool runs it in a child process, so that V8 aborting
   * that process (heap exhaustion) cannot take the server down. Unset: a worker thread of this
   * process. Behaviour is the same either way; a host's death restarts the worker like any death.
   */
  readonly host?: ConnectionFactory;
}

export interface InvokeOptions {
  /** The whole call's time limit, compiles on its way (call-throughs) included. */
  readonly timeoutMs: number;
}

export interface InvokeResult {
  readonly results: WasmValue[];
  /** Lines printed through spectest during the call, including by start functions it caused. */
  readonly output: string[];
  /** Time spent running in the worker, excluding waits for call-through handlers. */
  readonly runMs: number;
}

/**
 * Looks the body behind `callThroughId` up (materializing it) and repoints its stub, by calling
 * `apply` (awaiting it is allowed). It must not issue requests (invoke, readMemory, ...): those
 * are refused while a call waits for it. It runs in the async context of the invoke (or apply)
 * whose code reached the trampoline, so the JIT can tell which call a compile was for.
 */
export type { CallThroughHandler };

/** A function's entry counter reached its threshold; `hookId` is the id compiled into it. */
export type HotHandler = (hookId: number) => void;

export interface ExecutorStats {
  readonly restarts: number;
  readonly invokes: number;
  /** Function slots in use, spectest included. */
  readonly slotsUsed: number;
  readonly replayLogOps: number;
  /** Replayed ops that failed on a fresh worker and were dropped. */
  readonly replayFailures: number;
  readonly callThroughs: number;
  /** Milliseconds from the latest worker's start to its ready message (a new host's start included). */
  readonly lastBootMs: number;
  /** The process the current worker runs in: this one, or an executor host. */
  readonly pid: number | undefined;
  /** Requests sent to the worker (the first runs, the rest wait there) and waiting here behind them. */
  readonly inFlight: number;
  readonly queued: number;
  /** What the worker last said it uses (memories, tables, its heap); undefined before its first report. */
  readonly usage: WorkerUsage | undefined;
}

interface PendingOp {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  /** The async context of apply()'s caller: where a call-through of this op's start function runs. */
  readonly scope: AsyncResource;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type OkResponse = Extract<ExecResponse, { ok: true }>;

function invokeResult(r: OkResponse): InvokeResult {
  return { results: [...(r.results ?? [])], output: [...(r.output ?? [])], runMs: r.runMs ?? 0 };
}

interface Job {
  id: number;
  readonly request: WithoutId<ExecRequest>;
  readonly timeoutMs: number | undefined;
  /** The async context of the caller: where call-throughs made during this request run. */
  readonly scope: AsyncResource;
  readonly settle: (r: OkResponse) => void;
  readonly fail: (err: unknown) => void;
}

const MAX_CONSECUTIVE_DEATHS = 3;
/**
 * Requests sent to the worker ahead of their turn. A few are enough for a worker never to wait
 * for main between calls; more would only move the queue from here to the worker's port, where
 * a restart has to send it all again.
 */
const MAX_IN_FLIGHT = 16;

export class Executor {
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly heapLimitMb: number | undefined;
  private sessionMemoryLimitPages: number | undefined;
  private readonly sessionTableLimitElements: number | undefined;
  private readonly startTimeoutMs: number;
  private readonly maxOutputLines: number;
  private readonly compileCacheDir: string | undefined;
  private readonly host: ConnectionFactory | undefined;

  /** The running worker; null until one is needed (startWorker: false) and after suspend(). */
  private conn: ExecutorConnection | null = null;
  /**
   * While set, link ops are only logged, not sent, and start no worker: recovery defines a
   * session's code without running anything; its first request starts a worker that replays it all.
   */
  deferStart = false;
  private readonly terminations = new Set<Promise<void>>();
  private booted: { resolve: () => void; reject: (err: unknown) => void } | null = null;
  /** When workers were booting: not counted against the calls that waited for them. */
  readonly startups = new StartupWindows();
  private endStartup: () => void = () => {};
  private closed = false;
  private broken: Error | null = null;
  private deathsSinceReady = 0;

  private nextSeq = 1;
  private nextRequestId = 1;
  private readonly log = new ReplayLog();
  private readonly pendingOps = new Map<number, PendingOp>();
  private readonly queue: Job[] = [];
  /** Requests sent to the worker, oldest first: the first one is running or about to. */
  private readonly inflight: Job[] = [];
  /** The worker's current top-level activity, as it reported it. */
  private current: Activity | null = null;
  private readonly watchdog: Watchdog;

  private readonly callThroughs: CallThroughServer;
  private onHot: HotHandler = () => {};

  private usage: WorkerUsage | undefined;
  private counters = { restarts: 0, invokes: 0, replayFailures: 0, callThroughs: 0, lastBootMs: 0 };

  private constructor(opts: ExecutorOptions) {
    this.heapLimitMb = opts.heapLimitMb;
    this.sessionMemoryLimitPages = opts.sessionMemoryLimitPages;
    this.sessionTableLimitElements = opts.sessionTableLimitElements;
    this.resourceLimits = opts.heapLimitMb === undefined ? undefined : { maxOldGenerationSizeMb: opts.heapLimitMb };
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.maxOutputLines = opts.maxOutputLines ?? 10_000;
    this.compileCacheDir =
      opts.compileCacheDir === false
        ? undefined
        : (opts.compileCacheDir ?? process.env['NODE_COMPILE_CACHE'] ?? join(tmpdir(), 'node-compile-cache'));
    this.host = opts.host;
    this.callThroughs = new CallThroughServer(opts.callThroughTimeoutMs ?? 60_000);
    this.watchdog = new Watchdog(() => this.onTimeout());
  }

  /**
   * Starts a worker and resolves once it has created the spectest module and is ready; with
   * `startWorker: false`, resolves at once and the first op or request starts the worker.
   */
  static async start(opts: ExecutorOptions & { startWorker?: boolean } = {}): Promise<Executor> {
    const ex = new Executor(opts);
    if (opts.startWorker === false) return ex;
    const ready = new Promise<void>((resolve, reject) => {
      ex.booted = { resolve, reject };
    });
    ex.connected();
    await ready;
    return ex;
  }

  /** The page budget of the session's memories from the next worker start on (it is the worker's to enforce). */
  setSessionMemoryLimitPages(pages: number | undefined): void {
    this.sessionMemoryLimitPages = pages;
  }

  /** Whether a worker runs (it stops with suspend() and starts again when needed). */
  get isRunning(): boolean {
    return this.conn !== null;
  }

  /**
   * Stops the worker of an idle session to give its memory back, keeping the link log: the next
   * op or request starts a fresh worker that replays it, so definitions stay and runtime state
   * is what instantiating again produces. Does nothing (false) while anything is pending.
   */
  async suspend(): Promise<boolean> {
    const conn = this.conn;
    if (conn === null || this.inflight.length > 0 || this.queue.length > 0 || this.pendingOps.size > 0 || this.booted !== null) return false;
    this.conn = null;
    this.current = null;
    this.watchdog.disarm();
    this.callThroughs.clear();
    await conn.dispose().catch(() => undefined);
    return true;
  }

  /** The running worker, starting one (and replaying the log to it) when there is none. */
  private connected(): ExecutorConnection {
    if (this.conn !== null) return this.conn;
    const conn = this.connect();
    this.conn = conn;
    for (const op of this.log.ops()) conn.postOp(op);
    return conn;
  }

  /** The spectest host module's entities, at the fixed addresses every worker creates them at. */
  hostSymbols(): readonly HostSymbol[] {
    return SPECTEST_SYMBOLS;
  }

  /** Where the executor's own functions (the grow and reoptimize hooks) sit; the JIT allocates above them. */
  hookAddresses(): Readonly<Record<HostFunction, ExecutorAddr>> {
    return HOOK_ADDRESSES;
  }

  setCallThroughHandler(h: CallThroughHandler): void {
    this.callThroughs.setHandler(h);
  }

  setHotHandler(h: HotHandler): void {
    this.onHot = h;
  }

  /**
   * Posts a link op now (so ops apply in call order) and settles once the worker applied it.
   * Rejects with Trap/StackOverflow (start function), ExecutionTimeout (start function ran past
   * startTimeoutMs), ExecutorLinkError, ResourceExhausted, or the call-through handler's error.
   * Lines a start function prints reach the caller only inside a Trap (its `output`), or in the
   * invoke's output when the op was applied during that invoke.
   */
  apply(input: LinkOpInput): Promise<void> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    const op = { ...input, seq: this.nextSeq++ } as LinkOp;
    this.log.add(op);
    const done = new Promise<void>((resolve, reject) => {
      this.pendingOps.set(op.seq, { resolve, reject, scope: new AsyncResource('wasmjit.linkOp') });
    });
    if (this.conn !== null) this.conn.postOp(op);
    else if (!this.deferStart) this.connected(); // posts the log, this op included
    return done;
  }

  /** Calls the function at `addr`; queued FIFO behind earlier requests. */
  invoke(addr: ExecutorAddr, type: FuncType, args: readonly WasmValue[], opts: InvokeOptions): Promise<InvokeResult> {
    if (args.length !== type.params.length) {
      return Promise.reject(new TypeMismatch(`Expected ${type.params.length} arguments, got ${args.length}.`));
    }
    for (let i = 0; i < args.length; i++) {
      const why = checkValue(type.params[i] ?? 'i32', args[i] as WasmValue);
      if (why !== undefined) return Promise.reject(new TypeMismatch(`Argument ${i}: ${why}.`));
    }
    if (!(opts.timeoutMs > 0)) return Promise.reject(new RangeError('timeoutMs must be a positive number'));
    this.counters.invokes++;
    return this.enqueue({ req: 'invoke', addr, type, args }, opts.timeoutMs, invokeResult);
  }

  /** `length` defaults to the rest of the memory from `offset`. */
  readMemory(addr: ExecutorAddr, offset: number, length?: number): Promise<{ bytes: Uint8Array; pages: number }> {
    return this.enqueue({ req: 'readMemory', addr, offset, length }).then((r) => ({
      bytes: r.bytes ?? new Uint8Array(0),
      pages: r.pages ?? 0,
    }));
  }

  writeMemory(addr: ExecutorAddr, offset: number, bytes: Uint8Array): Promise<void> {
    return this.enqueue({ req: 'writeMemory', addr, offset, bytes }).then(() => undefined);
  }

  readGlobal(addr: ExecutorAddr, type: GlobalType): Promise<WasmValue> {
    return this.enqueue({ req: 'readGlobal', addr, type }).then((r) => r.value ?? { type: type.type, bits: null });
  }

  /** The current size of the memory (pages) or table (elements) at `addr`. */
  dataSize(addr: ExecutorAddr): Promise<number> {
    return this.enqueue({ req: 'dataSize', addr }).then((r) => r.size ?? 0);
  }

  stats(): ExecutorStats {
    return {
      restarts: this.counters.restarts,
      invokes: this.counters.invokes,
      slotsUsed: SPECTEST_FUNCTIONS.length + this.log.liveFunctionAddrs(),
      replayLogOps: this.log.size,
      replayFailures: this.counters.replayFailures,
      callThroughs: this.counters.callThroughs,
      lastBootMs: this.counters.lastBootMs,
      pid: this.conn?.pid,
      inFlight: this.inflight.length,
      queued: this.queue.length,
      usage: this.conn === null ? undefined : this.usage,
    };
  }

  /** Stops the worker; everything not yet settled rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.endStartup();
    this.failEverything(new Error('The executor is closed.'));
    this.watchdog.stop();
    await Promise.all([this.conn?.dispose(), ...this.terminations]);
  }

  // --- requests -------------------------------------------------------------------------------

  /** `shape` turns the worker's answer into what the caller gets (in the job, not by a .then: one promise per request). */
  private enqueue<T = OkResponse>(request: WithoutId<ExecRequest>, timeoutMs?: number, shape?: (r: OkResponse) => T): Promise<T> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    if (this.callThroughs.insideHandler) {
      return Promise.reject(
        new Error(`A ${request.req} request from inside a call-through handler would wait for the call that waits for the handler.`),
      );
    }
    return new Promise<T>((resolve, fail) => {
      const settle = shape === undefined ? (resolve as (r: OkResponse) => void) : (r: OkResponse) => resolve(shape(r));
      this.queue.push({ id: 0, request, timeoutMs, scope: new AsyncResource('wasmjit.request'), settle, fail });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inflight.length < MAX_IN_FLIGHT) {
      const job = this.queue.shift();
      if (job === undefined) return;
      job.id = this.nextRequestId++;
      this.inflight.push(job);
      this.connected().postRequest({ ...job.request, id: job.id } as ExecRequest);
    }
  }

  // --- worker events --------------------------------------------------------------------------

  private onEvent(ev: WorkerEvent): void {
    switch (ev.ev) {
      case 'ready':
        this.endStartup();
        this.counters.lastBootMs = performance.now() - (this.conn?.startedAt ?? performance.now());
        this.deathsSinceReady = 0;
        this.booted?.resolve();
        this.booted = null;
        return;
      case 'opResult':
        return this.onOpResult(ev.result);
      case 'response':
        return this.onResponse(ev.response, ev.next);
      case 'activity':
        return this.onActivity(ev.activity);
      case 'callThrough':
        return this.onCallThrough(ev.seq, ev.callThroughId);
      case 'hot':
        return this.onHot(ev.hookId);
    }
  }

  private onOpResult(r: LinkOpResult): void {
    if (this.current?.kind === 'op' && this.current.seq === r.seq) this.endActivity();
    const pending = this.pendingOps.get(r.seq);
    this.pendingOps.delete(r.seq);
    if (r.ok) {
      this.log.markApplied(r.seq);
      pending?.resolve();
      return;
    }
    this.log.remove(r.seq);
    if (pending === undefined) this.counters.replayFailures++;
    else pending.reject(failureToError(r.error, r.output, (id) => this.takeCallThroughError(id)));
  }

  /** The worker answers in the order it was sent requests; `next` is the invoke it starts now. */
  private onResponse(r: ExecResponse, next: number | undefined): void {
    const job = this.inflight[0];
    if (job === undefined || job.id !== r.id) return;
    this.inflight.shift();
    if (this.current?.kind === 'invoke' && this.current.id === r.id) this.endActivity();
    if (next !== undefined) this.onActivity({ kind: 'invoke', id: next });
    if (r.usage !== undefined) this.usage = r.usage;
    if (r.ok) job.settle(r);
    else job.fail(failureToError(r.error, r.output ?? [], (id) => this.takeCallThroughError(id)));
    this.pump();
  }

  private onActivity(a: Activity): void {
    if (a.kind === 'op') {
      this.current = a;
      this.watchdog.arm(this.startTimeoutMs);
    } else if (this.inflight[0]?.id === a.id && this.inflight[0].timeoutMs !== undefined) {
      this.current = a;
      this.watchdog.arm(this.inflight[0].timeoutMs);
    }
  }

  private endActivity(): void {
    this.current = null;
    this.watchdog.disarm();
  }

  private onCallThrough(seq: number, callThroughId: number): void {
    this.counters.callThroughs++;
    const conn = this.conn;
    const current = this.current;
    const scope =
      current?.kind === 'invoke' ? this.inflight[0]?.scope : current?.kind === 'op' ? this.pendingOps.get(current.seq)?.scope : undefined;
    // The clock keeps running: a call's time limit covers the compiles it waits for (API v2).
    const serve = () =>
      this.callThroughs.serve(callThroughId, (outcome) => {
        // A restart since: that worker and its waiting call are gone.
        if (conn === null || conn !== this.conn) return;
        conn.answer({ seq, ...outcome });
      });
    if (scope) scope.runInAsyncScope(serve);
    else serve();
  }

  private takeCallThroughError(id: number): { found: boolean; error: unknown } {
    return this.callThroughs.takeError(id);
  }

  // --- worker lifecycle -----------------------------------------------------------------------

  private connect(): ExecutorConnection {
    this.endStartup = this.startups.begin();
    const opts = {
      resourceLimits: this.resourceLimits,
      compileCacheDir: this.compileCacheDir,
      maxOutputLines: this.maxOutputLines,
      sessionMemoryLimitPages: this.sessionMemoryLimitPages,
      sessionTableLimitElements: this.sessionTableLimitElements,
      onEvent: (ev: WorkerEvent) => this.onEvent(ev),
      onDeath: (err: Error) => this.onDeath(err),
    };
    return this.host === undefined ? new WorkerConnection(opts) : this.host.open(opts);
  }

  private onTimeout(): void {
    const culprit = this.current;
    const limit = culprit?.kind === 'invoke' ? (this.inflight[0]?.timeoutMs ?? 0) : this.startTimeoutMs;
    this.restart(culprit, new ExecutionTimeout(limit));
  }

  private onDeath(err: Error): void {
    this.endStartup();
    if (this.closed) return;
    const error = this.deathError(err);
    if (err instanceof ExecutorHostPoolClosed) {
      // Nowhere to restart: what is waiting fails now, and so does everything after.
      this.booted?.reject(err);
      this.booted = null;
      this.broken = err;
      this.failEverything(err);
      return;
    }
    if (this.booted !== null) {
      // A host dies under a worker still starting for reasons not its own (another session's
      // allocation, a kill from outside): start again, on another host, a few times.
      if (err instanceof ExecutorHostDied && ++this.deathsSinceReady <= MAX_CONSECUTIVE_DEATHS) {
        this.restart(null, error);
        return;
      }
      this.booted.reject(error);
      this.booted = null;
      this.closed = true;
      return;
    }
    if (++this.deathsSinceReady > MAX_CONSECUTIVE_DEATHS) {
      this.broken = new Error(`The executor worker keeps dying; last: ${err.message}`);
      this.failEverything(this.broken);
      return;
    }
    // With no culprit reported, the request in flight (if any) is the only suspect.
    this.restart(this.current, error, this.current === null);
  }

  /** What the call that was running when the worker died is rejected with. */
  private deathError(err: Error): Error {
    const limit = `limit ${this.heapLimitMb ?? 'default'} MB`;
    if (!isHeapExhaustion(err)) return new Error(`The executor worker died: ${err.message}`);
    if (err instanceof ExecutorHostDied) {
      // V8 aborted the whole host: the allocation that did it may belong to any session there.
      return new ResourceExhausted(
        'memory',
        `The executor's host process ran out of memory (${limit} per session) and the session was restarted; ` +
          `the allocation may have been another session's on the same host. (${err.message})`,
      );
    }
    return new ResourceExhausted('memory', `The executor ran out of memory (${limit}) and was restarted.`);
  }

  /**
   * Replaces the worker: rejects the culprit with `error`, starts a fresh worker, replays the
   * log (applied and pending ops, in send order) and re-sends the requests in flight but the
   * culprit. Queued requests then run on the new worker.
   */
  private restart(culprit: Activity | null, error: unknown, blameInflight = false): void {
    this.counters.restarts++;
    const old = this.conn;
    if (old !== null) {
      const termination = old.dispose().catch(() => undefined);
      this.terminations.add(termination);
      void termination.then(() => this.terminations.delete(termination));
    }
    this.watchdog.disarm();
    this.current = null;
    this.callThroughs.clear();

    if (culprit?.kind === 'op') {
      this.log.remove(culprit.seq);
      const pending = this.pendingOps.get(culprit.seq);
      this.pendingOps.delete(culprit.seq);
      if (pending === undefined) this.counters.replayFailures++;
      else pending.reject(error);
    }
    const running = this.inflight[0];
    if (running !== undefined && (blameInflight || (culprit?.kind === 'invoke' && culprit.id === running.id))) {
      this.inflight.shift();
      running.fail(error);
    }

    // The requests sent behind it never started: they go to the new worker, in the same order.
    this.conn = null;
    const conn = this.connected();
    for (const job of this.inflight) conn.postRequest({ ...job.request, id: job.id } as ExecRequest);
    this.pump();
  }

  private unusable(): Error | null {
    if (this.broken) return this.broken;
    if (this.closed) return new Error('The executor is closed.');
    return null;
  }

  private failEverything(err: Error): void {
    const jobs = [...this.inflight.splice(0), ...this.queue.splice(0)];
    for (const j of jobs) j.fail(err);
    for (const p of this.pendingOps.values()) p.reject(err);
    this.pendingOps.clear();
    this.watchdog.disarm();
  }
}
