// Section 4's readings (bench/procStats.ts, bench/idleServer.ts): /proc's resident set and
// worker threads of a process, and what they show of the real server at rest: the executor's
// thread runs, the compile thread (binaryen) starts only when a job needs it.

import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { idleBareRssMb, idleJitSample } from '../../bench/idleServer.ts';
import { peakRssMb, ProcStatsError, rssMb, threadNames, unnamedWorkerThreads } from '../../bench/procStats.ts';

t.test('a worker thread without a name counts; one with a name does not', async (t) => {
  const before = unnamedWorkerThreads(process.pid);
  const unnamed = new Worker('setInterval(() => {}, 1000)', { eval: true });
  const named = new Worker('setInterval(() => {}, 1000)', { eval: true, name: 'bench-test' });
  await Promise.all([new Promise((r) => unnamed.once('online', r)), new Promise((r) => named.once('online', r))]);
  t.equal(unnamedWorkerThreads(process.pid), before + 1, 'one more unnamed worker thread');
  t.ok(threadNames(process.pid).includes('bench-test'), 'the named one goes by its name');
  await Promise.all([unnamed.terminate(), named.terminate()]);
  t.equal(unnamedWorkerThreads(process.pid), before, 'gone once terminated');
});

t.test('resident set sizes of this process', async (t) => {
  const now = rssMb(process.pid);
  t.ok(now > 1, 'some MB resident');
  t.ok(peakRssMb(process.pid) >= now, 'the peak is at least the current size');
  t.equal(Math.round(now), Math.round(process.memoryUsage().rss / 2 ** 20), 'as Node itself reports it');
});

t.test('a process that has exited cannot be read', async (t) => {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const gone = Number(child.stdout);
  t.throws(() => rssMb(gone), ProcStatsError);
  t.throws(() => threadNames(gone), ProcStatsError);
});

t.test('the idle server runs the executor only; a WAT add starts the compile thread', async (t) => {
  const s = await idleJitSample(0);
  t.equal(s.workersIdle, 1, 'one worker thread at rest: the executor');
  t.equal(s.workersAfterWat, 2, 'the WAT add started one more: the compile thread');
  t.ok(s.rssMb > 0 && s.peakRssMb >= s.rssMb && s.rssAfterWatMb > 0, 'resident sizes read');
});

t.test('the bare fastify server starts on a free port and is read', async (t) => {
  t.ok((await idleBareRssMb(0)) > 1, 'some MB resident');
});
