// Run as a child with --expose-gc: RSS growth per compiled function, and RSS across add/delete
// cycles of a small module. Prints one JSON line. The executor is a worker thread, so the
// process RSS covers it.

import { LazyJIT } from '../src/jit/LazyJIT.ts';
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
const jit = await LazyJIT.create();
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
  process.stdout.write(
    JSON.stringify({ nFuncs, rssBeforeFuncs: before, rssAfterFuncs: after, perThousandMb: ((after - before) * 1000) / nFuncs, nCycles, cyclesBefore, cyclesAfter }) + '\n',
  );
} finally {
  await jit.close();
}
