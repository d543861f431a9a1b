// The messages between the JIT (main thread) and the executor (a worker thread that owns every
// instance, memory, table and global of the session, and runs all user code).
//
// Addresses: a function's address is its slot in the session-wide funcref table; memories,
// tables and globals get handles in a separate range (>= DATA_HANDLE_BASE). The JIT allocates
// every address itself, so resolving a symbol never needs a round trip to the executor.
//
// Channels (why several): the worker must be able to pull link ops and call-through answers
// synchronously with `receiveMessageOnPort` while it is blocked inside wasm, without also
// pulling requests. So:
//   ops port      main -> worker  LinkOp, applied strictly in `seq` order;
//   answer port   main -> worker  CallThroughAnswer, read only while blocked in a call-through;
//   worker port   main -> worker  ExecRequest (one at a time: main keeps the FIFO);
//                 worker -> main  WorkerEvent (all of them on one port, so main sees them in the
//                                 order the worker posted them).
// A SharedArrayBuffer carries one signal counter: main bumps it and notifies after posting an op
// or an answer, so a worker blocked in Atomics.wait wakes and drains.

import type { MessagePort } from 'node:worker_threads';
import type { ExternKind, FuncType, GlobalType, MemoryType, TableType, WasmValue } from '../wasm/types.ts';

import type { ExecutorAddr } from '../core/SymbolDefinition.ts';

export type { ExecutorAddr };
export const DATA_HANDLE_BASE = 0x4000_0000;

/** Binds one import of a module being linked to the object at `addr`. */
export interface ImportBinding {
  readonly module: string;
  readonly name: string;
  readonly kind: ExternKind;
  readonly addr: ExecutorAddr;
}

/** Places one export of an instance at `addr` (table slot or data handle). */
export interface ExportPlacement {
  readonly name: string;
  readonly kind: ExternKind;
  readonly addr: ExecutorAddr;
}

export interface StubSpec {
  /** Slot of the stub itself: the address callers use. */
  readonly stubAddr: ExecutorAddr;
  /** Slot the stub calls through; holds the trampoline until the body is compiled. */
  readonly ptrAddr: ExecutorAddr;
  /** Passed to the JIT's resolve() by the trampoline. */
  readonly callThroughId: number;
  readonly type: FuncType;
}

/** State changes, applied by the executor strictly in the order they are sent. */
export type LinkOp =
  | {
      readonly op: 'instantiate';
      readonly seq: number;
      /** For messages and logs only, e.g. "main.impl:f". */
      readonly label: string;
      /**
       * The module's binary: the executor compiles it (V8 compiles lazily, function by
       * function, so this mostly validates). Bytes, not a WebAssembly.Module, so an op can
       * cross to an executor in another process and be replayed in a fresh one.
       */
      readonly bytes: Uint8Array;
      readonly imports: readonly ImportBinding[];
      readonly exports: readonly ExportPlacement[];
      /**
       * Elements the tables the module itself defines start with (0: it defines none). They
       * count against the session's table budget: an op whose tables do not fit fails with
       * ResourceExhausted before anything is compiled or instantiated. The module must export
       * every table it defines, and the op place it, so the budget keeps counting it.
       */
      readonly tableElements: number;
    }
  | { readonly op: 'createStubs'; readonly seq: number; readonly stubs: readonly StubSpec[] }
  /**
   * Creates a module's memory at `addr`, counted against the session's memory budget (fails
   * with ResourceExhausted, creating nothing, if its initial pages do not fit). Pieces that
   * would define the memory import it from there; releasing `addr` gives its pages back.
   */
  | { readonly op: 'createMemory'; readonly seq: number; readonly addr: ExecutorAddr; readonly type: MemoryType }
  | { readonly op: 'updatePointer'; readonly seq: number; readonly ptrAddr: ExecutorAddr; readonly targetAddr: ExecutorAddr }
  /**
   * Calls the nullary function at `addr` as a module's start function: an op, not a request,
   * so that a restarted executor replays it in order (instantiation effects include the start).
   */
  | { readonly op: 'runStart'; readonly seq: number; readonly label: string; readonly addr: ExecutorAddr }
  | { readonly op: 'release'; readonly seq: number; readonly addrs: readonly ExecutorAddr[] };

type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;
/** A LinkOp as the JIT hands it to `Executor.apply`, which assigns `seq`. */
export type LinkOpInput = WithoutSeq<LinkOp>;

