// What issue 13's goal (invoke req/s at least 0.7x of a bare fastify route) leaves room for on
// this machine. The service may not run user code on the event loop, so every invoke crosses to
// another thread or process and back. bench/hop-server.ts is the bare route plus that crossing
// and nothing else, three ways (a worker thread by message, a child process over IPC, a worker
// thread through SharedArrayBuffer rings). Each is measured against the bare route, alternately,
// with the same 10-connection load as section 5, and the JIT server beside them: the hop's ratio
// is the ceiling of the JIT's on this machine, and the JIT's distance from it is its own overhead.
//
//   node bench/hopFloor.ts [seconds per sample, default 3] [rounds, default 3]

import http from 'node:http';
import { expectOk, fmt, invokeLoad, median, request } from './lib.ts';
import { type BareServer, type ServerProcess, startBareServer, startJitServer } from './servers.ts';
import { addModule } from './wasmgen.ts';

const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);

type Side = 'bare' | 'thread' | 'process' | 'shared' | 'jit';
const sides: Side[] = ['bare', 'thread', 'process', 'shared', 'jit'];

const servers = new Map<Side, BareServer | ServerProcess>();
try {
  servers.set('bare', await startBareServer());
  for (const hop of ['thread', 'process', 'shared'] as const) servers.set(hop, await startBareServer({ HOP: hop }, 'hop-server.ts'));
  const jit = await startJitServer({ LOG_LEVEL: 'warn' });
  servers.set('jit', jit);
  const agent = new http.Agent({ keepAlive: true });
  await expectOk(request(agent, jit.port, 'POST', '/dylibs', JSON.stringify({ name: 'bench' })), 'POST /dylibs');
  await expectOk(request(agent, jit.port, 'POST', '/dylibs/bench/modules', addModule(), 'application/wasm'), 'POST module');
  for (const [side, server] of servers) {
    const r = await expectOk(request(agent, server.port, 'POST', '/dylibs/bench/symbols/add/invoke', JSON.stringify({ args: [2, 3] })), `invoke on ${side}`);
    if (JSON.parse(r.body).results?.[0]?.value !== 5) throw new Error(`add(2,3) on ${side} gave ${r.body}`);
  }
  agent.destroy();
  for (const side of sides) await invokeLoad(servers.get(side)!.port, 1); // warm

  const rps = new Map<Side, number[]>(sides.map((s) => [s, []]));
  const p99 = new Map<Side, number[]>(sides.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so that no side always follows the same neighbour.
    const order = sides.map((_, i) => sides[(i + r) % sides.length]!);
    for (const side of order) {
      const result = await invokeLoad(servers.get(side)!.port, seconds);
      if (result.errors + result.non2xx + result.timeouts > 0) throw new Error(`${side}: ${result.errors} errors, ${result.non2xx} non-2xx`);
      rps.get(side)!.push(result.requests.average);
      p99.get(side)!.push(result.latency.p99);
    }
    console.log(`round ${r + 1}: ${order.map((s) => `${s} ${fmt(rps.get(s)!.at(-1)!)}/s`).join(', ')}`);
  }
  const bare = median(rps.get('bare')!);
  console.log(`\n${'side'.padEnd(8)} ${'req/s'.padStart(8)}  ${'vs bare'.padStart(7)}  p99`);
  for (const side of sides) {
    const m = median(rps.get(side)!);
    console.log(`${side.padEnd(8)} ${fmt(m).padStart(8)}  ${(m / bare).toFixed(3).padStart(7)}x  ${fmt(median(p99.get(side)!))} ms`);
  }
} finally {
  await Promise.all([...servers.values()].map((s) => s.stop()));
}
