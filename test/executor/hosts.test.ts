// Executors in executor hosts (child processes): heap exhaustion provoked on purpose, both the
// kind V8 answers by stopping one worker and the kind it answers by aborting the whole host;
// what a host's death costs the sessions on it and on other hosts; hosts killed from outside;
// placement over the pool; hosts' life with their parent process.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { ResourceExhausted } from '../../src/core/errors.ts';
import { Executor, type ExecutorOptions } from '../../src/executor/Executor.ts';
import { ExecutorHostPool, hostEnv, hostExecArgv } from '../../src/executor/ExecutorHostPool.ts';
import { ExecutorHostPoolClosed } from '../../src/executor/hostErrors.ts';
import type { FuncType } from '../../src/wasm/types.ts';
import { link, wat } from './helpers.ts';

const nullary = (results: FuncType['results']): FuncType => ({ params: [], results });
const BUMP = 20;
const SPIN = 21;
const COUNTER = `(module $counter
  (global $n (mut i32) (i32.const 5))
  (func (export "bump") (result i32) global.get $n i32.const 1 i32.add global.set $n global.get $n)
  (func (export "spin") (loop $l br $l)))`;

/** 10M funcref elements: ~80 MB of backing store in one allocation, past a 32 MB worker heap. */
const HUGE_TABLE = `(module (table 10000000 funcref))`;
/** Grows its table by a million elements at a time until the engine refuses (-1). */
const TABLE_GROWER = `(module (table 1 funcref)
  (func (export "grow") (result i32)
    (loop $l (br_if $l (i32.ne (table.grow 0 (ref.null func) (i32.const 1000000)) (i32.const -1))))
    (table.size 0)))`;
const PRINTER = `(module (import "spectest" "print_i32" (func $p (param i32)))
  (func (export "chatty") (local i32) (loop $l local.get 0 call $p local.get 0 i32.const 1 i32.add local.tee 0 br $l)))`;

function newPool(t: Test, maxHosts: number): ExecutorHostPool {
  // V8's fatal reports would flood the test output; the errors carry their last lines anyway.
  const pool = new ExecutorHostPool({ maxHosts, echoStderr: false });
  t.teardown(() => pool.close());
  return pool;
}

async function session(t: Test, pool: ExecutorHostPool, opts: Omit<ExecutorOptions, 'host'> = {}): Promise<Executor> {
  const ex = await Executor.start({ ...opts, host: pool });
  t.teardown(() => ex.close());
  await link(ex, COUNTER, { bump: BUMP, spin: SPIN });
  return ex;
}

async function bump(ex: Executor): Promise<number> {
  const r = await ex.invoke(BUMP, nullary(['i32']), [], { timeoutMs: 20_000 });
  return Number(r.results[0]?.bits);
}

async function bumps(ex: Executor, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await bump(ex));
  return out;
}

function hugeTable(ex: Executor): Promise<void> {
  return ex.apply({ op: 'instantiate', label: 'huge-table', bytes: wat(HUGE_TABLE), imports: [], exports: [], tableElements: 0 });
}

