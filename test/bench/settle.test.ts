// The bench's wait for a quiet server (bench/realModules/settle.ts) and the /proc CPU reading
// under it (Linux only, as the bench): a busy child keeps it waiting until the timeout, an idle
// one does not.

import { spawn } from 'node:child_process';
import t from 'tap';
import { cpuMs, descendants, treeCpuMs } from '../../bench/procStats.ts';
import { untilQuiet } from '../../bench/realModules/settle.ts';

function child(code: string) {
  const c = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  t.teardown(() => {
    c.kill('SIGKILL');
  });
  return c;
}

t.test('a child spinning on a core is not quiet; its CPU time grows', async (t) => {
  const busy = child('for (;;) {}');
  const pid = busy.pid as number;
  await new Promise((r) => setTimeout(r, 300));
  const before = cpuMs(pid);
  const q = await untilQuiet(pid, { windowMs: 100, timeoutMs: 800 });
  t.equal(q.quiet, false);
  t.ok(q.waitedMs >= 800, 'it waited until the timeout');
  t.ok(cpuMs(pid) > before, `it used CPU meanwhile (${cpuMs(pid) - before} ms)`);
});

t.test('a process whose child spins is not quiet either (descendants count)', async (t) => {
  const parent = child(`require('node:child_process').spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }); setInterval(() => {}, 1000);`);
  const pid = parent.pid as number;
  await new Promise((r) => setTimeout(r, 500));
  const before = treeCpuMs(pid);
  const q = await untilQuiet(pid, { windowMs: 100, timeoutMs: 600 });
  t.equal(q.quiet, false);
  t.ok(treeCpuMs(pid) > before, 'the tree used CPU meanwhile');
  t.ok(cpuMs(pid) < treeCpuMs(pid), "the tree's time includes the child's");
  // Killing the parent would leave the spinning grandchild behind: end it first, by its pid.
  for (const d of descendants(pid)) process.kill(d, 'SIGKILL');
});

t.test('an idle child is quiet after two windows', async (t) => {
  const idle = child('setInterval(() => {}, 1000)');
  await new Promise((r) => setTimeout(r, 500)); // past its start-up
  const q = await untilQuiet(idle.pid as number, { windowMs: 100, timeoutMs: 5000 });
  t.equal(q.quiet, true);
  t.ok(q.waitedMs < 5000);
});
