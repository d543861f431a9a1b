// Section 4 of bench/run.ts: the real server process at rest. Each trial starts a fresh server
// (as `npm start` does, PORT=0, DATABASE_URL=memory:), asks /health once, waits a moment and
// reads its resident set from /proc, with that of any child process it has started (executor
// hosts are child processes, started when a session first needs one); the bare fastify route's
// process, started alternately, gives the floor that Node and fastify alone take.
//
// Whether the compile thread (binaryen, in a piscina pool that starts its one thread on the
// first job) is running in the idle server is read from outside too: the server's unnamed worker
// threads are counted at rest, and again after adding a WAT module, which only binaryen can
// parse. The pool never has more than one thread, so when that add brings one more worker
// thread, the compile thread was not among those running at rest.

import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchSink, fmt, median, request } from './lib.ts';
import { descendants, descendantsRssMb, peakRssMb, rssMb, treeRssMb, unnamedWorkerThreads } from './procStats.ts';
import { startBareServer, startJitServer } from './servers.ts';

/** Goal: the idle server's resident set at most this many MB. */
export const GOAL_RSS_MB = 120;

export class IdleServerError extends Error {
  override name = 'IdleServerError';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A module only binaryen can turn into a binary (the server takes WAT as text/plain). */
const WAT = '(module (func (export "seven") (result i32) (i32.const 7)))';

export interface IdleJitSample {
  /** The server process and its descendants at rest (`children` of them). */
  readonly rssMb: number;
  readonly children: number;
  /** The server process alone. */
  readonly serverRssMb: number;
  readonly peakRssMb: number;
  /** Unnamed worker threads at rest, and right after the WAT add. */
  readonly workersIdle: number;
  readonly workersAfterWat: number;
  /** Resident set with children right after the WAT add: what starting binaryen's thread and the session's executor costs. */
  readonly rssAfterWatMb: number;
}

/** One fresh JIT server: its rest state, then the compile thread woken by a WAT add (which also starts the session's executor). */
export async function idleJitSample(settleMs: number, env: Readonly<Record<string, string>> = {}): Promise<IdleJitSample> {
  const server = await startJitServer(env);
  try {
    const health = await server.get('/health');
    if (health.status !== 200) throw new IdleServerError(`/health answered ${health.status}`);
    await sleep(settleMs);
    // The server's own size is read once and the tree's is built on it: read twice, a server
    // still growing could read larger alone than with its children.
    const serverRssMb = rssMb(server.pid);
    const rest = {
      rssMb: serverRssMb + descendantsRssMb(server.pid),
      children: descendants(server.pid).length,
      serverRssMb,
      peakRssMb: peakRssMb(server.pid),
      workersIdle: unnamedWorkerThreads(server.pid),
    };
    const created = await server.post('/dylibs', { name: 'wat' });
    if (created.status !== 201) throw new IdleServerError(`POST /dylibs: HTTP ${created.status} ${created.text.slice(0, 300)}`);
    const added = await server.request('POST', '/dylibs/wat/modules', { text: WAT });
    if (added.status !== 200 && added.status !== 201) throw new IdleServerError(`adding a WAT module: HTTP ${added.status} ${added.text.slice(0, 300)}`);
    return { ...rest, workersAfterWat: unnamedWorkerThreads(server.pid), rssAfterWatMb: treeRssMb(server.pid) };
  } finally {
    await server.stop();
  }
}

/** One fresh bare fastify server's resident set after a /health and the same wait. */
export async function idleBareRssMb(settleMs: number): Promise<number> {
  const bare = await startBareServer();
  const agent = new http.Agent({ keepAlive: false });
  try {
    const health = await request(agent, bare.port, 'GET', '/health');
    if (health.status !== 200) throw new IdleServerError(`bare /health answered ${health.status}`);
    await sleep(settleMs);
    return rssMb(bare.pid);
  } finally {
    agent.destroy();
    await bare.stop();
  }
}

export async function idleServerBench(sink: BenchSink, o: { trials: number; settleMs: number }): Promise<void> {
  const jit: IdleJitSample[] = [];
  const bare: number[] = [];
  // npm start keeps Node's compile cache (package.json), so every start after the first reads
  // the transpiled sources from it and never loads the TypeScript stripper. The trials measure
  // that: one start before them writes the cache if this checkout has none. The first start
  // after an install (or a change to the sources), with an empty cache, is measured apart.
  await idleJitSample(0);
  const coldDir = await mkdtemp(join(tmpdir(), 'idle-cold-cache-'));
  let cold: IdleJitSample;
  try {
    cold = await idleJitSample(o.settleMs, { NODE_COMPILE_CACHE: coldDir });
  } finally {
    await rm(coldDir, { recursive: true, force: true });
  }
  console.log(`  first start with an empty compile cache: server ${fmt(cold.rssMb)} MB`);
  for (let t = 0; t < o.trials; t++) {
    for (const side of t % 2 === 0 ? (['jit', 'bare'] as const) : (['bare', 'jit'] as const)) {
      if (side === 'jit') jit.push(await idleJitSample(o.settleMs));
      else bare.push(await idleBareRssMb(o.settleMs));
    }
    const last = jit.at(-1);
    console.log(
      `  trial ${t + 1}/${o.trials}: server ${fmt(last?.rssMb ?? NaN)} MB (${last?.children} child processes; ${last?.workersIdle} worker threads, ` +
        `${last?.workersAfterWat} after a WAT add), bare fastify ${fmt(bare.at(-1) ?? NaN)} MB`,
    );
  }
  sink.raw['idle'] = { settleMs: o.settleMs, jit, bare, cold };
  const r = median(jit.map((s) => s.rssMb));
  const b = median(bare);
  sink.row({
    id: 'idle.rss',
    what: `idle server RSS (fresh process and its children, /health, ${o.settleMs} ms later) vs bare fastify route's process`,
    a: `server ${fmt(r)} MB`,
    b: `bare ${fmt(b)} MB`,
    value: r,
    unit: 'MB',
    goal: `<= ${GOAL_RSS_MB} MB`,
    pass: r <= GOAL_RSS_MB,
    note:
      `child processes at rest ${jit.map((s) => s.children).join('/')}; the server process alone ${fmt(median(jit.map((s) => s.serverRssMb)))} MB, ` +
      `peak ${fmt(median(jit.map((s) => s.peakRssMb)))} MB; samples ${jit.map((s) => fmt(s.rssMb)).join(' / ')} vs ${bare.map(fmt).join(' / ')} MB`,
  });
  sink.row({
    id: 'idle.rss_cold',
    what: 'idle server RSS on its first start with an empty compile cache (TypeScript stripped at load) vs warm starts above',
    a: `${fmt(cold.rssMb)} MB`,
    b: `${fmt(r)} MB`,
    value: cold.rssMb - r,
    unit: 'MB',
    goal: 'info',
    pass: null,
  });
  // Started at rest: the WAT add found the thread running (no new one). Unknown: no thread came at all.
  const startedAtRest = jit.filter((s) => s.workersAfterWat === s.workersIdle).length;
  const unknown = jit.filter((s) => s.workersAfterWat < s.workersIdle || s.workersAfterWat > s.workersIdle + 1).length;
  sink.row({
    id: 'idle.compile_thread',
    what: 'compile thread (binaryen) running in an idle server (worker threads at rest vs after a WAT add)',
    a: `idle ${jit.map((s) => s.workersIdle).join('/')}`,
    b: `after WAT ${jit.map((s) => s.workersAfterWat).join('/')}`,
    value: startedAtRest,
    unit: `of ${jit.length}`,
    goal: 'not started (0)',
    pass: startedAtRest === 0 && unknown === 0,
    note: unknown > 0 ? `${unknown} trial(s) inconclusive: the WAT add changed the worker threads by other than one` : undefined,
  });
  const w = median(jit.map((s) => s.rssAfterWatMb));
  sink.row({
    id: 'idle.rss_binaryen',
    what: 'RSS with children right after the first WAT add (compile thread and the session\'s executor started) vs at rest',
    a: `${fmt(w)} MB`,
    b: `${fmt(r)} MB`,
    value: w - r,
    unit: 'MB',
    goal: 'info',
    pass: null,
  });
}
