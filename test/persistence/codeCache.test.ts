// The code cache on the real server process with a SQLite store: what binaryen compiles (an
// eager module with optimize > 0, a hot function's optimized tier) is cached by content, so the
// same module added again in another dylib, or the same code after a restart, skips binaryen;
// a different optimize level is a different entry. Counted in /metrics as hits and misses, and
// the cached code gives the same results.

import t, { type Test } from 'tap';
import type { ServerProcess } from '../support/serverProcess.ts';
import { kill9, ok, sqliteStore, startOn } from './support.ts';

const EAGER_WAT = `(module
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1))) (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "main") (param i32) (result i32) (call $fib (local.get 0))))`;

const HOT_WAT = `(module
  (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "hot") (param i32) (result i32) (i32.add (call $sq (local.get 0)) (i32.const 1))))`;

async function cacheCounts(s: ServerProcess): Promise<{ hits: number; misses: number }> {
  const text = (await ok(s.get('/metrics'), 'GET /metrics')).text;
  const value = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`/metrics has no ${name}`);
    return Number(m[1]);
  };
  return { hits: value('wasmjit_code_cache_hits_total'), misses: value('wasmjit_code_cache_misses_total') };
}

async function call(s: ServerProcess, dylib: string, symbol: string, arg: number): Promise<number> {
  const res = await ok(s.post<{ results: { value: number }[] }>(`/dylibs/${dylib}/invoke`, { symbol, args: [arg] }), `${dylib} ${symbol}(${arg})`);
  return res.json.results[0]?.value as number;
}

/** Calls `hot` until its optimized tier is in place (re-optimization runs beside the program). */
async function heatUp(t: Test, s: ServerProcess, dylib: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    t.equal(await call(s, dylib, 'hot', i), i * i + 1);
    const sym = await s.get<{ target?: { tier?: string } }>(`/dylibs/${dylib}/symbols/hot`);
    if (sym.json.target?.tier === 'optimized') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.fail(`hot in ${dylib} never got its optimized tier`);
}
t.test('eager optimized modules and optimized tiers come from the cache: another dylib, and after a restart', async (t) => {
  const store = await sqliteStore(t);
  const env = { REOPTIMIZE_THRESHOLD: '3', CALL_TIMEOUT_MS: '60000', MAX_CALL_TIMEOUT_MS: '60000' };
  let s = await startOn(t, store, { env });
  t.same(await cacheCounts(s), { hits: 0, misses: 0 }, 'a fresh server has neither');

  for (const d of ['a', 'b', 'c', 'l']) await ok(s.post('/dylibs', { name: d }), `create ${d}`);
  await ok(s.post('/dylibs/a/modules', { wat: EAGER_WAT, lazy: false, optimize: 2 }), 'eager module in a');
  t.equal(await call(s, 'a', 'main', 20), 6765);
  t.same(await cacheCounts(s), { hits: 0, misses: 1 }, 'its first call compiled it with binaryen: a miss');

  await ok(s.post('/dylibs/b/modules', { wat: EAGER_WAT, lazy: false, optimize: 2 }), 'the same module in b');
  t.equal(await call(s, 'b', 'main', 21), 10946);
  t.same(await cacheCounts(s), { hits: 1, misses: 1 }, 'the same bytes in another dylib: a hit');

  await ok(s.post('/dylibs/c/modules', { wat: EAGER_WAT, lazy: false, optimize: 1 }), 'the same module at optimize 1');
  t.equal(await call(s, 'c', 'main', 10), 55);
  t.same(await cacheCounts(s), { hits: 1, misses: 2 }, 'another optimize level: another entry');

  await ok(s.post('/dylibs/l/modules', { wat: HOT_WAT }), 'lazy module in l');
  await heatUp(t, s, 'l');
  const afterHot = await cacheCounts(s);
  t.equal(afterHot.hits, 1, 'the optimized tier was not cached yet');
  t.ok(afterHot.misses >= 3, `the optimized tier was compiled by binaryen (misses ${afterHot.misses})`);

  await kill9(s);
  s = await startOn(t, store, { env });
  t.equal(await call(s, 'a', 'main', 22), 17711);
  t.equal(await call(s, 'b', 'main', 23), 28657);
  t.equal(await call(s, 'c', 'main', 11), 89);
  t.same(await cacheCounts(s), { hits: 3, misses: 0 }, 'after kill -9 and a restart, all three eager modules come from the cache');
  await heatUp(t, s, 'l');
  const hot = await cacheCounts(s);
  t.equal(hot.misses, 0, 'the optimized tier too: binaryen never ran in the restarted server');
  t.ok(hot.hits >= 4, `hits ${hot.hits}`);
});
