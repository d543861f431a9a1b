// Section 8 of the suite: the durable store, measured on the real server process (src/server.ts
// as npm start runs it) over a SQLite file.
//
// - Recovery: a store holding 1,000 dylibs with one 20-function module each plus one
//   20,000-function module (built through the Store interface, bench/storeBuilder.ts). Timed from
//   spawning the process to the first /health 200, alternating with the same start on an empty
//   (migrated) store, so the difference is recovery; the recovered server is then checked.
// - Code cache: a first call whose optimized code is cached against a first call that runs
//   binaryen, for an eager module with optimize 2 (a 2,000-function chain): the same bytes added
//   again in another dylib of the same server, and a recovered module's first call after a
//   restart against a new module's in that restarted server (binaryen warmed there first, so the
//   comparison is not about starting its thread). The cache's hits and misses from /metrics.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSink } from './realModules/bench.ts';
import { expectOk, median, now, request } from './lib.ts';
import { buildBigStore } from './storeBuilder.ts';
import { freePort } from '../test/support/freePort.ts';
import { chainModule, chainResult } from './wasmgen.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3));

/** Goal: the big store's start to healthy, in ms. */
const RECOVERY_GOAL_MS = 3000;
/** Goal: a cached first call at most this fraction of a compiling one. */
const CACHE_GOAL = 0.5;

interface Server {
  readonly port: number;
  readonly child: ChildProcess;
  readonly agent: http.Agent;
  /** Spawn to first /health 200. */
  readonly healthyMs: number;
  /** The server's own "recovery done" ms. */
  readonly recoveryMs: number | undefined;
}