export type LinkOpResult =
  | { readonly seq: number; readonly ok: true; readonly output: readonly string[] }
  | { readonly seq: number; readonly ok: false; readonly error: ExecutionFailure; readonly output: readonly string[] };

/** Requests answered by the executor, after it has applied every LinkOp sent before them. */
export type ExecRequest =
  | {
      readonly req: 'invoke';
      readonly id: number;
      readonly addr: ExecutorAddr;
      readonly type: FuncType;
      readonly args: readonly WasmValue[];
    }
  /** `length` undefined: to the end of the memory. */
  | { readonly req: 'readMemory'; readonly id: number; readonly addr: ExecutorAddr; readonly offset: number; readonly length: number | undefined }
  | { readonly req: 'writeMemory'; readonly id: number; readonly addr: ExecutorAddr; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly req: 'readGlobal'; readonly id: number; readonly addr: ExecutorAddr; readonly type: GlobalType }
  /** The current size of the memory (pages) or table (elements) at `addr`: what an import's limits are checked against. */
  | { readonly req: 'dataSize'; readonly id: number; readonly addr: ExecutorAddr };

export type ExecutionFailure =
  | { readonly kind: 'Trap'; readonly message: string; readonly stack: readonly string[] }
  | { readonly kind: 'StackOverflow'; readonly message: string; readonly stack: readonly string[] }
  | { readonly kind: 'LinkError'; readonly message: string }
  /** `limit` names a configured limit that was hit; without it, the worker ran out of memory. */
  | { readonly kind: 'ResourceExhausted'; readonly message: string; readonly limit?: string }
  /** The call-through handler rejected; main still holds the rejection value under `errorId`. */
  | { readonly kind: 'CallThroughFailed'; readonly message: string; readonly errorId: number }
  | { readonly kind: 'TypeMismatch'; readonly message: string }
  /** A memory read or write outside the memory's current size. */
  | { readonly kind: 'OutOfBounds'; readonly message: string }
  /** Anything else thrown in the worker: a bug in the executor or a misuse by the JIT. */
  | { readonly kind: 'Internal'; readonly message: string };

/** What the session uses in its worker, reported now and then with a response (for metrics). */
export interface WorkerUsage {
  readonly memoryPages: number;
  readonly tableElements: number;
  readonly heapUsedBytes: number;
}

export type ExecResponse =
  | { readonly id: number; readonly ok: true; readonly results?: readonly WasmValue[]; readonly output?: readonly string[];
      readonly bytes?: Uint8Array; readonly pages?: number; readonly value?: WasmValue; readonly runMs?: number; readonly size?: number;
      readonly usage?: WorkerUsage }
  | { readonly id: number; readonly ok: false; readonly error: ExecutionFailure; readonly output?: readonly string[]; readonly usage?: WorkerUsage };

/** What the worker is running at top level; main's watchdog times exactly this. */
export type Activity = { readonly kind: 'op'; readonly seq: number } | { readonly kind: 'invoke'; readonly id: number };

export type WorkerEvent =
  | { readonly ev: 'ready' }
  | { readonly ev: 'opResult'; readonly result: LinkOpResult }
  | { readonly ev: 'response'; readonly response: ExecResponse }
  | { readonly ev: 'activity'; readonly activity: Activity }
  /** A trampoline needs callThroughId resolved; the worker is blocked until `seq` is answered. */
  | { readonly ev: 'callThrough'; readonly seq: number; readonly callThroughId: number }
  /** A function's entry counter reached its threshold (the reoptimize hook); nothing waits for an answer. */
  | { readonly ev: 'hot'; readonly hookId: number };

export type CallThroughAnswer =
  | { readonly seq: number; readonly ok: true }
  | { readonly seq: number; readonly ok: false; readonly errorId: number; readonly message: string };

export interface WorkerInit {
  readonly opsPort: MessagePort;
  readonly answerPort: MessagePort;
  /** Int32Array view; index SIGNAL is the wake-up counter. */
  readonly signal: SharedArrayBuffer;
  /** Lines of print output kept per call; later lines are counted, not kept. */
  readonly maxOutputLines: number;
  /** Most 64 KiB pages all memories the session creates may hold together; undefined: no cap. */
  readonly sessionMemoryLimitPages: number | undefined;
  /** Most elements all tables the session's modules define may hold together; undefined: no cap. */
  readonly sessionTableLimitElements: number | undefined;
}

export const SIGNAL = 0;

export type { ExternKind, GlobalType, MemoryType, TableType };
