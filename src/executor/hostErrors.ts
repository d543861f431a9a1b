// Why a hosted executor worker stopped: its host process died, its worker died inside a living
// host, or the pool was closed. Executor reads these to tell heap exhaustion (answered
// ResourceExhausted, as for a worker of its own process) from other deaths.

/** What V8 prints when it aborts a process whose heap (any thread's) is exhausted. */
const HEAP_EXHAUSTION = /Reached heap limit|JavaScript heap out of memory/;

export function mentionsHeapExhaustion(line: string): boolean {
  return HEAP_EXHAUSTION.test(line);
}

/** The host process ended (exit, signal, or failure to start); every session on it lost its worker. */
export class ExecutorHostDied extends Error {
  override readonly name = 'ExecutorHostDied';
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the host wrote to stderr (V8's fatal error report, if any), oldest first. */
  readonly stderrTail: readonly string[];
  /** V8 aborted the host because a heap (most likely one worker's) was exhausted. */
  readonly heapExhausted: boolean;

  constructor(opts: {
    pid: number | undefined;
    exitCode: number | null;
    signal: NodeJS.Signals | null;
    stderrTail: readonly string[];
    heapExhausted: boolean;
    cause?: unknown;
  }) {
    const how = opts.signal !== null ? `was killed by ${opts.signal}` : opts.exitCode !== null ? `exited with code ${opts.exitCode}` : 'failed';
    const why = opts.heapExhausted ? ' (heap exhausted)' : '';
    const told = informativeLines(opts.stderrTail);
    const detail = told.length > 0 ? `; its last words: ${told.join(' | ')}` : '';
    const cause = opts.cause instanceof Error ? `: ${opts.cause.message}` : '';
    super(`the executor host (pid ${opts.pid ?? '?'}) ${how}${why}${cause}${detail}`, { cause: opts.cause });
    this.pid = opts.pid;
    this.exitCode = opts.exitCode;
    this.signal = opts.signal;
    this.stderrTail = opts.stderrTail;
    this.heapExhausted = opts.heapExhausted;
  }
}

/** A worker died inside a host that lives on; `code` is Node's (ERR_WORKER_OUT_OF_MEMORY, ...). */
export class ExecutorWorkerDied extends Error {
  override readonly name = 'ExecutorWorkerDied';
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

/** The pool was closed: no worker will be started for this executor any more. */
export class ExecutorHostPoolClosed extends Error {
  override readonly name = 'ExecutorHostPoolClosed';
  constructor() {
    super('The executor host pool is closed.');
  }
}

/** True when a worker death means the heap ran out, whether V8 stopped the worker or aborted its host. */
export function isHeapExhaustion(err: Error): boolean {
  if (err instanceof ExecutorHostDied) return err.heapExhausted;
  return (err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY';
}

// V8's fatal report ends with a native stack ("  1: 0x55d0c8 node::Abort() [node]") that says
// nothing to a reader of the error; its GC trace and the FATAL ERROR line do.
const NATIVE_FRAME = /^\s*\d+: 0x[0-9a-f]+/;

function informativeLines(tail: readonly string[]): string[] {
  return tail.filter((l) => l.trim() !== '' && !NATIVE_FRAME.test(l) && !l.startsWith('----- Native stack trace')).slice(-4);
}
