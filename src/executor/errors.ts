// Main side: the JITErrors (and plain Errors) an ExecutionFailure becomes, so callers of the
// Executor see the same error vocabulary as the rest of the JIT.

import { ResourceExhausted, StackOverflow, Trap, TypeMismatch } from '../core/errors.ts';
import type { ExecutionFailure } from './protocol.ts';

/** A link step failed: an import bound to an empty address, a missing export, a bad address. */
export class ExecutorLinkError extends Error {
  override readonly name = 'ExecutorLinkError';
}

/**
 * @param callThroughError returns (and forgets) the value the call-through handler rejected
 *   with, so the caller gets exactly that object back.
 */
export function failureToError(
  f: ExecutionFailure,
  output: readonly string[],
  callThroughError: (errorId: number) => { found: boolean; error: unknown },
): unknown {
  switch (f.kind) {
    case 'Trap':
      return new Trap(f.message, f.stack, output);
    case 'StackOverflow':
      return new StackOverflow(f.stack);
    case 'LinkError':
      return new ExecutorLinkError(f.message);
    case 'ResourceExhausted':
      return f.limit !== undefined
        ? new ResourceExhausted(f.limit, f.message)
        : new ResourceExhausted('memory', `The executor ran out of memory: ${f.message}`);
    case 'CallThroughFailed': {
      const kept = callThroughError(f.errorId);
      return kept.found ? kept.error : new Error(f.message);
    }
    case 'TypeMismatch':
      return new TypeMismatch(f.message);
    case 'OutOfBounds':
      return new RangeError(f.message);
    case 'Internal':
      return new Error(`executor: ${f.message}`);
  }
}
