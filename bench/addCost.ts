// Main-thread cost of lazily adding a large module: LazyJIT.addModule of the 20,000-function
// chain (bench/wasmgen.ts), several adds in a row in one process, each into a dylib of its own.
// Wall time and the main thread's CPU per add, medians and minimums: the minimum is the add
// without a garbage collection inside it, the median shows how often one lands there.
//
//   node bench/addCost.ts [adds]              (default 6)
//   node bench/addCost.ts [adds] --export-all  every function exported (the default is section 1's
//                                              module: only main is exported, the rest are private)
//   ROOT=/path/to/another/checkout node bench/addCost.ts
//       measures that checkout's src/ with this one's module generator, to compare two commits
//       side by side on a shared machine (run them alternately)

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chainModule } from './wasmgen.ts';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(process.env['ROOT'] ?? here);
const adds = Number(process.argv[2] ?? 6);
const exportAll = process.argv.includes('--export-all');

const { defaultJITConfig } = (await import(pathToFileURL(path.join(root, 'src/config.ts')).href)) as typeof import('../src/config.ts');
const { LazyJIT } = (await import(pathToFileURL(path.join(root, 'src/jit/LazyJIT.ts')).href)) as typeof import('../src/jit/LazyJIT.ts');

const jit = await LazyJIT.create(defaultJITConfig());
const bytes = chainModule(20_000, 20, 7, exportAll);
const wall: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < adds; i++) {
  jit.createDylib(`d${i}`);
  const t0 = performance.now();
  const c0 = process.threadCpuUsage();
  await jit.addModule(`d${i}`, { wasm: bytes });
  const c = process.threadCpuUsage(c0);
  wall.push(performance.now() - t0);
  cpu.push((c.user + c.system) / 1000);
}
const answer = await jit.invoke('d0', 'main', () => []);
await jit.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
const ms = (x: number) => `${x.toFixed(0)} ms`;
console.log(`${root}: ${adds} lazy adds of a 20,000-function module (${(bytes.byteLength / 1024).toFixed(0)} KB, ${exportAll ? 'every function' : 'main only'} exported)`);
console.log(`  wall:             median ${ms(median(wall))}, min ${ms(Math.min(...wall))}  (${wall.map((x) => x.toFixed(0)).join(' ')})`);
console.log(`  main-thread CPU:  median ${ms(median(cpu))}, min ${ms(Math.min(...cpu))}  (${cpu.map((x) => x.toFixed(0)).join(' ')})`);
console.log(`  main() = ${JSON.stringify(answer.results)}`);
