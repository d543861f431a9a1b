// Section 7 of bench/run.ts: real modules from npm packages, each run side by side through the
// service and directly in V8, trials alternating which goes first. Each service run gets a
// freshly started server (so nothing compiled before helps it, as V8 in its fresh child
// compiles cold every time), woken by a warm-up module of its own (warmup.ts), and is timed
// from its first request (create dylib) to its last answer. A direct run is timed inside a fresh
// `node` child from the first compile to the last result. Both must report the same result,
// and each is checked against an oracle outside the module.
//
// BENCH_QUICK=1: one trial, smaller workloads. BENCH_REAL_MODULES=png,sha256 runs only those.
// BENCH_SETTLE=1: wait, after the warm-up, until the server is idle again (settle.ts) before
// timing a run. Not the default: measured on 2026-11-30 that made every run slower, not faster
// (the run's hot functions then go to a binaryen thread that is loaded and waiting, and V8 tiers
// up more of binaryen's own wasm on its background threads during the run).

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DirectReport } from './direct.ts';
import { REAL_MODULES } from './modules.ts';
import { reoptimizations, ServiceTarget, type ServiceStats, startServer } from './service.ts';
import type { RealModule, WorkloadOutcome } from './target.ts';
import { untilQuiet } from './settle.ts';
import { warmUp } from './warmup.ts';
import type { BenchSink } from '../lib.ts';

export type { BenchRow, BenchSink } from '../lib.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** Goal for every module: the service at most this many times V8's time. */
const GOAL_RATIO = 10;

export class ResultMismatchError extends Error {
  override name = 'ResultMismatchError';
}

interface ServiceSample extends WorkloadOutcome {
  ms: number;
  /** Of which creating the dylibs and adding the modules. */
  setupMs: number;
  stats: ServiceStats;
}

/** One timed service run on a running server. */
async function serviceRun(m: RealModule, quick: boolean, port: number): Promise<ServiceSample> {
  const setup = m.setup();
  const reoptimizedBefore = await reoptimizations(port); // the warm-up's
  const target = new ServiceTarget(port);
  try {
    const t0 = performance.now();
    await target.setUp(setup);
    const setupMs = performance.now() - t0;
    const outcome = await m.run(target, quick);
    const ms = performance.now() - t0;
    const optimized = (await reoptimizations(port)) - reoptimizedBefore;
    return { ms, setupMs, stats: { ...target.stats, optimized }, ...outcome };
  } finally {
    target.close();
  }
}

