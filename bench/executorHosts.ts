// Executors in this process vs in executor hosts (child processes), side by side: invoke round
// trip (one session sequentially, and 10 sessions with a call each in flight), executor start,
// and the memory of idle sessions in a host. Blocks of A and B alternate and medians are taken,
// because the machine is shared. `node bench/executorHosts.ts` (BENCH_QUICK=1: smaller;
// BENCH_PARTS=memory,trips,start,crash: only those).
//
// CPU: "main" is this process's main thread (event loop utilization: what serving the calls costs
// the thread that also serves HTTP); "process" is this process's CPU, all threads (the in-process
// workers included); "host" is the hosts' CPU (their relay thread and workers).

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Executor } from '../src/executor/Executor.ts';
import { ExecutorHostPool } from '../src/executor/ExecutorHostPool.ts';
import type { FuncType } from '../src/wasm/types.ts';
import { addModule } from './wasmgen.ts';
import { median, QUICK } from './lib.ts';

const ADD: FuncType = { params: ['i32', 'i32'], results: ['i32'] };
const ADD_ADDR = 20;
const CALLS = QUICK ? 300 : 2000;
const ROUNDS = QUICK ? 2 : 5;
const TICKS = 100; // Linux USER_HZ, what /proc/<pid>/stat counts in

type Kind = 'in-process' | 'hosted';

async function session(pool: ExecutorHostPool | undefined): Promise<Executor> {
  const ex = await Executor.start(pool ? { host: pool } : {});
  await ex.apply({ op: 'instantiate', label: 'add', bytes: addModule(), imports: [], exports: [{ name: 'add', kind: 'function', addr: ADD_ADDR }], tableElements: 0 });
  await call(ex, 0);
  return ex;
}

async function call(ex: Executor, i: number): Promise<void> {
  const r = await ex.invoke(ADD_ADDR, ADD, [{ type: 'i32', bits: String(i) }, { type: 'i32', bits: '1' }], { timeoutMs: 10_000 });
  if (r.results[0]?.bits !== String(i + 1)) throw new Error(`wrong result ${JSON.stringify(r.results)}`);
}

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / TICKS) * 1000; // utime, stime
}

function memOf(pid: number): { rssMb: number; pssMb: number } {
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(roll)?.[1] ?? NaN);
  return { rssMb: kb('Rss') / 1024, pssMb: kb('Pss') / 1024 };
}

interface Sample {
  usPerCall: number;
  mainUsPerCall: number;
  processUsPerCall: number;
  hostUsPerCall: number;
}

/** `calls` invokes spread over the sessions, each session with one call in flight at a time. */
async function block(sessions: readonly Executor[], calls: number, hostPids: readonly number[]): Promise<Sample> {
  const per = Math.ceil(calls / sessions.length);
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const host0 = hostPids.reduce((s, p) => s + procCpuMs(p), 0);
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (ex) => {
      for (let i = 0; i < per; i++) await call(ex, i);
    }),
  );
  const wall = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  const host = hostPids.reduce((s, p) => s + procCpuMs(p), 0) - host0;
  const n = per * sessions.length;
  return {
    usPerCall: (wall * 1000) / n,
    mainUsPerCall: (elu.active * 1000) / n,
    processUsPerCall: (cpu.user + cpu.system) / n,
    hostUsPerCall: (host * 1000) / n,
  };
}

function summarize(samples: readonly Sample[]): Sample {
  return {
    usPerCall: median(samples.map((s) => s.usPerCall)),
    mainUsPerCall: median(samples.map((s) => s.mainUsPerCall)),
    processUsPerCall: median(samples.map((s) => s.processUsPerCall)),
    hostUsPerCall: median(samples.map((s) => s.hostUsPerCall)),
  };
}

const f1 = (x: number) => x.toFixed(1);

