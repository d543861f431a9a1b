// Section 4's readings (bench/procStats.ts, bench/idleServer.ts): /proc's resident set and
// worker threads and child processes of a process, and what they show of the real server at
// rest: the compile thread (binaryen) starts only when a job needs it.

import { spawn, spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { idleBareRssMb, idleJitSample } from '../../bench/idleServer.ts';
import { descendants, peakRssMb, ProcStatsError, rssMb, threadNames, treeRssMb, unnamedWorkerThreads } from '../../bench/procStats.ts';

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

t.test('a WAT add starts the compile thread the idle server does not run', async (t) => {
  const s = await idleJitSample(0);
  t.equal(s.workersAfterWat, s.workersIdle + 1, `one more worker thread after the add (${s.workersIdle} at rest)`);
  t.ok(s.serverRssMb > 0 && s.peakRssMb >= s.serverRssMb && s.rssMb >= s.serverRssMb && s.rssAfterWatMb > 0, 'resident sizes read');
});

t.test('a child process and its own child are descendants, counted in the tree\'s resident set', async (t) => {
  const child = spawn(process.execPath, ['-e', "require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'inherit' }); setTimeout(() => {}, 20000)"], { stdio: 'ignore' });
  t.teardown(() => {
    for (const p of descendants(child.pid as number)) process.kill(p);
    child.kill();
  });
  const pid = child.pid as number;
  let grandchildren: number[] = [];
  for (let i = 0; i < 100 && grandchildren.length === 0; i++) {
    grandchildren = descendants(pid);
    if (grandchildren.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(grandchildren.length, 1, 'the child has its own child');
  t.ok(descendants(process.pid).includes(pid) && descendants(process.pid).includes(grandchildren[0] as number), 'both descend from this process');
  t.ok(treeRssMb(pid) > rssMb(pid), 'the tree holds more than the child alone');
});

t.test('the bare fastify server starts on a free port and is read', async (t) => {
  t.ok((await idleBareRssMb(0)) > 1, 'some MB resident');
});
