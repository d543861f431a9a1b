// Main side: the one timer that limits what the worker is running at top level. It runs on
// through lazy call-throughs: a call's time limit covers the compiles it waits for, so a call
// that spends its time compiling is stopped like one that spends it looping (API v2, "Running").

/** setTimeout fires at once for delays above this; longer limits are effectively unlimited. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Watchdog {
  private readonly onExpire: (limitMs: number) => void;
  private timer: NodeJS.Timeout | null = null;

  constructor(onExpire: (limitMs: number) => void) {
    this.onExpire = onExpire;
  }

  arm(limitMs: number): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onExpire(limitMs);
    }, Math.min(MAX_TIMER_MS, Math.max(0, limitMs)));
  }

  disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
