// The real-module benchmark's harness (bench/realModules): the pinned packages fetch and link
// with the host modules written for them, each workload gives results an oracle outside the
// module agrees with when run directly, and the service run (the real server as a child
// process, over HTTP) gives the same results as the direct run. SQLite's service run is left
// to the benchmark itself: today it takes most of a minute on this machine.

import { existsSync } from 'node:fs';
import t from 'tap';
import { directRunInChild } from '../../bench/realModules/bench.ts';
import { DirectTarget, LinkError } from '../../bench/realModules/direct.ts';
import { REAL_MODULES, realModule } from '../../bench/realModules/modules.ts';
import { cachedPath, watModule } from '../../bench/realModules/packages.ts';
import { reoptimizations, ServiceTarget, startServer } from '../../bench/realModules/service.ts';
import type { Json, RealModule } from '../../bench/realModules/target.ts';
import { warmUp } from '../../bench/realModules/warmup.ts';

function mod(id: string): RealModule {
  const m = realModule(id);
  if (!m) throw new Error(`no module ${id}`);
  return m;
}

const field = (j: Json, ...keys: string[]): Json | undefined => {
  let v: Json | undefined = j;
  for (const k of keys) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? v[k] : undefined;
  return v;
};

t.test('each module runs directly with its host modules and agrees with its oracle', async (t) => {
  for (const m of REAL_MODULES) {
    const { result, problems } = await m.run(new DirectTarget(m.setup()), true);
    t.same(problems, [], `${m.id}: no disagreement with the oracle`);
    t.ok(result !== null && typeof result === 'object', `${m.id} reports a result`);
  }
  const sqlite = await mod('sqlite').run(new DirectTarget(mod('sqlite').setup()), true);
  t.equal(field(sqlite.result, 'error', 'message'), 'no such table: no_such_table', 'SQLite reports the missing table');
  t.equal(field(sqlite.result, 'rows'), 200, 'the quick workload inserts 200 rows');
});

t.test('the extracted files live in the gitignored cache', async (t) => {
  const { bytes } = mod('png').setup().modules.find((x) => x.dylib === 'png') ?? { bytes: new Uint8Array() };
  t.ok(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>), 'the extracted PNG codec is a valid module');
  t.ok(existsSync(cachedPath({ name: '@jsquash/png', version: '3.1.1', integrity: '', file: 'codec/pkg/squoosh_png_bg.wasm' })), 'it lives in the cache');
});

t.test('a memory import that resolves nowhere is refused by the direct linker', async (t) => {
  t.throws(
    () => new DirectTarget({ dylibs: [{ name: 'host' }], modules: [{ dylib: 'host', name: 'host', bytes: watModule('warmup-host') }] }),
    LinkError,
  );
});

t.test('a direct run in a child process prints its time and result', async (t) => {
  const r = directRunInChild(mod('sha256'), true);
  t.same(r.problems, []);
  t.ok(r.ms > 0 && r.linkMs > 0 && r.linkMs <= r.ms, 'times are positive and linking is part of the run');
  const inProcess = await mod('sha256').run(new DirectTarget(mod('sha256').setup()), true);
  t.same(r.result, inProcess.result, 'same digest as in this process');
});

t.test('over HTTP the real server gives the direct results', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  await warmUp(server.port, 1);
  for (const id of ['sha256', 'png']) {
    const m = mod(id);
    const direct = await m.run(new DirectTarget(m.setup()), true);
    const target = new ServiceTarget(server.port);
    await target.setUp(m.setup());
    const served = await m.run(target, true);
    target.close();
    t.same(served.problems, [], `${id}: no disagreement with the oracle`);
    t.same(served.result, direct.result, `${id}: same result as directly`);
    t.ok(target.stats.compiled > 0, `${id}: the service compiled bodies lazily (${target.stats.compiled})`);
  }
});

t.test('the server\'s re-optimization count is read from /metrics', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  t.equal(await reoptimizations(server.port), 0, 'a fresh server has re-optimized nothing');
  const target = new ServiceTarget(server.port);
  t.teardown(() => target.close());
  await target.createDylib('hot');
  await target.addModule(
    'hot',
    'loop',
    `(module
      (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "run") (param $n i32) (result i32) (local $i i32) (local $a i32)
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $a (call $inc (local.get $a)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
        (local.get $a)))`,
  );
  // 1,500 entries of $inc pass the default threshold (1,000); its optimized tier and its
  // caller's are compiled beside the program, so the count may come after the call's answer.
  t.equal(await target.invoke('hot', 'run', [1500]), 1500);
  let reoptimized = 0;
  for (let i = 0; i < 300 && reoptimized === 0; i++) {
    reoptimized = await reoptimizations(server.port);
    if (reoptimized === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(reoptimized >= 1, `counted (${reoptimized})`);
});