async function startServer(databaseUrl: string, env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const started = now();
  const child = spawn(process.execPath, ['src/server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let recoveryMs: number | undefined;
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    const m = /"ms":(\d+(?:\.\d+)?),"msg":"recovery done"/.exec(out);
    if (m && recoveryMs === undefined) recoveryMs = Number(m[1]);
    if (out.length > 100_000) out = out.slice(-10_000);
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const probe = new http.Agent({ keepAlive: false });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}): ${out.slice(-1500)}`);
    const r = await request(probe, port, 'GET', '/health').catch(() => undefined);
    if (r?.status === 200) break;
    if (now() - started > 120_000) throw new Error(`no /health 200 within 120 s: ${out.slice(-1500)}`);
    await new Promise((res) => setTimeout(res, 10));
  }
  const healthyMs = now() - started;
  probe.destroy();
  // The log line may trail the first 200 by a moment.
  for (let i = 0; i < 100 && recoveryMs === undefined; i++) await new Promise((res) => setTimeout(res, 10));
  return { port, child, agent: new http.Agent({ keepAlive: true }), healthyMs, recoveryMs };
}

async function stopServer(s: Server): Promise<void> {
  s.agent.destroy();
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function invokeMain(s: Server, dylib: string): Promise<string> {
  const r = await expectOk(request(s.agent, s.port, 'POST', `/dylibs/${dylib}/invoke`, JSON.stringify({ symbol: 'main', args: [] })), `${dylib} main`);
  return JSON.parse(r.body).results?.[0]?.bits as string;
}

async function post(s: Server, path: string, body: string | Uint8Array, contentType = 'application/json'): Promise<void> {
  await expectOk(request(s.agent, s.port, 'POST', path, body, contentType), `POST ${path}`);
}

async function cacheCounts(s: Server): Promise<{ hits: number; misses: number }> {
  const text = (await expectOk(request(s.agent, s.port, 'GET', '/metrics'), 'GET /metrics')).body;
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { hits: value('wasmjit_code_cache_hits_total'), misses: value('wasmjit_code_cache_misses_total') };
}

export async function persistenceBench(sink: BenchSink, quick: boolean): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-persist-'));
  try {
    await recoveryBench(sink, quick, dir);
    await codeCacheBench(sink, quick, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function recoveryBench(sink: BenchSink, quick: boolean, dir: string): Promise<void> {
  const shape = quick ? { dylibs: 100, functions: 20, bigFunctions: 2000 } : { dylibs: 1000, functions: 20, bigFunctions: 20_000 };
  const bigUrl = `sqlite:${path.join(dir, 'big.sqlite')}`;
  const emptyUrl = `sqlite:${path.join(dir, 'empty.sqlite')}`;
  const b0 = now();
  const expect = await buildBigStore(bigUrl, shape);
  await buildBigStore(emptyUrl, { dylibs: 0, functions: 0, bigFunctions: 0 });
  console.log(`  built the store (${shape.dylibs} dylibs x ${shape.functions} fns + ${shape.bigFunctions} fns) in ${fmt(now() - b0)} ms`);
  // One untimed start of each: the OS file cache and Node's compile cache warm for both.
  for (const url of [emptyUrl, bigUrl]) await stopServer(await startServer(url));

  const trials = quick ? 1 : 3;
  const empty: number[] = [];
  const big: number[] = [];
  const recovery: number[] = [];
  for (let t = 0; t < trials; t++) {
    for (const which of t % 2 === 0 ? (['empty', 'big'] as const) : (['big', 'empty'] as const)) {
      const s = await startServer(which === 'big' ? bigUrl : emptyUrl);
      try {
        (which === 'big' ? big : empty).push(s.healthyMs);
        if (which === 'big') {
          if (s.recoveryMs !== undefined) recovery.push(s.recoveryMs);
          // The recovered definitions work (untimed).
          const last = shape.dylibs - 1;
          if ((await invokeMain(s, `d${last}`)) !== String(expect.mainResult(last))) throw new Error(`d${last} main() is wrong after recovery`);
          if ((await invokeMain(s, 'big')) !== String(expect.bigResult)) throw new Error('big main() is wrong after recovery');
        }
      } finally {
        await stopServer(s);
      }
    }
    console.log(`  trial ${t + 1}/${trials}: empty store ${fmt(empty.at(-1) ?? NaN)} ms, big store ${fmt(big.at(-1) ?? NaN)} ms to /health 200 (recovery ${fmt(recovery.at(-1) ?? NaN)} ms)`);
  }
  sink.raw['recovery'] = { shape, empty, big, recovery };
  const e = median(empty);
  const g = median(big);
  const defs = `${expect.definitions.dylibs} dylibs, ${expect.definitions.modules} modules`;
  sink.row({
    id: 'persist.recovery',
    what: `start to /health 200 on a store of ${defs} (${shape.dylibs} x ${shape.functions} fns + ${shape.bigFunctions} fns)`,
    a: `big store ${fmt(g)} ms`,
    b: `empty store ${fmt(e)} ms`,
    value: g,
    unit: 'ms',
    goal: `<= ${RECOVERY_GOAL_MS} ms`,
    pass: g <= RECOVERY_GOAL_MS,
    note: `ratio ${fmt(g / e)}x; recovery itself (the server's log) ${fmt(median(recovery))} ms`,
  });
  sink.row({ id: 'persist.recovery_ratio', what: 'same, big store vs empty store (the difference is recovery)', a: `${fmt(g)} ms`, b: `${fmt(e)} ms`, value: g / e, unit: 'x', goal: 'info', pass: null });
}

