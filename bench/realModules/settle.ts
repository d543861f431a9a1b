// Waiting, after the warm-up, until the server has finished what the warm-up left it doing
// (BENCH_SETTLE=1). The warm-up makes functions hot, so the server starts its binaryen thread
// (about 1 s of CPU to load binaryen, then the optimized tiers) and V8 tiers up code in the
// background: measured on the 2-core machine, a full core for about 1.5 s after the warm-up's
// last answer, which a run timed at once shares the cores with. Waiting it out did not make the
// runs faster (see bench.ts): the run's own hot functions then meet a ready binaryen thread.

import { setTimeout as sleep } from 'node:timers/promises';
import { treeCpuMs } from '../procStats.ts';

export interface Quiet {
  /** How long it took to go quiet (or the timeout). */
  readonly waitedMs: number;
  /** False when the timeout came first. */
  readonly quiet: boolean;
}

/**
 * Resolves once `pid` and its descendants used at most `maxShare` of one core over a window of
 * `windowMs` (two such windows in a row), or after `timeoutMs`.
 */
export async function untilQuiet(pid: number, { windowMs = 250, maxShare = 0.1, timeoutMs = 20_000 } = {}): Promise<Quiet> {
  const t0 = performance.now();
  let quietWindows = 0;
  let before = treeCpuMs(pid);
  while (performance.now() - t0 < timeoutMs) {
    await sleep(windowMs);
    const now = treeCpuMs(pid);
    quietWindows = now - before <= windowMs * maxShare ? quietWindows + 1 : 0;
    before = now;
    if (quietWindows >= 2) return { waitedMs: performance.now() - t0, quiet: true };
  }
  return { waitedMs: performance.now() - t0, quiet: false };
}
