// The benchmark suite. Every figure is a ratio of two things timed side by side in this one run,
// alternating A and B and taking medians, because the machine is shared and noisy (the idle
// server's RSS is the one absolute figure, with the bare fastify process beside it).
// BENCH_QUICK=1 runs a tiny smoke version; BENCH_ONLY=3 (or 1,5,...) runs only those sections
// (a section's lettered parts, 1b or 5b, go with its number). Prints a table and writes
// bench/results.json.

import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LazyJIT } from '../src/jit/LazyJIT.ts';
import { defaultJITConfig } from '../src/config.ts';
import { addModule, chainLL, chainModule, chainResult, loopModule } from './wasmgen.ts';
import { type BenchRow, type BenchSink, expectOk, fmt, invokeLoad, median, now, percentile, QUICK, request } from './lib.ts';
import { firstResultOverHttp } from './firstResult.ts';
import { idleServerBench } from './idleServer.ts';
import { realModulesBench } from './realModules/bench.ts';
import { persistenceBench } from './persistence.ts';
import { startBareServer, startJitServer } from './servers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const rows: BenchRow[] = [];
const raw: Record<string, unknown> = {};
const problems: string[] = [];

function row(r: BenchRow): void {
  rows.push(r);
  const verdict = r.pass === null ? 'info' : r.pass ? 'PASS' : 'MISS';
  console.log(`  [${verdict}] ${r.what}: ${fmt(r.value)} ${r.unit} (${r.a} vs ${r.b}; goal ${r.goal})${r.note ? ` — ${r.note}` : ''}`);
}
const sink: BenchSink = { row, problem: (m) => problems.push(m), raw };
const loads: Record<string, number> = {};
const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
/** The commit measured, marked when the work tree differs from it. */
const commit = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' (modified)' : ''}`;

/** BENCH_ONLY=1,3 runs only the sections whose number is listed (for iterating on one). */
const ONLY = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim());
const wanted = (n: number) => !ONLY || ONLY.includes(String(n));

async function section(name: string, fn: () => Promise<void>): Promise<void> {
  if (!wanted(Number(/^\d+/.exec(name)?.[0]))) return;
  // The machine is shared: each section records the load it started under.
  const load = os.loadavg()[0] ?? NaN;
  loads[name] = load;
  console.log(`\n== ${name} (load average ${load.toFixed(1)})`);
  const t = now();
  try {
    await fn();
  } catch (err) {
    const msg = `${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    problems.push(msg);
    console.log(`  FAILED ${msg}`);
  }
  console.log(`  (${((now() - t) / 1000).toFixed(1)} s)`);
}

const N_BIG = QUICK ? 2000 : 20000;
const CHAIN = 101;
const TRIALS = QUICK ? 1 : 3;
const LLI_TRIALS = QUICK ? 1 : 2;
let nonce = 1000;

// ---- 1b, 1c and 2: time to first result in-process, lli, first-call scaling ----

/**
 * The JIT alone, without HTTP: LazyJIT.addModule + invoke in this process, lazily and eagerly
 * (the whole module optimized by binaryen at level 2, the default), and V8 compiling,
 * instantiating and calling the same bytes in this process. Info rows: they show how much of
 * section 1's figure is the JIT and how much the HTTP round trips and the server around it.
 */