/** True while `pid` is a process that has not exited (a zombie counts as exited). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function until(what: string, cond: () => boolean, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('sessions run in host processes, never in the test process', async (t) => {
  const pool = newPool(t, 2);
  const a = await session(t, pool);
  const b = await session(t, pool);
  const c = await session(t, pool);
  const pids = [a, b, c].map((ex) => ex.stats().pid);
  t.notOk(pids.includes(process.pid), 'no worker in the test process');
  t.equal(new Set(pids).size, 2, 'three sessions on two hosts');
  t.same(
    pool.hostInfo().map((h) => h.sessions).sort(),
    [1, 2],
    'spread: the second host started before any host got a second session',
  );
  t.same(await bumps(a, 2), [6, 7]);
  t.same(await bumps(c, 1), [6], 'each session has its own state');
});

t.test('a worker that runs out of heap inside a host: only its session restarts', async (t) => {
  const pool = newPool(t, 1);
  const victim = await session(t, pool, { heapLimitMb: 64, maxOutputLines: Number.MAX_SAFE_INTEGER });
  const neighbour = await session(t, pool);
  const hostPid = victim.stats().pid;
  t.equal(neighbour.stats().pid, hostPid, 'both on the one host');
  await link(victim, PRINTER, { chatty: 22 }, [
    { module: 'spectest', name: 'print_i32', kind: 'function', addr: victim.hostSymbols().find((h) => h.name === 'print_i32')?.addr ?? 0 },
  ]);
  t.same(await bumps(victim, 1), [6]);
  t.same(await bumps(neighbour, 3), [6, 7, 8]);

  // Output lines are kept without a cap, so the print loop fills the worker's heap.
  const err = await victim.invoke(22, nullary([]), [], { timeoutMs: 30_000 }).catch((e: unknown) => e);
  t.type(err, ResourceExhausted);
  t.equal((err as ResourceExhausted).limit, 'memory');
  t.equal(victim.stats().restarts, 1);
  t.same(await bumps(victim, 1), [6], "the victim's module answers again, from its initial state");
  t.equal(pool.startedHosts, 1, 'V8 stopped the worker only: the host lives on');
  t.equal(victim.stats().pid, hostPid);
  t.same(await bumps(neighbour, 1), [9], 'the co-hosted session kept its state');
  t.equal(neighbour.stats().restarts, 0);
});

t.test('an allocation that makes V8 abort the whole host: ResourceExhausted, and the session comes back', async (t) => {
  const pool = newPool(t, 1);
  const ex = await session(t, pool, { heapLimitMb: 32 });
  const firstHost = ex.stats().pid ?? 0;
  t.not(firstHost, process.pid);
  t.same(await bumps(ex, 2), [6, 7]);

  const err = await hugeTable(ex).catch((e: unknown) => e);
  t.type(err, ResourceExhausted, 'the op that did it answers ResourceExhausted');
  t.equal((err as ResourceExhausted).limit, 'memory');
  t.match((err as Error).message, /host process ran out of memory.*SIGABRT.*(Reached heap limit|JavaScript heap out of memory)/s);
  t.notOk(running(firstHost), 'the host is gone');
  t.not(ex.stats().pid, firstHost, 'the session runs in a new host');
  t.equal(pool.startedHosts, 2);
  t.same(await bumps(ex, 1), [6], 'its modules answer again after the replay (state from the start)');
  t.equal(ex.stats().replayLogOps, 1, 'the op that aborted the host is not replayed');

  // The same through a call: a loop growing a table until the engine refuses.
  await link(ex, TABLE_GROWER, { grow: 23 });
  const secondHost = ex.stats().pid ?? 0;
  const grown = await ex.invoke(23, nullary(['i32']), [], { timeoutMs: 30_000 }).catch((e: unknown) => e);
  t.type(grown, ResourceExhausted, 'the call answers ResourceExhausted, whichever way V8 stopped it');
  t.comment(`table.grow loop: ${pool.startedHosts === 3 ? 'V8 aborted the host' : 'V8 stopped the worker only'}`);
  t.equal(ex.stats().restarts, 2);
  t.same(await bumps(ex, 1), [6], 'and the session answers again');
  t.equal(running(secondHost), pool.startedHosts === 2, 'a new host exactly when the old one is gone');
});

t.test('blast radius: a host abort restarts its co-hosted sessions; the other host does not notice', async (t) => {
  const pool = newPool(t, 2);
  const culprit = await session(t, pool, { heapLimitMb: 32 });
  const elsewhere = await session(t, pool);
  const coHosted = await session(t, pool);
  const doomed = culprit.stats().pid ?? 0;
  t.equal(coHosted.stats().pid, doomed, 'placement: culprit and co-hosted share a host');
  t.not(elsewhere.stats().pid, doomed);

  t.same(await bumps(coHosted, 2), [6, 7]);
  t.same(await bumps(elsewhere, 3), [6, 7, 8]);

  // The co-hosted session is busy when the host dies: a call in flight and one queued behind it.
  const inFlight = coHosted.invoke(SPIN, nullary([]), [], { timeoutMs: 60_000 }).catch((e: unknown) => e);
  const queued = bump(coHosted).catch((e: unknown) => e);
  // The session on the other host keeps calling throughout.
  let stop = false;
  const steady: (number | unknown)[] = [];
  const calling = (async () => {
    while (!stop) steady.push(await bump(elsewhere).catch((e: unknown) => e));
  })();

  const crashStarted = performance.now();
  const err = await hugeTable(culprit).catch((e: unknown) => e);
  t.type(err, ResourceExhausted);
  const lost = await inFlight;
  const afterCrash = await queued;
  const recoveredMs = performance.now() - crashStarted;
  stop = true;
  await calling;

  t.type(lost, ResourceExhausted, "the co-hosted session's call in flight is lost, answered ResourceExhausted");
  t.match((lost as Error).message, /another session's on the same host/);
  t.equal(afterCrash, 6, "the call queued behind it runs on the restarted worker, on the session's initial state");
  t.equal(coHosted.stats().restarts, 1);
  t.not(coHosted.stats().pid, doomed);

  t.ok(steady.length > 0, 'the other session was called during the crash');
  t.same(
    steady,
    steady.map((_, i) => 9 + i),
    'every call of the session on the other host succeeded, its global counting on',
  );
  t.equal(elsewhere.stats().restarts, 0);
  t.same(await bumps(elsewhere, 1), [9 + steady.length]);
  t.same(await bumps(culprit, 1), [6], 'the culprit session is back too');
  t.comment(
    `crash to co-hosted session answering again: ${recoveredMs.toFixed(0)} ms; ` +
      `${steady.length} calls of the other host's session meanwhile, none failed`,
  );
});

t.test('a host killed from outside is replaced and its sessions come back', async (t) => {
  const pool = newPool(t, 1);
  const busy = await session(t, pool);
  const idle = await session(t, pool);
  const victim = busy.stats().pid ?? 0;
  t.same(await bumps(busy, 1), [6]);
  t.same(await bumps(idle, 2), [6, 7]);

  const inFlight = busy.invoke(SPIN, nullary([]), [], { timeoutMs: 60_000 }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 200));
  process.kill(victim, 'SIGKILL');
  const err = await inFlight;
  t.type(err, Error);
  t.notOk(err instanceof ResourceExhausted, 'a kill is not heap exhaustion');
  t.match((err as Error).message, new RegExp(`executor host \\(pid ${victim}\\) was killed by SIGKILL`));

  t.same(await bumps(busy, 1), [6], 'the busy session answers again');
  t.same(await bumps(idle, 1), [6], 'so does the idle one, from its initial state');
  t.equal(pool.startedHosts, 2);
  t.not(idle.stats().pid, victim);
  t.equal(idle.stats().pid, busy.stats().pid, 'both on the replacement host');
});

t.test('a host dying under a session that is still starting: the session starts on a new host', async (t) => {
  const pool = newPool(t, 1);
  const first = await session(t, pool);
  const doomed = first.stats().pid ?? 0;
  const starting = Executor.start({ host: pool });
  process.kill(doomed, 'SIGKILL');
  const ex = await starting;
  t.teardown(() => ex.close());
  t.not(ex.stats().pid, doomed);
  t.equal(ex.stats().restarts, 1);
  await link(ex, COUNTER, { bump: BUMP, spin: SPIN });
  t.same(await bumps(ex, 1), [6]);
  t.same(await bumps(first, 1), [6], 'the session that was running is back too');
});

t.test('placement: least loaded first, never more than maxHosts', async (t) => {
  const pool = newPool(t, 2);
  const first = await Promise.all([1, 2, 3, 4, 5].map(() => session(t, pool)));
  t.same(pool.hostInfo().map((h) => h.sessions).sort(), [2, 3]);
  const crowded = pool.hostInfo().find((h) => h.sessions === 3)?.pid;
  // Free two places on the crowded host: the next session goes there.
  const onCrowded = first.filter((ex) => ex.stats().pid === crowded);
  await onCrowded[0]?.close();
  await onCrowded[1]?.close();
  t.same(pool.hostInfo().map((h) => h.sessions).sort(), [1, 2]);
  const next = await session(t, pool);
  t.equal(next.stats().pid, crowded);
  t.equal(pool.startedHosts, 2);
});

t.test('a closed pool: its executors fail with ExecutorHostPoolClosed, new ones do not start', async (t) => {
  const pool = new ExecutorHostPool({ maxHosts: 1, echoStderr: false });
  const ex = await Executor.start({ host: pool });
  t.teardown(() => ex.close());
  await link(ex, COUNTER, { bump: BUMP, spin: SPIN });
  const pid = ex.stats().pid ?? 0;
  const inFlight = ex.invoke(SPIN, nullary([]), [], { timeoutMs: 60_000 }).catch((e: unknown) => e);
  await pool.close();
  t.type(await inFlight, ExecutorHostPoolClosed);
  await t.rejects(bump(ex), ExecutorHostPoolClosed);
  t.notOk(running(pid), 'the host exited');
  await t.rejects(Executor.start({ host: pool }), ExecutorHostPoolClosed);
});

const FIXTURE = fileURLToPath(new URL('./fixtures/poolParent.ts', import.meta.url));

function startParent(t: Test, mode: 'stay' | 'leave'): Promise<{ parentPid: number; hostPid: number; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [FIXTURE, mode], { env: hostEnv(process.env, undefined), stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        const { hostPid } = JSON.parse(line) as { hostPid: number };
        resolve({ parentPid: child.pid ?? 0, hostPid, exited });
      }
    });
    void exited.then((code) => reject(new Error(`the parent exited (${code}) before reporting its host`)));
  });
}

t.test('a host exits when its parent is killed', async (t) => {
  const { parentPid, hostPid } = await startParent(t, 'stay');
  t.ok(running(hostPid), 'the host runs');
  process.kill(parentPid, 'SIGKILL');
  await until('the orphaned host to exit', () => !running(hostPid), 10_000);
  t.notOk(running(hostPid), 'the orphaned host exited');
});

t.test('an idle host does not keep its parent running', async (t) => {
  const { hostPid, exited } = await startParent(t, 'leave');
  t.equal(await exited, 0, 'the parent ended by itself with the pool still open');
  await until('its host to exit', () => !running(hostPid), 10_000);
  t.notOk(running(hostPid), 'and its host with it');
});

t.test('what a host inherits: no module hooks, no inspector, no NODE_OPTIONS', async (t) => {
  t.same(
    hostExecArgv([
      '--import=file:///x/tap-hook.mjs',
      '--import',
      'tsx',
      '-r',
      'dotenv/config',
      '--enable-source-maps',
      '--inspect=9229',
      '--max-old-space-size=512',
      '--experimental-loader=ts-node/esm',
    ]),
    ['--enable-source-maps', '--max-old-space-size=512'],
  );
  const env = hostEnv({ PATH: '/bin', NODE_OPTIONS: '--import=x', NODE_COMPILE_CACHE: '/old' }, '/cache');
  t.same(env, { PATH: '/bin', NODE_COMPILE_CACHE: '/cache' });
  t.same(hostEnv({ NODE_COMPILE_CACHE: '/old' }, undefined), {}, 'no compile cache asked for: none');
});
