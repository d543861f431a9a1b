// Main side of the lazy call-through: runs the JIT's handler for each trampoline the worker hit,
// answers the worker once the handler settles, and keeps a handler's rejection value under an id
// so the caller (an invoke, or an apply whose start function ran the trampoline) is rejected
// with that very object.
//
// Two guards make the blocked worker wait for a bounded time, whatever the handler does:
// - a request (invoke, readMemory, ...) issued from inside a handler is refused at once, since
//   it would queue behind the very call that is waiting for the handler (AsyncLocalStorage tells
//   the handler's own async context apart from unrelated callers);
// - a handler that has not settled after `timeoutMs` is answered as failed.
// Link ops from a handler are always fine: the worker applies them while it waits.

import { AsyncLocalStorage } from 'node:async_hooks';

export type CallThroughHandler = (callThroughId: number) => Promise<void>;

export type CallThroughOutcome = { readonly ok: true } | { readonly ok: false; readonly errorId: number; readonly message: string };

const MAX_KEPT_ERRORS = 1000;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class CallThroughServer {
  private readonly timeoutMs: number;
  private handler: CallThroughHandler | null = null;
  private readonly context = new AsyncLocalStorage<true>();
  private readonly errors = new Map<number, unknown>();
  private nextErrorId = 1;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  setHandler(h: CallThroughHandler): void {
    this.handler = h;
  }

  /** True in code running on behalf of a handler (synchronously or after awaits). */
  get insideHandler(): boolean {
    return this.context.getStore() === true;
  }

  /** Runs the handler; `answer` is called exactly once, with how it went. */
  serve(callThroughId: number, answer: (outcome: CallThroughOutcome) => void): void {
    const handler = this.handler;
    let answered = false;
    const once = (outcome: CallThroughOutcome): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      answer(outcome);
    };
    const fail = (err: unknown): void => {
      if (!answered) once({ ok: false, errorId: this.keep(err), message: messageOf(err) });
    };
    const timer = setTimeout(
      () => fail(new Error(`The call-through handler for ${callThroughId} did not settle within ${this.timeoutMs} ms.`)),
      Math.min(this.timeoutMs, 2 ** 31 - 1),
    );
    this.context
      .run(true, async () => {
        if (handler === null) throw new Error(`No call-through handler is set (call-through ${callThroughId}).`);
        await handler(callThroughId);
      })
      .then(() => once({ ok: true }), fail);
  }

  /** The value a handler rejected with, handed out once. */
  takeError(errorId: number): { found: boolean; error: unknown } {
    const found = this.errors.has(errorId);
    const error = this.errors.get(errorId);
    this.errors.delete(errorId);
    return { found, error };
  }

  /** Forgets kept errors (their worker is gone, nobody will ask for them). */
  clear(): void {
    this.errors.clear();
  }

  private keep(err: unknown): number {
    const id = this.nextErrorId++;
    this.errors.set(id, err);
    // Errors swallowed by wasm exception handlers are never taken; bound what they can hold.
    if (this.errors.size > MAX_KEPT_ERRORS) {
      const oldest = this.errors.keys().next();
      if (oldest.done !== true) this.errors.delete(oldest.value);
    }
    return id;
  }
}
