// Section 2 of bench/run.ts (first call, large vs small module) on its own, with more trials and
// the add time: the first call of one leaf in a large lazy module against one in a 20-function
// module, timed right after the add (the goal's figure) and after the add has settled. (The file
// keeps its old name: the baseline tier now cuts a partition from the module's bytes instead of
// extracting a function with binaryen, but what is timed is the same first call.) `node bench/extraction.ts`;
// N (functions, default 20000), TRIALS (default 10), PRE=1 first runs section 1's
// 20,000-function lazy and eager adds, as the full suite does before section 2.

import { LazyJIT } from '../src/jit/LazyJIT.ts';
import { defaultJITConfig } from '../src/config.ts';
import { median, now } from './lib.ts';
import { chainModule } from './wasmgen.ts';

const N = Number(process.env['N'] ?? 20000);
const TRIALS = Number(process.env['TRIALS'] ?? 10);
const SETTLE_MS = 300;

const jit = await LazyJIT.create({ ...defaultJITConfig(), callTimeoutMs: 60_000, maxCallTimeoutMs: 60_000 });
let nonce = 1000;
for (const size of [300, 20]) {
  const d = `warmup${size}`;
  jit.createDylib(d);
  await jit.addModule(d, { wasm: chainModule(size, 5, nonce++, true) }, { lazy: true });
  await jit.invoke(d, `f${size - 3}`, () => []);
  await jit.removeDylib(d);
}
if (process.env['PRE']) {
  for (let t = 0; t < 3; t++) {
    for (const lazy of [true, false]) {
      const d = `ttfr${nonce++}`;
      jit.createDylib(d);
      await jit.addModule(d, { wasm: chainModule(N, 101, nonce) }, { lazy });
      await jit.invoke(d, 'main', () => [], { timeoutMs: 30_000 });
      await jit.removeDylib(d);
    }
  }
}
jit.createDylib('warm');
await jit.addModule('warm', { wasm: chainModule(300, 5, nonce++, true) }, { lazy: true });
let warmLeaf = 10;

const samples: Record<string, number[]> = {};
const push = (k: string, v: number) => (samples[k] ??= []).push(v);
for (let t = 0; t < TRIALS; t++) {
  for (const size of [N, 20]) {
    for (const mode of ['settled', 'now'] as const) {
      const which = size === 20 ? 'small' : 'big';
      const dylib = `scale${nonce++}`;
      jit.createDylib(dylib);
      const a0 = now();
      await jit.addModule(dylib, { wasm: chainModule(size, 5, nonce, true) }, { lazy: true });
      push(`add ${which}`, now() - a0);
      if (mode === 'settled') {
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        await jit.invoke('warm', `f${warmLeaf++}`, () => []);
      }
      const t0 = now();
      await jit.invoke(dylib, `f${size - 3}`, () => []);
      push(`${mode} ${which}`, now() - t0);
      await jit.removeDylib(dylib);
    }
  }
}
await jit.close();

const f = (x: number) => x.toFixed(2);
for (const mode of ['settled', 'now']) {
  const big = samples[`${mode} big`] ?? [];
  const small = samples[`${mode} small`] ?? [];
  console.log(
    `${mode.padEnd(7)} ${N}-fn ${f(median(big))} ms, 20-fn ${f(median(small))} ms: ${f(median(big) / median(small))}x` +
      ` (max ${f(Math.max(...big))} / ${f(Math.max(...small))} ms)`,
  );
}
console.log(`add     ${N}-fn ${f(median(samples['add big'] ?? []))} ms, 20-fn ${f(median(samples['add small'] ?? []))} ms`);
console.log(JSON.stringify(samples));
process.exit(0);
