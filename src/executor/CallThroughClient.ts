// Worker side of the lazy call-through (ORC's LazyCallThroughManager). A trampoline calls
// resolve(callThroughId); this posts a request to main and blocks the worker in Atomics.wait
// until main answers. While blocked it keeps applying link ops as main sends them, so the
// body's instantiate and the updatePointer are in place when the trampoline re-dispatches.
//
// Why this cannot deadlock: main never blocks on the worker (it only posts messages and
// notifies), so main's event loop always runs the handler and always gets to answer. The worker
// blocks only here, and only on an answer that main sends once the handler settles; link ops the
// handler posts meanwhile are applied during the wait (main bumps the signal counter after each
// post), so even a handler that awaits `apply()` makes progress. The only other thing a handler
// could wait for is a request (invoke, readMemory, ...), which would queue behind the blocked
// call: main refuses those outright (CallThroughServer), and answers a handler that has not
// settled in time as failed. Nested call-throughs (a start function reached while applying an
// op during this wait) are answered independently, each under its own `seq`.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { CallThroughAbort, ExecutorFailure } from './failures.ts';
import { SIGNAL, type CallThroughAnswer, type WorkerEvent } from './protocol.ts';

export interface CallThroughDeps {
  readonly signal: Int32Array;
  readonly answerPort: MessagePort;
  readonly post: (ev: WorkerEvent) => void;
  /** Applies every link op main has posted so far, in order. */
  readonly drainOps: () => void;
  /** True once the trampoline's pointer slot no longer holds the trampoline itself. */
  readonly isResolved: (callThroughId: number) => boolean;
}

export class CallThroughClient {
  private readonly deps: CallThroughDeps;
  private readonly answers = new Map<number, CallThroughAnswer>();
  private nextSeq = 1;
  private depth = 0;
  private waited = 0;

  constructor(deps: CallThroughDeps) {
    this.deps = deps;
  }

  /** Milliseconds spent blocked on main (outermost waits only); excluded from run time. */
  get waitedMs(): number {
    return this.waited;
  }

  resolve(callThroughId: number): void {
    const { drainOps, isResolved } = this.deps;
    // Ops already posted may hold the answer (e.g. replaying a start function after a restart,
    // when the log already contains the body and its updatePointer): no need to ask main.
    drainOps();
    if (isResolved(callThroughId)) return;
    this.ask(callThroughId);
    if (!isResolved(callThroughId)) {
      throw ExecutorFailure.link(`call-through ${callThroughId} was resolved, but its pointer slot still holds the trampoline`);
    }
  }

  /**
   * A hot function's entry counter tells main, and the call goes on at once in the code it is
   * running: the optimized tier is built beside the program and swapped in behind the stub by
   * ordinary link ops. Applying the ops main has posted meanwhile (an optimized piece finished
   * since the last hook, say) lets a long-running call pick up new code without waiting.
   */
  notifyHot(hookId: number): void {
    this.deps.post({ ev: 'hot', hookId });
    this.deps.drainOps();
  }

  /** Posts the request for `id` and blocks until main answers; applies ops meanwhile. */
  private ask(id: number): void {
    const { signal, post, drainOps } = this.deps;
    const seq = this.nextSeq++;
    const started = performance.now();
    this.depth++;
    post({ ev: 'callThrough', seq, callThroughId: id });
    let answer: CallThroughAnswer | undefined;
    try {
      for (;;) {
        // Read the counter before looking for work, so a post between the look and the wait
        // changes the counter and makes Atomics.wait return at once (no lost wake-up).
        const seen = Atomics.load(signal, SIGNAL);
        answer = this.take(seq);
        if (answer !== undefined) break;
        drainOps();
        answer = this.take(seq);
        if (answer !== undefined) break;
        Atomics.wait(signal, SIGNAL, seen);
      }
    } finally {
      this.depth--;
      if (this.depth === 0) this.waited += performance.now() - started;
    }
    drainOps();
    if (!answer.ok) throw new CallThroughAbort(answer.errorId, answer.message);
  }

  private take(seq: number): CallThroughAnswer | undefined {
    for (let m = receiveMessageOnPort(this.deps.answerPort); m !== undefined; m = receiveMessageOnPort(this.deps.answerPort)) {
      const a = m.message as CallThroughAnswer;
      this.answers.set(a.seq, a);
    }
    const a = this.answers.get(seq);
    if (a !== undefined) this.answers.delete(seq);
    return a;
  }
}
