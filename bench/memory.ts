// Run as a child with --expose-gc: RSS growth per compiled function, and RSS across add/delete
// cycles of a small module. Prints one JSON line. The executor is a worker thread, so the
// process RSS covers it.
//
// The cycles are measured twice: over the first 1,000 after a short warm-up (RSS then still
// includes V8 growing its heaps to their working size: the main thread's young generation grows
// to 64 MB over the first several thousand cycles, and freed pages stay pooled), and over the
// second half of the 9,000 cycles after those (steady state: what a leak would show as growth).
// RSS is taken every 1,000 cycles (`series`); the main thread's JS heap after GC and the
// executor's replay log size are reported too.

import { LazyJIT } from '../src/jit/LazyJIT.ts';
import { defaultJITConfig } from '../src/config.ts';
import { addModule, chainModule } from './wasmgen.ts';
import { gc, QUICK } from './lib.ts';

const rss = () => process.memoryUsage().rss / 2 ** 20;
const settle = async () => {
  gc();
  await new Promise((r) => setTimeout(r, 200));
  gc();
};

const nFuncs = QUICK ? 100 : 1000;
const nCycles = QUICK ? 100 : 1000;
/** Cycles after the first nCycles, with RSS taken every `checkpoint`; growth is measured over the second half. */
const nSteady = QUICK ? 400 : 9000;
const checkpoint = QUICK ? 100 : 1000;
const heapMb = () => process.memoryUsage().heapUsed / 2 ** 20;
const jit = await LazyJIT.create(defaultJITConfig());
try {
  // Compiled functions: a large module added lazily, then `nFuncs` distinct leaves called.
  jit.createDylib('mem');
  await jit.addModule('mem', { wasm: chainModule(2000, 101, 11, true) }, { lazy: true });
  await jit.invoke('mem', 'f150', () => []); // warm the machinery
  await settle();
  const before = rss();
  for (let i = 0; i < nFuncs; i++) await jit.invoke('mem', `f${200 + i}`, () => []);
  await settle();
  const after = rss();

  // Add/delete cycles of a small module.
  const cycle = async (i: number) => {
    const name = `cyc${i}`;
    jit.createDylib(name);
    await jit.addModule(name, { wasm: addModule() }, { lazy: true });
    const r = await jit.invoke(name, 'add', () => [
      { type: 'i32', bits: '2' },
      { type: 'i32', bits: '3' },
    ]);
    if (r.results[0]?.bits !== '5') throw new Error(`add returned ${JSON.stringify(r.results)}`);
    await jit.removeDylib(name);
  };
  for (let i = 0; i < 50; i++) await cycle(-1 - i);
  await settle();
  const cyclesBefore = rss();
  for (let i = 0; i < nCycles; i++) await cycle(i);
  await settle();
  const cyclesAfter = rss();
  const series: { cycles: number; rssMb: number; heapMb: number }[] = [{ cycles: 50 + nCycles, rssMb: cyclesAfter, heapMb: heapMb() }];
  for (let done = 0; done < nSteady; ) {
    for (let i = 0; i < checkpoint; i++, done++) await cycle(nCycles + done);
    await settle();
    series.push({ cycles: 50 + nCycles + done, rssMb: rss(), heapMb: heapMb() });
  }
  const half = series[Math.floor((series.length - 1) / 2)] as (typeof series)[number];
  const last = series[series.length - 1] as (typeof series)[number];
  process.stdout.write(
    JSON.stringify({
      nFuncs,
      rssBeforeFuncs: before,
      rssAfterFuncs: after,
      perThousandMb: ((after - before) * 1000) / nFuncs,
      nCycles,
      cyclesBefore,
      cyclesAfter,
      steadyCycles: last.cycles - half.cycles,
      steadyFrom: half.cycles,
      steadyBefore: half.rssMb,
      steadyAfter: last.rssMb,
      steadyHeapBefore: half.heapMb,
      steadyHeapAfter: last.heapMb,
      series,
      replayLogOps: jit.executor.stats().replayLogOps,
    }) + '\n',
  );
} finally {
  await jit.close();
}
