// A call's time limit covers its lookup, its compiles and its run, not the startups it waited
// for: the compile thread loading binaryen, the executor booting (src/executor/StartupWindows.ts).
// Without that, the first call of an eager module in a fresh, loaded server ran out of time
// before its own compile began. This file must be the first user of binaryen in its process
// (tap runs each test file in a process of its own).

import t from 'tap';
import { ExecutionTimeout } from '../../src/core/errors.ts';
import { MAX_STARTUP_GRACE_MS, StartupWindows, startupTimeSince } from '../../src/executor/StartupWindows.ts';
import { OptimizingCompiler } from '../../src/jit/OptimizingCompiler.ts';
import { wat2wasm } from '../support/wat.ts';
import { args, createJIT } from './helpers.ts';

t.test('startup windows: overlaps count once, only within the call, capped', async (t) => {
  const a = new StartupWindows();
  const b = new StartupWindows();
  const t0 = performance.now();
  const endA = a.begin();
  const endB = b.begin();
  await new Promise((r) => setTimeout(r, 60));
  endA();
  endA(); // ending twice changes nothing
  await new Promise((r) => setTimeout(r, 60));
  endB();
  const both = startupTimeSince(t0, [a, b]);
  t.ok(both >= 110 && both < 400, `the union of two overlapping windows (${both.toFixed(0)} ms), not their sum`);
  const later = performance.now();
  t.equal(startupTimeSince(later, [a, b]), 0, 'a call that began after the startups gets nothing');
  const open = new StartupWindows();
  open.begin();
  t.equal(startupTimeSince(0, [open], MAX_STARTUP_GRACE_MS * 10), MAX_STARTUP_GRACE_MS, 'a window left open is capped');
  const next = new StartupWindows();
  const first = next.begin();
  next.begin(); // the first ends where the second begins
  const [w1] = next.intervals(performance.now() + 1000);
  t.ok(w1 !== undefined && w1[1] < performance.now() + 1, 'a window still open when the next begins is ended there');
  first();
});

t.test('the first call of an eager module waits for binaryen to load, and the time limit still holds after', async (t) => {
  t.notOk(OptimizingCompiler.shared().started, 'binaryen is not loaded in this process yet');
  const jit = await createJIT(t);
  jit.createDylib('main');
  const bytes = wat2wasm('(module (func (export "answer") (result i32) i32.const 42) (func (export "spin") (loop (br 0))))');
  await jit.addModule('main', { wasm: bytes }, { lazy: false });
  const began = performance.now();
  // 800 ms: less than loading binaryen takes (1.5 to 3.5 s on this machine), and room for the
  // call's own work, which counts: the first O2 compile in a binaryen V8 has not tiered up yet
  // and a fresh executor's instantiation, a few hundred ms when the machine is loaded.
  const limitMs = 800;
  const out = await jit.invoke('main', 'answer', args(), { timeoutMs: limitMs });
  const elapsed = performance.now() - began;
  t.same(out.results, [{ type: 'i32', bits: '42' }], 'the call answers');
  const waited = startupTimeSince(began, [OptimizingCompiler.shared().startups]);
  t.ok(elapsed > limitMs, `it took ${elapsed.toFixed(0)} ms, more than its limit, ${waited.toFixed(0)} ms of it the compile thread's start`);

  const spinning = await jit.invoke('main', 'spin', args(), { timeoutMs: 300 }).catch((e: unknown) => e);
  t.type(spinning, ExecutionTimeout, 'a call that runs past its limit still stops there');
});
