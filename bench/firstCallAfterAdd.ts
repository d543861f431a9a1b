// Section 2's measurement taken apart: the first call of a leaf right after a lazy add, the
// 20,000-function module against the 20-function one (both export every function, as section 2's
// do), with an optional pause between the add and the call. With a pause long enough for V8 to
// finish what the add left behind (its garbage above all), what remains is the first call's own
// cost; without one, the add's aftermath lands in the call. Also reports the garbage collection
// that ran during each large-module call.
//
//   node bench/firstCallAfterAdd.ts [trials]            (default 9; PAUSE_MS=40 to pause)
//   node bench/firstCallAfterAdd.ts --steady            400 leaf first calls in one settled module
//   ROOT=/path/to/another/checkout node bench/firstCallAfterAdd.ts
//       that checkout's src/ with this one's module generator, to compare two commits

import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './lib.ts';
import { chainModule } from './wasmgen.ts';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(process.env['ROOT'] ?? here);
const pauseMs = Number(process.env['PAUSE_MS'] ?? 0);
const steady = process.argv.includes('--steady');
const trials = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 9);

const { defaultJITConfig } = (await import(pathToFileURL(path.join(root, 'src/config.ts')).href)) as typeof import('../src/config.ts');
const { LazyJIT } = (await import(pathToFileURL(path.join(root, 'src/jit/LazyJIT.ts')).href)) as typeof import('../src/jit/LazyJIT.ts');

const jit = await LazyJIT.create(defaultJITConfig());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(' ');

if (steady) {
  jit.createDylib('steady');
  await jit.addModule('steady', { wasm: chainModule(20_000, 5, 7, true) }, { lazy: true });
  await sleep(500);
  const times: number[] = [];
  for (let i = 0; i < 400; i++) {
    const t0 = performance.now();
    await jit.invoke('steady', `f${19_999 - i}`, () => []);
    times.push(performance.now() - t0);
  }
  console.log(`${root}: 400 leaf first calls in a settled 20,000-function module, median ${median(times).toFixed(2)} ms`);
} else {
  let gcMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  }).observe({ entryTypes: ['gc'] });
  const samples = { big: [] as number[], small: [] as number[] };
  const gcDuringBig: number[] = [];
  let nonce = 100;
  for (let t = 0; t < trials; t++) {
    for (const size of t % 2 === 0 ? [20, 20_000] : [20_000, 20]) {
      await sleep(300);
      const dylib = `first${nonce}`;
      jit.createDylib(dylib);
      await jit.addModule(dylib, { wasm: chainModule(size, 5, nonce++, true) }, { lazy: true });
      if (pauseMs > 0) await sleep(pauseMs);
      const gcBefore = gcMs;
      const t0 = performance.now();
      await jit.invoke(dylib, `f${size - 3}`, () => []);
      (size === 20 ? samples.small : samples.big).push(performance.now() - t0);
      await new Promise((r) => setImmediate(r)); // let the observer hear of a GC inside the call
      if (size !== 20) gcDuringBig.push(gcMs - gcBefore);
      await jit.removeDylib(dylib);
    }
  }
  console.log(`${root}: first call of a leaf ${pauseMs > 0 ? `${pauseMs} ms after` : 'right after'} the add, ${trials} trials`);
  console.log(`  20,000-fn module: ${ms(samples.big)} ms (GC inside: ${ms(gcDuringBig)} ms)`);
  console.log(`  20-fn module:     ${ms(samples.small)} ms`);
  console.log(`  ratio of medians: ${(median(samples.big) / median(samples.small)).toFixed(2)}x`);
}
await jit.close();