async function firstResultInProcess(jit: LazyJIT): Promise<void> {
  const lazy: number[] = [];
  const eager: number[] = [];
  const v8: number[] = [];
  const lazyCompiled: number[] = [];
  // Untimed warm-up of both paths (worker start, binaryen load) on a small module.
  for (const lazy of [true, false]) {
    const d = `warmup${lazy}`;
    jit.createDylib(d);
    await jit.addModule(d, { wasm: chainModule(300, CHAIN, nonce++) }, { lazy });
    await jit.invoke(d, 'main', () => []);
    await jit.removeDylib(d);
  }
  for (let t = 0; t < TRIALS; t++) {
    for (const mode of ['lazy', 'eager', 'v8'] as const) {
      const n = nonce++;
      const bytes = chainModule(N_BIG, CHAIN, n);
      const expect = String(chainResult(CHAIN, n));
      const t0 = now();
      let got: string | null | undefined;
      if (mode === 'v8') {
        const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
        got = String(((inst.exports.main as () => number)() >>> 0));
      } else {
        const dylib = `ttfr${n}`;
        jit.createDylib(dylib);
        await jit.addModule(dylib, { wasm: bytes }, { lazy: mode === 'lazy' });
        const r = await jit.invoke(dylib, 'main', () => [], { timeoutMs: 30_000 });
        got = r.results[0]?.bits;
        if (mode === 'lazy') lazyCompiled.push(r.compiled.length);
        const ms = now() - t0;
        (mode === 'lazy' ? lazy : eager).push(ms);
        await jit.removeDylib(dylib);
      }
      if (mode === 'v8') v8.push(now() - t0);
      if (got !== expect) throw new Error(`${mode} main() returned ${got}, expected ${expect}`);
    }
  }
  raw.firstResult = { lazy, eager, v8, lazyCompiled, functions: N_BIG, chain: CHAIN };
  const l = median(lazy);
  const e = median(eager);
  const d = median(v8);
  console.log(`  lazy ${fmt(l)} ms, eager ${fmt(e)} ms, V8 in-process ${fmt(d)} ms; lazy compiled ${median(lazyCompiled)} bodies`);
  row({ id: 'ttfr.lazy_eager', what: `in-process (LazyJIT, no HTTP) add + first call, ${N_BIG} fns, ${CHAIN} run: lazy vs eager (O2)`, a: `lazy ${fmt(l)} ms`, b: `eager ${fmt(e)} ms`, value: l / e, unit: 'x', goal: 'info', pass: null });
  row({ id: 'ttfr.lazy_v8', what: 'same, lazy vs V8 compile + instantiate + call in this process', a: `lazy ${fmt(l)} ms`, b: `V8 ${fmt(d)} ms`, value: l / d, unit: 'x', goal: 'info', pass: null });
}

