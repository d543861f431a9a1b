// Re-optimization of hot code (ReOptimizeLayer): a lazily compiled function called
// `threshold` times gets an optimized tier compiled with its callees, beside the program (the
// call that got hot goes on in baseline code), and so do its compiled callers; the new code
// gives the same results, shares the module's memory, globals and tables, and the dump and
// symbol views say what happened.

import t, { type Test } from 'tap';
import { Trap } from '../../src/core/errors.ts';
import type { JITConfig } from '../../src/config.ts';
import type { LazyJIT } from '../../src/jit/LazyJIT.ts';
import type { WasmValue } from '../../src/wasm/types.ts';
import { args, createJIT, i32 } from './helpers.ts';

const program = `(module
  (memory (export "mem") 1)
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (table $t 2 funcref)
  (elem (i32.const 0) $inc $dec)
  (func $inc (export "inc") (param i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.add (local.get 0) (i32.const 1)))
  (func $dec (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1)))
  (func (export "run") (param $n i32) (result i32) (local $acc i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $acc (call $inc (local.get $acc)))
      (i32.store (i32.const 16) (local.get $acc))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $acc))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect (param i32) (result i32) (local.get 1) (local.get 0)))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
)`;

async function withJIT(t: Test, options: Partial<JITConfig>, fn: (jit: LazyJIT) => Promise<void>) {
  const jit = await createJIT(t, options);
  const reported: unknown[] = [];
  jit.session.setErrorReporter((err) => reported.push(err));
  await fn(jit);
  t.same(reported, [], 'nothing went wrong unseen');
}

/** An invoke, then whatever re-optimization it set off (which runs beside the program) finished. */
async function call(jit: LazyJIT, name: string, ...vs: WasmValue[]) {
  try {
    return await jit.invoke('main', name, args(...vs));
  } finally {
    await jit.whenIdle();
  }
}

async function tierOf(jit: LazyJIT, name: string) {
  const entry = (await jit.lookup('main', [name])).get(name)?.entry;
  return entry && jit.targetOf(entry)?.tier;
}

t.test('a hot callee gets its compiled callers re-optimized with it', async (t) => {
  await withJIT(t, { reoptimizeThreshold: 100 }, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: program });
    const first = await call(jit, 'run', i32(50));
    t.same(first.results, [i32(50)]);
    t.same(first.compiled, ['run', 'inc'], 'below the threshold: baseline bodies only');
    t.equal(await tierOf(jit, 'inc'), 'baseline');

    const second = await call(jit, 'run', i32(60));
    t.same(second.results, [i32(60)], 'the call that got hot finishes correctly');
    t.same(second.compiled, [], 'the optimized tier is compiled beside the call, not in it');
    t.equal(await tierOf(jit, 'inc'), 'optimized');
    t.equal(await tierOf(jit, 'run'), 'optimized');
    t.match(jit.dumpText(), /"run": .*\(lazy -> main\.impl:"run", compiled, optimized\)/);
    t.equal(jit.counters.reoptimizations, 2);

    // The optimized code shares the module's state with everything else.
    const third = await call(jit, 'run', i32(1000));
    t.same(third.results, [i32(1000)]);
    t.same(third.compiled, [], 'nothing compiles twice');
    const calls = await jit.lookupData('main', 'calls', 'global');
    t.same(await jit.globalValue(calls.entry), i32(1110), 'every call counted in the shared global, inlined or not');
    const mem = await jit.readMemory('main', 'mem', 16, 4);
    t.same([...mem.bytes], [1000 & 0xff, 1000 >> 8, 0, 0], 'stores of the optimized loop land in the shared memory');
  });
});

t.test('re-optimized code is exact: recursion, tables holding stubs, traps', async (t) => {
  await withJIT(t, { reoptimizeThreshold: 1 }, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: program });
    const fac = await call(jit, 'fac', { type: 'i64', bits: '20' });
    t.same(fac.results, [{ type: 'i64', bits: '2432902008176640000' }]);
    t.same(fac.compiled, ['fac'], 'the baseline at the first call');
    t.equal(await tierOf(jit, 'fac'), 'optimized', 'threshold 1: the first entry re-optimizes');
    t.same((await call(jit, 'fac', { type: 'i64', bits: '10' })).results, [{ type: 'i64', bits: '3628800' }]);

    t.same((await call(jit, 'indirect', i32(0), i32(41))).results, [i32(42)], 'through the table to a stub');
    t.same((await call(jit, 'indirect', i32(1), i32(41))).results, [i32(40)]);
    t.same((await call(jit, 'indirect', i32(0), i32(1))).results, [i32(2)], 'and again, into optimized code');
    t.equal(await tierOf(jit, 'inc'), 'optimized');

    t.same((await call(jit, 'div', i32(7), i32(2))).results, [i32(3)]);
    await t.rejects(call(jit, 'div', i32(1), i32(0)), Trap, 'optimized code traps as the baseline does');
    t.equal(await tierOf(jit, 'div'), 'optimized');
  });
});

t.test('threshold 0 turns re-optimization off', async (t) => {
  await withJIT(t, { reoptimizeThreshold: 0 }, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: program });
    for (let i = 0; i < 3; i++) await call(jit, 'run', i32(2000));
    t.equal(jit.counters.reoptimizations, 0);
    t.equal(await tierOf(jit, 'inc'), 'baseline');
  });
});

t.test('a caller compiled later links to the optimized tier', async (t) => {
  await withJIT(t, { reoptimizeThreshold: 5 }, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: program });
    for (let i = 0; i < 5; i++) await call(jit, 'inc', i32(i));
    t.equal(await tierOf(jit, 'inc'), 'optimized', 'called directly five times');
    const r = await call(jit, 'run', i32(3));
    t.same(r.results, [i32(3)]);
    t.same(r.compiled, ['run'], 'only run compiles: it links straight to inc\'s optimized tier');
  });
});
