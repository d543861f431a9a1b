// Durability of acknowledged definitions on the real server process (src/server.ts as npm start
// runs it), for both durable stores: four clients write concurrently for about two seconds
// (test/persistence/workload.ts), the process is stopped while they are still sending (SIGKILL,
// and separately SIGTERM), then started again on the same store; every acknowledged definition
// must be there and work, and the requests in flight at the stop must have taken effect whole or
// not at all. SQLite runs on a fresh file; PostgreSQL in a throwaway cluster (Debian's
// postgresql; without it these tests fail with what to install, they never skip).

import t, { type Test } from 'tap';
import { startPostgres } from '../support/postgres.ts';
import type { ServerProcess } from '../support/serverProcess.ts';
import { kill9, ok, sqliteStore, startOn, type TestStore } from './support.ts';
import { describeWorkload, runWorkload, verifyWorkload } from './workload.ts';

const SEED = Number(process.env['PERSIST_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

// A first call that needs binaryen (an eager module with optimize > 0) waits for its thread to
// start in the restarted process, which on this shared machine has taken several seconds: a
// call's time limit covers compiling, and this test is about what is there, not how fast.
const ENV = { CALL_TIMEOUT_MS: '60000', MAX_CALL_TIMEOUT_MS: '60000' };

/**
 * Starts what the first requests would otherwise wait for (binaryen's thread, which parses WAT;
 * the executor), so the clients' two seconds go to writes. Leaves nothing defined.
 */
async function warmUp(server: ServerProcess): Promise<void> {
  await ok(server.post('/dylibs', { name: 'warm-up' }), 'create warm-up');
  await ok(server.post('/dylibs/warm-up/modules', { wat: '(module (global (export "g") i32 (i32.const 1)))' }), 'warm-up module');
  await ok(server.request('DELETE', '/dylibs/warm-up'), 'remove warm-up');
}

async function stopAndVerify(t: Test, store: TestStore, how: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  t.comment(`seed ${SEED} (PERSIST_SEED=${SEED} replays the clients' choices)`);
  const first = await startOn(t, store, { env: ENV });
  await warmUp(first);
  const result = await runWorkload(first, {
    clients: 4,
    durationMs: 2000,
    seed: SEED,
    interrupt: async () => {
      if (how === 'SIGKILL') await kill9(first);
      else first.signal('SIGTERM');
    },
  });
  const exit = await first.exited;
  t.comment(describeWorkload(result));
  t.same(result.refusals, [], 'every request answered before the stop was answered with a 2xx');
  if (how === 'SIGTERM') t.same(exit, { code: 0, signal: null }, 'SIGTERM: the process exits with code 0');
  else t.equal(exit.signal, 'SIGKILL');
  const acknowledged = result.clients.reduce((n, c) => n + c.model.acknowledged, 0);
  t.ok(acknowledged >= 20, `the clients got ${acknowledged} acknowledged changes in before the stop`);

  const second = await startOn(t, store, { env: ENV, healthyWithinMs: 60_000 });
  const check = await verifyWorkload(second, result);
  t.comment(check.pendingOutcomes.join('\n'));
  t.same(check.problems, [], `after ${how} and a restart the server holds exactly what was acknowledged (and works: ${check.calls} calls)`);
  t.notOk(check.pendingOutcomes.some((l) => l.endsWith('neither')), 'every request in flight took effect whole or not at all');

  // The restarted server takes writes again, and a second restart gives the same answers.
  await second.stop();
  const third = await startOn(t, store, { env: ENV, healthyWithinMs: 60_000 });
  const again = await verifyWorkload(third, result);
  t.same(again.problems, [], 'a second restart (graceful this time) holds the same');
}

t.test('SQLite', async (t) => {
  t.test('SIGKILL while four clients write', async (t) => stopAndVerify(t, await sqliteStore(t), 'SIGKILL'));
  t.test('SIGTERM while four clients write', async (t) => stopAndVerify(t, await sqliteStore(t), 'SIGTERM'));
});

t.test('PostgreSQL', async (t) => {
  const cluster = await startPostgres(t);
  t.test('SIGKILL while four clients write', async (t) => stopAndVerify(t, { url: await cluster.createDatabase() }, 'SIGKILL'));
  t.test('SIGTERM while four clients write', async (t) => stopAndVerify(t, { url: await cluster.createDatabase() }, 'SIGTERM'));
});
