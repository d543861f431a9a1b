// Main-thread CPU of the invoke route's JavaScript alone: the real app (buildServer, the real
// service) driven by fastify's inject, 10 invokes of add(i32, i32) in flight, the executor as a
// thread of this process. No sockets and no executor host: what invokeCost.ts measures with them
// moves with the machine's load by more than a change to the request path saves, this much less.
// Samples of `requests` invokes each; the minimum is the one least disturbed by other processes.
//
//   node bench/invokePathCost.ts [requests] [samples]      (default 5000, 8)
//   ROOT=/path/to/another/checkout node bench/invokePathCost.ts
//       measures that checkout's app, to compare two commits side by side (run them alternately)

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(process.env['ROOT'] ?? here);
const requests = Number(process.argv[2] ?? 5000);
const samples = Number(process.argv[3] ?? 8);

const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(root, file)).href)) as T;
const { loadConfig } = await load<typeof import('../src/config.ts')>('src/config.ts');
const { buildServer } = await load<typeof import('../src/server.ts')>('src/server.ts');
const { createService } = await load<typeof import('../src/service/createService.ts')>('src/service/createService.ts');

const config = { ...loadConfig({}), logLevel: 'silent' as const, databaseUrl: 'memory:' };
const service = await createService(config, undefined, { inProcessExecutors: true });
await service.recover();
const app = await buildServer({ config, service, logger: pino({ level: 'silent' }) });
await app.ready();

async function expectOk(p: PromiseLike<{ statusCode: number; body: string }>): Promise<void> {
  const res = await p;
  if (res.statusCode >= 300) throw new Error(`${res.statusCode} ${res.body}`);
}
await expectOk(app.inject({ method: 'POST', url: '/dylibs', payload: { name: 'bench' } }));
const wat = '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))';
await expectOk(app.inject({ method: 'POST', url: '/dylibs/bench/modules', headers: { 'content-type': 'text/plain' }, payload: wat }));

const body = JSON.stringify({ args: [2, 3] });
async function drive(n: number): Promise<void> {
  let left = n;
  const client = async () => {
    while (left-- > 0) {
      await expectOk(app.inject({ method: 'POST', url: '/dylibs/bench/symbols/add/invoke', headers: { 'content-type': 'application/json' }, payload: body }));
    }
  };
  await Promise.all(Array.from({ length: 10 }, client));
}

// Warm: V8's optimization of the request path, the function's optimized tier.
await drive(20_000);
await new Promise((r) => setTimeout(r, 1000));
const perInvoke: number[] = [];
for (let i = 0; i < samples; i++) {
  const c0 = process.threadCpuUsage();
  await drive(requests);
  const c = process.threadCpuUsage(c0);
  perInvoke.push((c.user + c.system) / requests);
}
await app.close();

const sorted = [...perInvoke].sort((a, b) => a - b);
const at = (q: number) => (sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN).toFixed(1);
console.log(`${root}: main-thread CPU µs per invoke, ${samples} samples of ${requests}: min ${at(0)}, p25 ${at(0.25)}, median ${at(0.5)}  (${perInvoke.map((x) => x.toFixed(1)).join(' ')})`);
