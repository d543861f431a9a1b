import { LazyJIT } from '../src/jit/LazyJIT.ts';
import { defaultJITConfig } from '../src/config.ts';
import { chainModule } from './wasmgen.ts';
const jit = await LazyJIT.create({ ...defaultJITConfig() });
const bytes = chainModule(20000, 20, 7, true);
for (let i = 0; i < 4; i++) {
  const name = `d${i}`;
  jit.createDylib(name);
  const t0 = performance.now();
  await jit.addModule(name, { wasm: bytes }, { lazy: true });
  const t1 = performance.now();
  console.log('add ms', (t1 - t0).toFixed(1));
}
await jit.close();