function lliBench(): void {
  const lli = ['lli-16', 'lli'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
  if (!lli) {
    console.log('  lli is missing from PATH; DESIGN.md records lli-16 orc-lazy/orc ≈ 2.0 on this machine');
    raw.lli = { missing: true };
    return;
  }
  const version = spawnSync(lli, ['--version'], { encoding: 'utf8' }).stdout.split('\n').find((l) => /version/i.test(l))?.trim() ?? '?';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-lli-'));
  try {
    const file = path.join(dir, 'chain.ll');
    writeFileSync(file, chainLL(N_BIG, CHAIN));
    const lazy: number[] = [];
    const eager: number[] = [];
    for (let t = 0; t < LLI_TRIALS; t++) {
      for (const kind of ['orc-lazy', 'orc'] as const) {
        const t0 = now();
        const r = spawnSync(lli, [`-jit-kind=${kind}`, file], { encoding: 'utf8', timeout: 120_000 });
        const ms = now() - t0;
        if (r.status !== 0) throw new Error(`${lli} -jit-kind=${kind} exited ${r.status}: ${r.stderr.slice(0, 300)}`);
        (kind === 'orc' ? eager : lazy).push(ms);
      }
    }
    raw.lli = { lli, version, lazy, eager };
    const l = median(lazy);
    const e = median(eager);
    row({ id: 'ttfr.lli', what: `${lli} (${version}) orc-lazy vs orc, same shape`, a: `lazy ${fmt(l)} ms`, b: `eager ${fmt(e)} ms`, value: l / e, unit: 'x', goal: 'reference', pass: null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Section 2: the first call of one leaf function right after its module was added, in a
 * 20,000-function module against a 20-function one (the same body; a leaf reaches nothing, so
 * its partition is itself). Timed right after the add, the call carries whatever the add left
 * for the threads to finish (the main thread's GC of the add's garbage above all): that is the
 * goal's figure. The settled variant waits SETTLE_MS after the add, then makes an untimed first
 * call into a separate small module so the threads a first call goes through (main and
 * executor) are awake, as they are right after an add: it shows the first call's own cost.
 * Every add starts SETTLE_MS after the previous trial's module was removed, so that no sample
 * carries the removal of another size's module; the sizes alternate which goes first.
 */
const SETTLE_MS = 300;

async function firstCallScaling(jit: LazyJIT): Promise<void> {
  const trials = QUICK ? 1 : 7;
  jit.createDylib('scale_warm');
  await jit.addModule('scale_warm', { wasm: chainModule(300, 5, nonce++, true) }, { lazy: true });
  let warmLeaf = 10;
  const samples = { settled: { big: [] as number[], small: [] as number[] }, now: { big: [] as number[], small: [] as number[] } };
  const addMs = { big: [] as number[], small: [] as number[] };
  for (let t = 0; t < trials; t++) {
    for (const size of t % 2 === 0 ? [N_BIG, 20] : [20, N_BIG]) {
      for (const mode of ['now', 'settled'] as const) {
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const n = nonce++;
        const dylib = `scale${n}`;
        const which = size === 20 ? 'small' : 'big';
        jit.createDylib(dylib);
        const a0 = now();
        await jit.addModule(dylib, { wasm: chainModule(size, 5, n, true) }, { lazy: true });
        addMs[which].push(now() - a0);
        if (mode === 'settled') {
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          await jit.invoke('scale_warm', `f${warmLeaf++}`, () => []);
        }
        const fn = `f${size - 3}`;
        const t0 = now();
        const r = await jit.invoke(dylib, fn, () => []);
        const ms = now() - t0;
        if (r.results[0]?.bits !== String((((n + size - 3) * 3) | 0) >>> 0)) throw new Error(`${fn} returned ${JSON.stringify(r.results)}`);
        if (r.compiled.length !== 1) throw new Error(`the first call of leaf ${fn} compiled ${JSON.stringify(r.compiled)}, not just itself`);
        samples[mode][which].push(ms);
        await jit.removeDylib(dylib);
      }
    }
  }
  await jit.removeDylib('scale_warm');
  raw.firstCallScaling = { settleMs: SETTLE_MS, ...samples, addMs };
  const bn = median(samples.now.big);
  const sn = median(samples.now.small);
  row({
    id: 'first.scaling',
    what: `first call of one leaf fn right after the add, ${N_BIG}-fn vs 20-fn module (in-process)`,
    a: `${fmt(bn)} ms`,
    b: `${fmt(sn)} ms`,
    value: bn / sn,
    unit: 'x',
    goal: '<= 1.5',
    pass: bn / sn <= 1.5,
    note: `max ${fmt(Math.max(...samples.now.big))} / ${fmt(Math.max(...samples.now.small))} ms; runs ${samples.now.big.map(fmt).join(' / ')} vs ${samples.now.small.map(fmt).join(' / ')} ms; add ${fmt(median(addMs.big))} / ${fmt(median(addMs.small))} ms`,
  });
  const b = median(samples.settled.big);
  const sm = median(samples.settled.small);
  row({ id: 'first.scaling_settled', what: `same, the add settled ${SETTLE_MS} ms first (the first call's own cost)`, a: `${fmt(b)} ms`, b: `${fmt(sm)} ms`, value: b / sm, unit: 'x', goal: 'info', pass: null, note: `max ${fmt(Math.max(...samples.settled.big))} / ${fmt(Math.max(...samples.settled.small))} ms` });
}

// ---- 3: warm run ----

/** The tier of a lazily added function's body in `dylib` ('baseline', 'optimized', or why neither). */
function tierOf(jit: LazyJIT, dylib: string, name: string): string {
  const entry = jit.getDylib(dylib).entry(name);
  const target = entry ? jit.targetOf(entry) : undefined;
  return target?.tier ?? (target ? `not compiled (${target.compiled})` : 'no such lazy symbol');
}

/**
 * Section 3: run(n) calls the small inc n times from a loop. Lazily, inc gets hot during the
 * first warm-up call; re-optimization then compiles inc and its compiled caller run (inc
 * inlined) beside the program, and whenIdle() waits for it. The section checks that both are on
 * their optimized tier before timing, so the figure is the re-optimized code's, not the
 * baseline's. Eagerly, the module was optimized whole by binaryen at level 2.
 */
async function warmRun(jit: LazyJIT): Promise<void> {
  const iters = QUICK ? 2_000_000 : 20_000_000;
  const trials = QUICK ? 2 : 5;
  const bytes = loopModule();
  jit.createDylib('warm_lazy');
  jit.createDylib('warm_eager');
  await jit.addModule('warm_lazy', { wasm: bytes }, { lazy: true });
  await jit.addModule('warm_eager', { wasm: bytes }, { lazy: false });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const run = inst.exports.run as (n: number) => number;
  const arg = () => [{ type: 'i32' as const, bits: String(iters) }];
  // Warm each: compile, let re-optimization finish, then a call on the final code each (V8
  // compiles wasm lazily and tiers it up as it runs).
  for (let i = 0; i < 2; i++) {
    await jit.invoke('warm_lazy', 'run', arg, { timeoutMs: 30_000 });
    await jit.invoke('warm_eager', 'run', arg, { timeoutMs: 30_000 });
    run(iters);
    await jit.whenIdle();
  }
  const tiers = { run: tierOf(jit, 'warm_lazy', 'run'), inc: tierOf(jit, 'warm_lazy', 'inc') };
  if (tiers.run !== 'optimized' || tiers.inc !== 'optimized') throw new Error(`after whenIdle() the lazy module's tiers are ${JSON.stringify(tiers)}, not optimized`);
  const lazy: number[] = [];
  const eager: number[] = [];
  const lazyRun: number[] = [];
  const eagerRun: number[] = [];
  const v8: number[] = [];
  for (let t = 0; t < trials; t++) {
    for (const mode of ['lazy', 'eager', 'v8'] as const) {
      const t0 = now();
      let got: string | null | undefined;
      if (mode === 'v8') got = String(run(iters) >>> 0);
      else {
        const r = await jit.invoke(mode === 'lazy' ? 'warm_lazy' : 'warm_eager', 'run', arg, { timeoutMs: 30_000 });
        got = r.results[0]?.bits;
        (mode === 'lazy' ? lazyRun : eagerRun).push(r.runMs);
      }
      const ms = now() - t0;
      ({ lazy, eager, v8 })[mode].push(ms);
      if (got !== String(iters)) throw new Error(`${mode} run(${iters}) returned ${got}`);
    }
  }
  raw.warm = { iters, lazy, eager, v8, lazyRun, eagerRun };
  await jit.removeDylib('warm_lazy');
  await jit.removeDylib('warm_eager');
  const l = median(lazy);
  const e = median(eager);
  const d = median(v8);
  row({ id: 'warm.lazy_eager', what: `warm loop, ${iters / 1e6}M calls of a small fn: lazy (re-optimized, after whenIdle) vs eager`, a: `lazy ${fmt(l)} ms`, b: `eager ${fmt(e)} ms`, value: l / e, unit: 'x', goal: '<= 1.2', pass: l / e <= 1.2, note: `executor runMs lazy ${fmt(median(lazyRun))} / eager ${fmt(median(eagerRun))}` });
  row({ id: 'warm.lazy_v8', what: 'same, lazy vs V8 running the module in this process', a: `lazy ${fmt(l)} ms`, b: `V8 ${fmt(d)} ms`, value: l / d, unit: 'x', goal: 'info', pass: null });
}

// ---- 5: HTTP throughput and the event loop under a compile storm ----

/**
 * The servers here log at warn: at info (the default) the JIT server writes two log lines per
 * request, which the bare route does not, and this process would read every one of them.
 */
const QUIET = { LOG_LEVEL: 'warn' } as const;

async function httpBench(): Promise<void> {
  const jitServer = await startJitServer(QUIET);
  const bare = await startBareServer().catch(async (err: unknown) => {
    await jitServer.stop();
    throw err;
  });
  const jitPort = jitServer.port;
  const barePort = bare.port;
  try {
    const agent = new http.Agent({ keepAlive: true });
    await expectOk(request(agent, jitPort, 'POST', '/dylibs', JSON.stringify({ name: 'bench' })), 'POST /dylibs');
    await expectOk(request(agent, jitPort, 'POST', '/dylibs/bench/modules?lazy=true', addModule(), 'application/wasm'), 'POST module');
    for (const port of [jitPort, barePort]) {
      const r = await expectOk(request(agent, port, 'POST', '/dylibs/bench/symbols/add/invoke', JSON.stringify({ args: [2, 3] })), 'invoke add');
      if (JSON.parse(r.body).results?.[0]?.value !== 5) throw new Error(`add(2,3) on port ${port} gave ${r.body}`);
    }
    agent.destroy();
    const seconds = QUICK ? 1 : 3;
    await invokeLoad(jitPort, 1); // warm both (add gets hot and re-optimized in the JIT's warm-up)
    await invokeLoad(barePort, 1);
    const rps = { jit: [] as number[], bare: [] as number[] };
    const p99 = { jit: [] as number[], bare: [] as number[] };
    const errors = { jit: 0, bare: 0 };
    for (let t = 0; t < (QUICK ? 1 : 3); t++) {
      for (const which of ['jit', 'bare'] as const) {
        const r = await invokeLoad(which === 'jit' ? jitPort : barePort, seconds);
        rps[which].push(r.requests.average);
        p99[which].push(r.latency.p99);
        errors[which] += r.errors + r.non2xx + r.timeouts;
      }
    }
    raw.http = { rps, p99, errors, connections: 10, seconds };
    if (errors.jit + errors.bare > 0) problems.push(`HTTP: ${errors.jit} JIT and ${errors.bare} bare failed requests under load`);
    const rj = median(rps.jit);
    const rb = median(rps.bare);
    row({ id: 'http.rps', what: 'HTTP invoke add(i32,i32) req/s, 10 conns', a: `JIT ${fmt(rj)}/s`, b: `bare fastify ${fmt(rb)}/s`, value: rj / rb, unit: 'x', goal: '>= 0.7', pass: rj / rb >= 0.7 });
    // autocannon reports latency in whole milliseconds: a sub-millisecond p99 reads as 0.
    row({ id: 'http.p99', what: 'HTTP invoke p99 latency (autocannon, 1 ms resolution)', a: `JIT ${fmt(median(p99.jit))} ms`, b: `bare ${fmt(median(p99.bare))} ms`, value: median(p99.jit), unit: 'ms', goal: 'info', pass: null });
  } finally {
    await bare.stop();
    await jitServer.stop();
  }
}

/** Pings GET /health sequentially until `stop` resolves; returns the latencies (ms). */
async function pingHealth(port: number, stop: { done: boolean }): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const lat: number[] = [];
  while (!stop.done) {
    const t0 = now();
    const r = await request(agent, port, 'GET', '/health');
    lat.push(now() - t0);
    if (r.status !== 200) throw new Error(`/health answered ${r.status}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  agent.destroy();
  return lat;
}

/**
 * 50 clients each first-call their own sequence of distinct leaf functions of a 20,000-function
 * lazy module (every call compiles its leaf), while one more client pings /health.
 */
async function stormBench(): Promise<void> {
  const server = await startJitServer(QUIET);
  const port = server.port;
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    await expectOk(request(agent, port, 'POST', '/dylibs', JSON.stringify({ name: 'storm' })), 'POST /dylibs');
    const t0 = now();
    await expectOk(request(agent, port, 'POST', '/dylibs/storm/modules?lazy=true', chainModule(N_BIG, 101, 77, true), 'application/wasm'), 'POST big module');
    const addMs = now() - t0;
    // Baseline: /health with nothing else going on.
    const idleStop = { done: false };
    const idle = pingHealth(port, idleStop);
    await new Promise((r) => setTimeout(r, QUICK ? 500 : 2000));
    idleStop.done = true;
    const idleLat = await idle;
    // The storm: 50 clients, each first-calling its own sequence of distinct functions.
    const clients = 50;
    const perClient = QUICK ? 2 : 6;
    const stop = { done: false };
    const pings = pingHealth(port, stop);
    const s0 = now();
    let failures = 0;
    let notCompiled = 0;
    const callLat: number[] = [];
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let k = 0; k < perClient; k++) {
          const fn = `f${101 + k * clients + c}`;
          const q0 = now();
          const r = await request(agent, port, 'POST', `/dylibs/storm/symbols/${fn}/invoke`, JSON.stringify({ args: [] }));
          callLat.push(now() - q0);
          if (r.status !== 200) {
            failures++;
            if (failures <= 3) problems.push(`storm: ${fn} answered ${r.status} ${r.body.slice(0, 200)}`);
          } else if (!((JSON.parse(r.body) as { compiled?: string[] }).compiled?.length)) {
            // A storm of calls that compile nothing would not be the storm the goal is about.
            notCompiled++;
          }
        }
      }),
    );
    const stormMs = now() - s0;
    stop.done = true;
    const lat = await pings;
    agent.destroy();
    const compiled = clients * perClient;
    if (notCompiled > 0) problems.push(`storm: ${notCompiled} first calls compiled nothing`);
    raw.storm = { addMs, notCompiled, idleP99: percentile(idleLat, 99), idleN: idleLat.length, p99: percentile(lat, 99), p50: percentile(lat, 50), max: Math.max(...lat), n: lat.length, compiled, stormMs, failures, callP50: percentile(callLat, 50), callP99: percentile(callLat, 99) };
    console.log(`  ${compiled} first calls by ${clients} clients took ${fmt(stormMs)} ms (${fmt((compiled * 1000) / stormMs)}/s, call p50 ${fmt(percentile(callLat, 50))} ms, p99 ${fmt(percentile(callLat, 99))} ms), ${failures} failed; ${lat.length} health pings`);
    const p = percentile(lat, 99);
    row({ id: 'storm.health_p99', what: `GET /health p99 while ${clients} clients first-call ${compiled} fns`, a: `storm ${fmt(p)} ms`, b: `idle ${fmt(percentile(idleLat, 99))} ms`, value: p, unit: 'ms', goal: '<= 20 ms', pass: p <= 20, note: `max ${fmt(Math.max(...lat))} ms, ${lat.length} pings` });
  } finally {
    await server.stop();
  }
}

// ---- 6: memory (in a child with --expose-gc) ----

async function memoryBench(): Promise<void> {
  const r = spawnSync(process.execPath, ['--expose-gc', 'bench/memory.ts'], { cwd: root, encoding: 'utf8', env: process.env, timeout: 400_000 });
  if (r.status !== 0) throw new Error(`bench/memory.ts exited ${r.status}: ${r.stderr.slice(-800)}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  raw.memory = m;
  row({ id: 'mem.per1000', what: `RSS growth per 1,000 compiled fns (measured over ${m.nFuncs})`, a: `${fmt(m.rssBeforeFuncs)} MB`, b: `${fmt(m.rssAfterFuncs)} MB`, value: m.perThousandMb, unit: 'MB', goal: 'report', pass: null });
  row({ id: 'mem.cycles', what: `RSS growth per 1,000 add/delete cycles (first ${m.nCycles} after 50 warm-up: includes V8 heap growth)`, a: `before ${fmt(m.cyclesBefore)} MB`, b: `after ${fmt(m.cyclesAfter)} MB`, value: ((m.cyclesAfter - m.cyclesBefore) * 1000) / m.nCycles, unit: 'MB', goal: 'report', pass: null });
  const series = (m.series as { cycles: number; rssMb: number }[]).map((p) => `${p.cycles}:${p.rssMb.toFixed(0)}`).join(' ');
  row({ id: 'mem.cycles_steady', what: `RSS growth per 1,000 add/delete cycles (cycles ${m.steadyFrom}-${m.steadyFrom + m.steadyCycles})`, a: `before ${fmt(m.steadyBefore)} MB`, b: `after ${fmt(m.steadyAfter)} MB`, value: ((m.steadyAfter - m.steadyBefore) * 1000) / m.steadyCycles, unit: 'MB', goal: 'report (ideally ~0)', pass: null, note: `main JS heap after GC ${fmt(m.steadyHeapBefore)} -> ${fmt(m.steadyHeapAfter)} MB, replay log ${m.replayLogOps} ops; RSS MB by cycle ${series}` });
}

// ---- main ----

const started = now();
console.log(`wasm-orc-jit bench${QUICK ? ' (BENCH_QUICK)' : ''} at ${commit}, ${new Date().toISOString()}: node ${process.version}, ${os.cpus().length} cpus, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
await section(`1. time to first result over HTTP (${N_BIG} fns, ${CHAIN} reached) vs V8 in a fresh node`, () =>
  firstResultOverHttp(sink, { functions: N_BIG, chain: CHAIN, trials: QUICK ? 1 : 5, warmUps: QUICK ? 1 : 2, nonce: 100_000 }),
);
if (wanted(1) || wanted(2) || wanted(3)) {
  const jit = await LazyJIT.create({ ...defaultJITConfig(), callTimeoutMs: 60_000, maxCallTimeoutMs: 60_000 });
  try {
    await section(`1b. time to first result in-process (${N_BIG} fns, ${CHAIN} reached)`, () => firstResultInProcess(jit));
    await section('1c. lli orc-lazy vs orc', async () => lliBench());
    await section('2. first call, large vs small module', () => firstCallScaling(jit));
    await section('3. warm run', () => warmRun(jit));
  } finally {
    await jit.close();
  }
}
await section('4. idle server', () => idleServerBench(sink, { trials: QUICK ? 1 : 3, settleMs: 1000 }));
await section('5. HTTP throughput vs bare fastify', () => httpBench());
await section('5b. /health under a compile storm', () => stormBench());
await section('6. memory', () => memoryBench());
await section('7. real modules from npm packages, service vs V8', () => realModulesBench({ ...sink, raw: (raw.realModules = {}) as Record<string, unknown> }, QUICK));
await section('8. persistence: recovery and the code cache', () => persistenceBench({ ...sink, raw: (raw.persistence = {}) as Record<string, unknown> }, QUICK));

const totalS = (now() - started) / 1000;
console.log(`\n${'id'.padEnd(22)} ${'value'.padStart(11)}  ${'goal'.padEnd(16)} verdict  A vs B`);
for (const r of rows) {
  const v = r.pass === null ? 'info' : r.pass ? 'PASS' : 'MISS';
  console.log(`${r.id.padEnd(22)} ${(fmt(r.value) + (r.unit === 'x' ? 'x' : ' ' + r.unit)).padStart(11)}  ${r.goal.padEnd(16)} ${v.padEnd(7)}  ${r.a} vs ${r.b}`);
}
if (problems.length) console.log(`\nProblems:\n- ${problems.join('\n- ')}`);
console.log(`\ntotal ${totalS.toFixed(1)} s`);
const out = { date: new Date().toISOString(), commit, quick: QUICK, loads, loadAvgEnd: os.loadavg(), node: process.version, cpus: os.cpus().length, memGiB: os.totalmem() / 2 ** 30, totalS, rows, raw, problems };
writeFileSync(path.join(here, 'results.json'), JSON.stringify(out, null, 2) + '\n');
console.log('wrote bench/results.json');
process.exit(0);
