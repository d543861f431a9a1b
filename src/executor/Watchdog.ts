// Main side: the one timer that limits what the worker is running at top level. It runs on
// through lazy call-throughs: a call's time limit covers the compiles it waits for, so a call
// that spends its time compiling is stopped like one that spends it looping (API v2, "Running").
//
// Calls follow each other hundreds of times a second, each armed and disarmed. A timer per call
// (setTimeout, clearTimeout) costs more than the rest of the bookkeeping, so the timer outlives
// disarm: it stays scheduled (unreferenced, so it holds no process open), and when it fires it
// checks the deadline armed now, if any, and sleeps again for what is left of it. A new timer is
// made only when an arm's deadline comes before the scheduled one.

/** setTimeout fires at once for delays above this; longer limits are effectively unlimited. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Watchdog {
  private readonly onExpire: (limitMs: number) => void;
  private timer: NodeJS.Timeout | null = null;
  /** When the scheduled timer fires (performance.now() time); Infinity without one. */
  private firesAt = Infinity;
  /** When the armed limit runs out; null while disarmed. */
  private deadline: number | null = null;
  private limitMs = 0;

  constructor(onExpire: (limitMs: number) => void) {
    this.onExpire = onExpire;
  }

  arm(limitMs: number): void {
    const now = performance.now();
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, limitMs));
    this.limitMs = limitMs;
    this.deadline = now + delay;
    if (this.timer !== null && this.firesAt <= this.deadline) {
      this.timer.ref();
      return;
    }
    this.schedule(now, delay);
  }

  disarm(): void {
    this.deadline = null;
    this.timer?.unref();
  }

  /** Disarms and drops the kept timer too (the executor is closing: nothing will arm it again). */
  stop(): void {
    this.disarm();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.firesAt = Infinity;
  }

  private schedule(now: number, delay: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.firesAt = now + delay;
    this.timer = setTimeout(() => this.fired(), delay);
  }

  private fired(): void {
    this.timer = null;
    this.firesAt = Infinity;
    if (this.deadline === null) return;
    const now = performance.now();
    // A timer armed for an earlier call, or one that fired a fraction of a millisecond early.
    if (this.deadline > now) {
      this.schedule(now, Math.min(MAX_TIMER_MS, Math.ceil(this.deadline - now)));
      return;
    }
    this.deadline = null;
    this.onExpire(this.limitMs);
  }
}
