// Main side: the one timer that limits what the worker is running at top level. It can be
// paused while the JIT's call-through handler runs, so compiling a body on main does not count
// against the user code's time limit.

/** setTimeout fires at once for delays above this; longer limits are effectively unlimited. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Watchdog {
  private readonly onExpire: (limitMs: number) => void;
  private timer: NodeJS.Timeout | null = null;
  private limitMs = 0;
  private remainingMs = 0;
  private startedAt = 0;
  private armed = false;
  private pauses = 0;

  constructor(onExpire: (limitMs: number) => void) {
    this.onExpire = onExpire;
  }

  arm(limitMs: number): void {
    this.disarm();
    this.armed = true;
    this.limitMs = limitMs;
    this.remainingMs = limitMs;
    if (this.pauses === 0) this.start();
  }

  disarm(): void {
    this.stop();
    this.armed = false;
  }

  /** Nestable: the clock runs again when every pause has been matched by a resume. */
  pause(): void {
    if (this.pauses++ === 0 && this.timer !== null) {
      this.stop();
      this.remainingMs -= performance.now() - this.startedAt;
    }
  }

  resume(): void {
    if (this.pauses === 0) return;
    if (--this.pauses === 0 && this.armed) this.start();
  }

  /** Forgets all pauses (the worker that caused them is gone). */
  reset(): void {
    this.disarm();
    this.pauses = 0;
  }

  private start(): void {
    this.startedAt = performance.now();
    const limit = this.limitMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.armed = false;
      this.onExpire(limit);
    }, Math.min(MAX_TIMER_MS, Math.max(0, this.remainingMs)));
  }

  private stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