export function directRunInChild(m: RealModule, quick: boolean): DirectReport & { wallMs: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(here, 'direct.ts'), m.id, quick ? 'quick' : 'full'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`direct run of ${m.id} exited ${r.status}: ${r.stderr.slice(-800)}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { ...(JSON.parse(last) as DirectReport), wallMs };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

interface Samples {
  service: ServiceSample[];
  direct: (DirectReport & { wallMs: number })[];
}

function report(m: RealModule, quick: boolean, { service, direct }: Samples, sink: BenchSink): void {
  const want = JSON.stringify(direct[0]?.result);
  const all = [...direct.map((d, i) => [`direct #${i + 1}`, d] as const), ...service.map((s, i) => [`service #${i + 1}`, s] as const)];
  for (const [which, s] of all) {
    if (JSON.stringify(s.result) !== want) throw new ResultMismatchError(`${m.id}: ${which} gave ${JSON.stringify(s.result).slice(0, 400)}, direct #1 gave ${want.slice(0, 400)}`);
    for (const p of s.problems) sink.problem(`${m.id} ${which}: ${p}`);
  }
  const sMs = median(service.map((s) => s.ms));
  const dMs = median(direct.map((d) => d.ms));
  // The service's counters of its median run (the lower middle one of an even count).
  const mid = [...service].sort((a, b) => a.ms - b.ms)[(service.length - 1) >> 1];
  sink.raw[m.id] = {
    quick,
    service: service.map(({ ms, setupMs, stats }) => ({ ms, setupMs, ...stats })),
    direct: direct.map(({ ms, linkMs, wallMs }) => ({ ms, linkMs, wallMs })),
    result: direct[0]?.result ?? null,
  };
  const ratio = sMs / dMs;
  sink.row({
    id: `real.${m.id}`,
    what: `${m.title}: ${m.describe(quick)}`,
    a: `service ${fmt(sMs)} ms`,
    b: `V8 ${fmt(dMs)} ms`,
    value: ratio,
    unit: 'x',
    goal: `<= ${GOAL_RATIO}`,
    pass: ratio <= GOAL_RATIO,
    note: mid
      ? `same result both ways; service (median run): setup ${fmt(mid.setupMs)} ms, ${mid.stats.requests} requests, ${mid.stats.compiled} bodies compiled in invokes, ${mid.stats.optimized} functions re-optimized beside them by the end, slowest invoke ${mid.stats.slowest ? `${mid.stats.slowest.symbol} ${fmt(mid.stats.slowest.ms)} ms` : '-'}, invokes' compileMs ${fmt(mid.stats.compileMs)} / runMs ${fmt(mid.stats.runMs)}; V8: compile+instantiate ${fmt(median(direct.map((d) => d.linkMs)))} ms, child wall ${fmt(median(direct.map((d) => d.wallMs)))} ms; runs ${service.map((s) => fmt(s.ms)).join(' / ')} vs ${direct.map((d) => fmt(d.ms)).join(' / ')} ms`
      : undefined,
  });
}

/** Starts a server, wakes it, runs `fn` on its port, stops it; a failure quotes the errors it logged. */
async function onFreshServer<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const server = await startServer();
  try {
    await warmUp(server.port);
    // Optionally let the warm-up's aftermath (binaryen loading, optimized tiers, V8's background
    // tier-up) finish before the timed run.
    const pid = server.child.pid;
    if (pid !== undefined && process.env['BENCH_SETTLE'] === '1') {
      const q = await untilQuiet(pid);
      if (!q.quiet) console.log(`  (the server was still busy ${fmt(q.waitedMs)} ms after its warm-up; timing anyway)`);
    }
    return await fn(server.port);
  } catch (err) {
    if (err instanceof Error && server.loggedErrors.length) err.message += `\nserver log: ${server.loggedErrors.join('\n')}`;
    throw err;
  } finally {
    await server.stop();
  }
}

/**
 * Every service run gets a server of its own, started and woken the same way, so a module's
 * time does not depend on which modules ran before it (the compile thread's binaryen, itself
 * wasm, gets faster as V8 tiers it up over the first few hundred compiles).
 */
export async function realModulesBench(sink: BenchSink, quick: boolean): Promise<void> {
  const only = process.env['BENCH_REAL_MODULES']?.split(',').map((s) => s.trim());
  const modules = REAL_MODULES.filter((m) => !only || only.includes(m.id));
  for (const m of modules) m.setup(); // fetch and extract (cached after the first run) before anything is timed
  const trials = quick ? 1 : 3;
  for (const m of modules) {
    const samples: Samples = { service: [], direct: [] };
    try {
      for (let t = 0; t < trials; t++) {
        for (const side of t % 2 === 0 ? (['direct', 'service'] as const) : (['service', 'direct'] as const)) {
          if (side === 'direct') samples.direct.push(directRunInChild(m, quick));
          else samples.service.push(await onFreshServer((port) => serviceRun(m, quick, port)));
        }
        console.log(`  ${m.id} trial ${t + 1}/${trials}: service ${fmt(samples.service.at(-1)?.ms ?? NaN)} ms, V8 ${fmt(samples.direct.at(-1)?.ms ?? NaN)} ms`);
      }
      report(m, quick, samples, sink);
    } catch (err) {
      sink.problem(`real module ${m.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      console.log(`  FAILED ${m.id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
