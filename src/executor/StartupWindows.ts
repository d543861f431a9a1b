// When infrastructure a call needs, but did not cause, was starting: a session's executor
// booting (a host process, a worker thread, the replay of its link log) or the process's compile
// thread loading binaryen (1.5 to 3.5 s on this machine). A call's time limit covers its lookup,
// its compiles and its run (API.md, "Running"), not these: under load, the first call of a fresh
// server would otherwise run out of time before any of its own work began.

/** No call is granted more than this for startups, whatever the windows say. */
export const MAX_STARTUP_GRACE_MS = 60_000;

/** How many past windows are kept: enough for any call in progress, a restart or two included. */
const KEPT = 4;

type Window = { readonly from: number; to: number | undefined };

export class StartupWindows {
  readonly #windows: Window[] = [];

  /**
   * A startup begins now; the returned function ends it (calling it again does nothing). A
   * window still open when the next begins is ended there: one thing starts at a time.
   */
  begin(): () => void {
    const now = performance.now();
    const last = this.#windows.at(-1);
    if (last !== undefined && last.to === undefined) last.to = now;
    const w: Window = { from: now, to: undefined };
    this.#windows.push(w);
    if (this.#windows.length > KEPT) this.#windows.shift();
    return () => {
      w.to ??= performance.now();
    };
  }

  /** Whether any window is open or ended after `t` (the common answer, no, allocates nothing). */
  reaches(t: number): boolean {
    for (const w of this.#windows) if (w.to === undefined || w.to > t) return true;
    return false;
  }

  /** The windows as intervals, an open one ending at `now`. */
  intervals(now: number): [number, number][] {
    return this.#windows.map((w) => [w.from, w.to ?? now]);
  }
}

/**
 * Milliseconds of [from, now] during which any of `sources` was starting, overlaps counted once,
 * at most MAX_STARTUP_GRACE_MS.
 */
export function startupTimeSince(from: number, sources: readonly StartupWindows[], now = performance.now()): number {
  // Every invoke asks; almost always nothing was starting during it.
  if (!sources.some((s) => s.reaches(from))) return 0;
  const clipped = sources
    .flatMap((s) => s.intervals(now))
    .map(([a, b]): [number, number] => [Math.max(a, from), Math.min(b, now)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of clipped) {
    const start = Math.max(a, end);
    if (b > start) total += b - start;
    end = Math.max(end, b);
  }
  return Math.min(total, MAX_STARTUP_GRACE_MS);
}
