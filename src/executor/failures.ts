// Worker side: turns whatever a call or a link step threw into an ExecutionFailure that can
// cross to main, keeping V8's trap message verbatim ("divide by zero") and the names of the
// user's wasm functions on the stack, innermost first, with the executor's glue frames removed.

import { GLUE_MODULE_PREFIX } from './glue.ts';
import type { ExecutionFailure } from './protocol.ts';

/** An error the executor raises deliberately, already knowing how to report it. */
export class ExecutorFailure extends Error {
  readonly failure: ExecutionFailure;
  constructor(failure: ExecutionFailure) {
    super(failure.message);
    this.failure = failure;
  }
  static link(message: string): ExecutorFailure {
    return new ExecutorFailure({ kind: 'LinkError', message });
  }
  static typeMismatch(message: string): ExecutorFailure {
    return new ExecutorFailure({ kind: 'TypeMismatch', message });
  }
}

/** Thrown out of a trampoline when the JIT's call-through handler rejected. */
export class CallThroughAbort extends Error {
  readonly errorId: number;
  constructor(errorId: number, message: string) {
    super(message);
    this.errorId = errorId;
  }
}

export interface WasmFrame {
  /** Name-section module name, when the module has one. */
  readonly module: string | undefined;
  /** The function's name, or `wasm-function[i]` when it has none. */
  readonly name: string;
}

// "    at mod.func (wasm://wasm/mod-1a2b3c4d:wasm-function[3]:0x5f)" or, with no names,
// "    at wasm://wasm/1a2b3c4d:wasm-function[3]:0x5f".
const FRAME = /^\s*at (?:(.*) \()?wasm:\/\/wasm\/([^:]*):wasm-function\[(\d+)\]:0x[0-9a-f]+\)?\s*$/;

/** Every wasm frame in a V8 stack string, innermost first, glue frames included. */
export function wasmFrames(stack: string | undefined): WasmFrame[] {
  const frames: WasmFrame[] = [];
  for (const line of (stack ?? '').split('\n')) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const [, printed, url = '', index = '?'] = m;
    const named = /^(.*)-[0-9a-f]{8}$/.exec(url);
    const module = named ? named[1] : undefined;
    let name = printed;
    if (name !== undefined && module !== undefined) {
      if (name === module) name = undefined;
      else if (name.startsWith(`${module}.`)) name = name.slice(module.length + 1);
    }
    frames.push({ module, name: name ?? `wasm-function[${index}]` });
  }
  return frames;
}

function isGlue(f: WasmFrame): boolean {
  return f.module !== undefined && f.module.startsWith(GLUE_MODULE_PREFIX);
}

export function userFrameNames(stack: string | undefined): string[] {
  return wasmFrames(stack)
    .filter((f) => !isGlue(f))
    .map((f) => f.name);
}

const ALLOCATION_FAILURE = /out of memory|could not allocate|cannot allocate|allocation failed/i;

export function classify(err: unknown): ExecutionFailure {
  if (err instanceof ExecutorFailure) return err.failure;
  if (err instanceof CallThroughAbort) return { kind: 'CallThroughFailed', message: err.message, errorId: err.errorId };
  if (err instanceof WebAssembly.RuntimeError) {
    return { kind: 'Trap', message: err.message, stack: userFrameNames(err.stack) };
  }
  if (err instanceof RangeError && /call stack size/i.test(err.message)) {
    return { kind: 'StackOverflow', message: err.message, stack: userFrameNames(err.stack) };
  }
  if (err instanceof RangeError && ALLOCATION_FAILURE.test(err.message)) {
    return { kind: 'ResourceExhausted', message: err.message };
  }
  if (err instanceof WebAssembly.LinkError) return { kind: 'LinkError', message: err.message };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { kind: 'Internal', message };
}
