// The messages between the JIT (main thread) and the executor (a worker thread that owns every
// instance, memory, table and global of the session, and runs all user code).
//
// Addresses: a function's address is its slot in the session-wide funcref table; memories,
// tables and globals get handles in a separate range (>= DATA_HANDLE_BASE). The JIT allocates
// every address itself, so resolving a symbol never needs a round trip to the executor.

import type { ExternKind, FuncType, GlobalType, MemoryType, TableType, WasmValue } from '../wasm/types.ts';

export type ExecutorAddr = number;
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
      readonly label: string;
      readonly module: WebAssembly.Module;
      readonly imports: readonly ImportBinding[];
      readonly exports: readonly ExportPlacement[];
    }
  | { readonly op: 'createStubs'; readonly seq: number; readonly stubs: readonly StubSpec[] }
  | { readonly op: 'updatePointer'; readonly seq: number; readonly ptrAddr: ExecutorAddr; readonly targetAddr: ExecutorAddr }
  | { readonly op: 'release'; readonly seq: number; readonly addrs: readonly ExecutorAddr[] };

export type LinkOpResult =
  | { readonly seq: number; readonly ok: true }
  | { readonly seq: number; readonly ok: false; readonly error: ExecutionFailure };

/** Requests answered by the executor, after it has applied every LinkOp sent before them. */
export type ExecRequest =
  | {
      readonly req: 'invoke';
      readonly id: number;
      readonly addr: ExecutorAddr;
      readonly type: FuncType;
      readonly args: readonly WasmValue[];
    }
  | { readonly req: 'readMemory'; readonly id: number; readonly addr: ExecutorAddr; readonly offset: number; readonly length: number }
  | { readonly req: 'writeMemory'; readonly id: number; readonly addr: ExecutorAddr; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly req: 'readGlobal'; readonly id: number; readonly addr: ExecutorAddr; readonly type: GlobalType };

export type ExecutionFailure =
  | { readonly kind: 'Trap'; readonly message: string; readonly stack: readonly string[] }
  | { readonly kind: 'StackOverflow'; readonly message: string; readonly stack: readonly string[] }
  | { readonly kind: 'LinkError'; readonly message: string }
  | { readonly kind: 'ResourceExhausted'; readonly message: string }
  | { readonly kind: 'CallThroughFailed'; readonly message: string; readonly error: unknown }
  | { readonly kind: 'TypeMismatch'; readonly message: string };

export type ExecResponse =
  | { readonly id: number; readonly ok: true; readonly results?: readonly WasmValue[]; readonly output?: readonly string[];
      readonly bytes?: Uint8Array; readonly pages?: number; readonly value?: WasmValue; readonly runMs?: number }
  | { readonly id: number; readonly ok: false; readonly error: ExecutionFailure; readonly output?: readonly string[] };

export type { ExternKind, GlobalType, MemoryType, TableType };