async function roundTrips(nSessions: number): Promise<void> {
  const pool = new ExecutorHostPool({ maxHosts: 2 });
  const local = await Promise.all(Array.from({ length: nSessions }, () => session(undefined)));
  const hosted = await Promise.all(Array.from({ length: nSessions }, () => session(pool)));
  const hostPids = pool.hostInfo().map((h) => h.pid ?? 0);
  const samples: Record<Kind, Sample[]> = { 'in-process': [], hosted: [] };
  await block(local, CALLS / 4, []); // warm both
  await block(hosted, CALLS / 4, hostPids);
  for (let r = 0; r < ROUNDS; r++) {
    samples['in-process'].push(await block(local, CALLS, []));
    samples.hosted.push(await block(hosted, CALLS, hostPids));
  }
  const a = summarize(samples['in-process']);
  const b = summarize(samples.hosted);
  console.log(`\ninvoke round trip, ${nSessions === 1 ? 'one session, sequential' : `${nSessions} sessions, one call each in flight`} (µs per call, medians of ${ROUNDS} x ${CALLS} calls)`);
  console.log(`  wall:          in-process ${f1(a.usPerCall)}  hosted ${f1(b.usPerCall)}  ratio ${(b.usPerCall / a.usPerCall).toFixed(2)}x`);
  console.log(`  main thread:   in-process ${f1(a.mainUsPerCall)}  hosted ${f1(b.mainUsPerCall)}  ratio ${(b.mainUsPerCall / a.mainUsPerCall).toFixed(2)}x`);
  console.log(`  this process:  in-process ${f1(a.processUsPerCall)}  hosted ${f1(b.processUsPerCall)}  (in-process includes its workers)`);
  console.log(`  hosts:         hosted ${f1(b.hostUsPerCall)}  => all CPU: in-process ${f1(a.processUsPerCall)}  hosted ${f1(b.processUsPerCall + b.hostUsPerCall)}`);
  await Promise.all([...local, ...hosted].map((ex) => ex.close()));
  await pool.close();
}

async function startTimes(): Promise<void> {
  const n = QUICK ? 3 : 8;
  const pool = new ExecutorHostPool({ maxHosts: 1 });
  const keeper = await session(pool); // keeps the host running: starts below pay for a worker only
  const times: Record<'in-process' | 'hosted (host running)' | 'hosted (new host)', number[]> = {
    'in-process': [],
    'hosted (host running)': [],
    'hosted (new host)': [],
  };
  const time = async (start: () => Promise<Executor>): Promise<number> => {
    const t0 = performance.now();
    const ex = await start();
    const ms = performance.now() - t0;
    await ex.close();
    return ms;
  };
  for (let i = 0; i < n; i++) {
    times['in-process'].push(await time(() => Executor.start({})));
    times['hosted (host running)'].push(await time(() => Executor.start({ host: pool })));
    const cold = new ExecutorHostPool({ maxHosts: 1 });
    times['hosted (new host)'].push(await time(() => Executor.start({ host: cold })));
    await cold.close();
  }
  await keeper.close();
  await pool.close();
  const base = median(times['in-process']);
  console.log(`\nExecutor.start until ready (medians of ${n}, alternating)`);
  for (const [k, v] of Object.entries(times)) console.log(`  ${k.padEnd(24)} ${f1(median(v))} ms  ratio ${(median(v) / base).toFixed(2)}x`);
}

