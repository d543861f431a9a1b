// Graceful shutdown of the real server process: SIGTERM, and separately SIGINT, arriving while an
// invoke runs a loop of about a second; the call in flight is answered (200, the right result),
// then the process exits with code 0. And `npm start` itself, with node_modules/.bin first on
// PATH as `npm test` has it, serves /health on the project's Node.

import t, { type Test } from 'tap';
import { startServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import { addWasm, createDylib, invoke, type InvokeResult } from './api.ts';

// The sum of i*i for i < n, wrapping at 64 bits: long enough to be in flight when the signal
// comes, and a result the test can compute in closed form.
const SUM_OF_SQUARES_WAT = `(module
  (func (export "sum_of_squares") (param $n i64) (result i64) (local $i i64) (local $s i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s) (i64.mul (local.get $i) (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $s)))`;

const N = 300_000_000n;

function sumOfSquares(n: bigint): string {
  return BigInt.asUintN(64, ((n - 1n) * n * (2n * n - 1n)) / 6n).toString();
}

async function shutdownWithCallInFlight(t: Test, signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  // A generous call limit: the loop must finish, not be stopped, on a loaded machine.
  const server = await startServerProcess(t, { env: { CALL_TIMEOUT_MS: '60000', MAX_CALL_TIMEOUT_MS: '60000' } });
  await createDylib(server, 'work');
  await addWasm(server, 'work', wat2wasm(SUM_OF_SQUARES_WAT));
  // Compiled now, so the call below is all loop.
  const warm = await invoke(server, 'work', 'sum_of_squares', ['10']);
  t.same(warm.json.results?.[0]?.bits, sumOfSquares(10n));

  let answered = false;
  const inFlight = invoke(server, 'work', 'sum_of_squares', [N.toString()]).finally(() => {
    answered = true;
  });
  await server.waitForLog((l) => l.msg === 'incoming request' && (l['req'] as { url?: string } | undefined)?.url === '/dylibs/work/invoke' && !answered);
  // Let the request reach the executor.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.notOk(answered, 'the call is still running when the signal is sent');
  server.signal(signal);

  const res = await inFlight;
  t.equal(res.status, 200, `the call in flight is answered after ${signal} (body: ${res.text.slice(0, 200)})`);
  t.same((res.json as InvokeResult).results, [
    { type: 'i64', value: BigInt.asIntN(64, BigInt(sumOfSquares(N))).toString(), bits: sumOfSquares(N) },
  ]);
  const exit = await server.exited;
  t.same(exit, { code: 0, signal: null }, 'then the process exits with code 0');
  const shutdown = server.logs.find((l) => l.msg === 'shutting down');
  t.equal(shutdown?.['signal'], signal, 'the log says which signal stopped it');
}

t.test('SIGTERM with an invoke in flight: answered, then exit 0', (t) => shutdownWithCallInFlight(t, 'SIGTERM'));

t.test('SIGINT with an invoke in flight: answered, then exit 0', (t) => shutdownWithCallInFlight(t, 'SIGINT'));

t.test('npm start serves the API on the project Node', async (t) => {
  const server = await startServerProcess(t, { via: 'npm' });
  const health = await server.get('/health');
  t.equal(health.status, 200);
  t.same(health.json, { status: 'ok' });
  const metrics = await server.get('/metrics');
  const version = /nodejs_version_info\{version="(v[0-9.]+)"/.exec(metrics.text)?.[1];
  t.equal(version, process.version, "npm start runs node_modules/.bin's Node, the one running this test");
  const exit = await server.stop();
  t.equal(server.exitStatus, exit, 'it stops when told to');
});