async function codeCacheBench(sink: BenchSink, quick: boolean, dir: string): Promise<void> {
  const fns = quick ? 500 : 2000;
  const trials = quick ? 1 : 3;
  const url = `sqlite:${path.join(dir, 'cache.sqlite')}`;
  const env = { CALL_TIMEOUT_MS: '120000', MAX_CALL_TIMEOUT_MS: '120000' };
  let nonce = 5000;
  const eager = (n: number) => chainModule(fns, 101, n);
  const addEager = (s: Server, dylib: string, n: number) => post(s, `/dylibs/${dylib}/modules?lazy=false&optimize=2`, eager(n), 'application/wasm');
  const firstCall = async (s: Server, dylib: string, n: number) => {
    const t0 = now();
    const bits = await invokeMain(s, dylib);
    const ms = now() - t0;
    if (bits !== String(chainResult(101, n))) throw new Error(`${dylib} main() gave ${bits}`);
    return ms;
  };
  /** binaryen's thread started and its optimizer warmed, untimed. */
  const warm = async (s: Server, tag: string) => {
    await post(s, '/dylibs', JSON.stringify({ name: `warm-${tag}` }));
    await post(s, `/dylibs/warm-${tag}/modules`, JSON.stringify({ wat: '(module (func (export "w") (result i32) (i32.const 1)))' }));
    const n = nonce++;
    await addEager(s, `warm-${tag}`, n);
    await firstCall(s, `warm-${tag}`, n);
  };

  // Same process: the same bytes again in another dylib.
  const miss: number[] = [];
  const hitSame: number[] = [];
  const modules: number[] = [];
  let s = await startServer(url, env);
  let first: { hits: number; misses: number };
  try {
    await warm(s, 'a');
    for (let t = 0; t < trials; t++) {
      const n = nonce++;
      modules.push(n);
      for (const d of [`miss${n}`, `again${n}`]) {
        await post(s, '/dylibs', JSON.stringify({ name: d }));
        await addEager(s, d, n);
      }
      miss.push(await firstCall(s, `miss${n}`, n));
      hitSame.push(await firstCall(s, `again${n}`, n));
      console.log(`  trial ${t + 1}/${trials}: first call compiling ${fmt(miss.at(-1) ?? NaN)} ms, the same module in another dylib ${fmt(hitSame.at(-1) ?? NaN)} ms`);
    }
    first = await cacheCounts(s);
  } finally {
    await stopServer(s);
  }

  // After a restart: a recovered module's first call (cached) vs a new module's (binaryen).
  const hitRestart: number[] = [];
  const missRestart: number[] = [];
  s = await startServer(url, env);
  let second: { hits: number; misses: number };
  try {
    await warm(s, 'b');
    for (let t = 0; t < trials; t++) {
      const n = modules[t] as number;
      const fresh = nonce++;
      await post(s, '/dylibs', JSON.stringify({ name: `new${fresh}` }));
      await addEager(s, `new${fresh}`, fresh);
      for (const which of t % 2 === 0 ? (['cached', 'new'] as const) : (['new', 'cached'] as const)) {
        if (which === 'cached') hitRestart.push(await firstCall(s, `miss${n}`, n));
        else missRestart.push(await firstCall(s, `new${fresh}`, fresh));
      }
      console.log(`  after a restart, trial ${t + 1}/${trials}: a recovered module's first call ${fmt(hitRestart.at(-1) ?? NaN)} ms, a new module's ${fmt(missRestart.at(-1) ?? NaN)} ms`);
    }
    second = await cacheCounts(s);
  } finally {
    await stopServer(s);
  }

  sink.raw['codeCache'] = { functions: fns, miss, hitSame, hitRestart, missRestart, first, second };
  const m = median(miss);
  const h = median(hitSame);
  const hr = median(hitRestart);
  const mr = median(missRestart);
  sink.row({
    id: 'persist.cache_same',
    what: `first call of an eager optimize-2 module (${fns} fns): the same bytes in another dylib (cached) vs compiling`,
    a: `cached ${fmt(h)} ms`,
    b: `compiling ${fmt(m)} ms`,
    value: h / m,
    unit: 'x',
    goal: `<= ${CACHE_GOAL}`,
    pass: h / m <= CACHE_GOAL,
  });
  sink.row({
    id: 'persist.cache_restart',
    what: 'same, a recovered module after a restart (cached) vs a new module in the restarted server (compiling)',
    a: `cached ${fmt(hr)} ms`,
    b: `compiling ${fmt(mr)} ms`,
    value: hr / mr,
    unit: 'x',
    goal: `<= ${CACHE_GOAL}`,
    pass: hr / mr <= CACHE_GOAL,
  });
  sink.row({
    id: 'persist.cache_counts',
    what: 'code cache hits / misses (/metrics): first server, then the restarted one (warm-ups included)',
    a: `first ${first.hits} / ${first.misses}`,
    b: `restarted ${second.hits} / ${second.misses}`,
    value: second.hits,
    unit: 'hits',
    goal: 'info',
    pass: null,
  });
}