async function idleMemory(): Promise<void> {
  const counts = QUICK ? [1, 5] : [1, 10, 50];
  const settle = () => new Promise((r) => setTimeout(r, 1500));
  const perSession = (rows: { n: number; rssMb: number }[]): number => {
    const first = rows[0];
    const last = rows[rows.length - 1];
    return first && last && last.n > first.n ? (last.rssMb - first.rssMb) / (last.n - first.n) : NaN;
  };

  // Workers in this process first, before anything else here has run one (freed memory stays in RSS).
  console.log('\nidle sessions in this process (each: its worker with one small module linked and called)');
  await settle();
  const base = memOf(process.pid).rssMb;
  const local: Executor[] = [];
  const localRows: { n: number; rssMb: number }[] = [];
  for (const n of counts) {
    while (local.length < n) local.push(await session(undefined));
    await settle();
    const m = memOf(process.pid);
    localRows.push({ n, rssMb: m.rssMb });
    console.log(`  ${String(n).padStart(3)} sessions: process RSS +${f1(m.rssMb - base)} MB`);
  }
  console.log(`  per additional session: RSS ${f1(perSession(localRows))} MB`);
  await Promise.all(local.map((ex) => ex.close()));

  const pool = new ExecutorHostPool({ maxHosts: 1 });
  const sessions: Executor[] = [];
  console.log('idle sessions in one host');
  const rows: { n: number; rssMb: number; pssMb: number }[] = [];
  for (const n of counts) {
    while (sessions.length < n) sessions.push(await session(pool));
    await settle();
    const pid = pool.hostInfo()[0]?.pid ?? 0;
    const m = memOf(pid);
    rows.push({ n, ...m });
    console.log(`  ${String(n).padStart(3)} sessions: host RSS ${f1(m.rssMb)} MB (${f1(m.rssMb / n)} MB per session)  PSS ${f1(m.pssMb)} MB`);
  }
  const per = perSession(rows);
  const first = rows[0];
  if (first) console.log(`  per additional session: RSS ${f1(per)} MB; the host itself ≈ ${f1(first.rssMb - per * first.n)} MB`);
  await Promise.all(sessions.map((ex) => ex.close()));
  await pool.close();
}

/**
 * What a host's death costs the sessions on it: the time from the fatal event to the death being
 * seen here, and to a session of that host answering again (a new host, a new worker, the replay
 * of its link log: `ops` small modules). Once by SIGKILL, once by an allocation V8 aborts on.
 */
async function crashRecovery(): Promise<void> {
  const n = QUICK ? 2 : 4;
  const ops = 20;
  const rows: Record<'SIGKILL' | 'heap abort', { seenMs: number[]; backMs: number[] }> = {
    SIGKILL: { seenMs: [], backMs: [] },
    'heap abort': { seenMs: [], backMs: [] },
  };
  for (let i = 0; i < n; i++) {
    for (const how of ['SIGKILL', 'heap abort'] as const) {
      const pool = new ExecutorHostPool({ maxHosts: 1, echoStderr: false });
      const culprit = await Executor.start({ host: pool, heapLimitMb: 32 });
      const victim = await session(pool);
      for (let k = 0; k < ops; k++) {
        await victim.apply({ op: 'instantiate', label: `m${k}`, bytes: addModule(), imports: [], exports: [{ name: 'add', kind: 'function', addr: 100 + k }], tableElements: 0 });
      }
      const pid = victim.stats().pid ?? 0;
      const t0 = performance.now();
      let seen = NaN;
      const died = new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (pool.hostInfo().every((h) => h.pid !== pid)) {
            seen = performance.now() - t0;
            clearInterval(timer);
            resolve();
          }
        }, 1);
      });
      if (how === 'SIGKILL') process.kill(pid, 'SIGKILL');
      else {
        const table = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 4, 7, 1, 0x70, 0, 0x80, 0xad, 0xe2, 0x04]); // (table 10000000 funcref)
        void culprit.apply({ op: 'instantiate', label: 'huge', bytes: table, imports: [], exports: [], tableElements: 0 }).catch(() => {});
      }
      // A call sent before the death is seen would be in flight on the dead host, and fail.
      await died;
      await call(victim, 1);
      const back = performance.now() - t0;
      rows[how].seenMs.push(seen);
      rows[how].backMs.push(back);
      await Promise.all([culprit.close(), victim.close()]);
      await pool.close();
    }
  }
  console.log(`\nhost death, a co-hosted session with ${ops + 1} modules in its log (medians of ${n})`);
  for (const [how, r] of Object.entries(rows)) {
    console.log(`  ${how.padEnd(10)} death seen after ${f1(median(r.seenMs))} ms; the session answers again after ${f1(median(r.backMs))} ms`);
  }
}

/** BENCH_PARTS=memory,trips,start,crash runs only those parts. */
const PARTS = process.env['BENCH_PARTS']?.split(',') ?? ['memory', 'trips', 'start', 'crash'];
if (PARTS.includes('memory')) await idleMemory();
if (PARTS.includes('trips')) {
  await roundTrips(1);
  await roundTrips(10);
}
if (PARTS.includes('start')) await startTimes();
if (PARTS.includes('crash')) await crashRecovery();
