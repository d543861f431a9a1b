// CPU time per invoke, process by process: what the throughput goal (issue 13) is made of.
// Wall-clock throughput on this shared 2-core machine moves with whatever else runs; the CPU a
// request costs each process of the server does not, so this is the figure to profile against.
// Starts the server as `npm start` does (bench/servers.ts) and the bare fastify route, sends the same fixed number
// of invokes to each (10 connections) and reads the CPU each process tree used from /proc.
//
//   node bench/invokeCost.ts [requests]      (default 20000)
//   INVOKE_COST_PROFILE=1 node bench/invokeCost.ts   also writes .cpuprofile files under /tmp

import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import autocannon, { type Result } from 'autocannon';
import { expectOk, request } from './lib.ts';
import { startBareServer, startJitServer } from './servers.ts';
import { addModule } from './wasmgen.ts';

const requests = Number(process.argv[2] ?? 20_000);
const TICKS = 100; // USER_HZ on Linux

/** utime+stime of one process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
}

/** CPU ms of each thread of `pid`, by thread name and id. */
function threadTimes(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(`${name}/${task}`, ((Number(f[11]) + Number(f[12])) * 1000) / TICKS);
  }
  return out;
}

function threadsCpu(pid: number, before: Map<string, number>, requests: number): string {
  const parts: string[] = [];
  for (const [k, v] of threadTimes(pid)) {
    const d = ((v - (before.get(k) ?? 0)) * 1000) / requests;
    if (d >= 1) parts.push(`${k} ${d.toFixed(1)}`);
  }
  return `  threads of ${pid} (µs/request): ${parts.join(', ')}`;
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text) out.push(...text.split(' ').map(Number));
  }
  return out;
}

async function measure(name: string, port: number, pid: number): Promise<void> {
  // Timed to the last answer: autocannon notices that `amount` is reached only on its 1 s tick,
  // so the time it takes to resolve is rounded up to whole seconds.
  const drive = (amount: number) =>
    new Promise<{ result: Result; lastAnswer: number }>((resolve, reject) => {
      let lastAnswer = 0;
      const opts = { url: `http://127.0.0.1:${port}/dylibs/bench/symbols/add/invoke`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ args: [2, 3] }), connections: 10, amount };
      autocannon(opts, (err, result) => (err ? reject(err) : resolve({ result, lastAnswer }))).on('response', () => {
        lastAnswer = performance.now();
      });
    });
  // Warm: the JIT tiers (the optimized tier of `add` is compiled beside the calls, on the
  // optimizer thread, which loads binaryen first), V8 optimization of the server's own code.
  await drive(5000);
  await new Promise((r) => setTimeout(r, 3000));
  const pids = [pid, ...children(pid)];
  const before = pids.map(cpuMs);
  const threadsBefore = new Map(pids.map((p) => [p, threadTimes(p)]));
  const t0 = performance.now();
  const { result: r, lastAnswer } = await drive(requests);
  const wall = lastAnswer - t0;
  const after = pids.map(cpuMs);
  if (process.env['INVOKE_COST_THREADS']) for (const p of pids) console.log(threadsCpu(p, threadsBefore.get(p) ?? new Map(), requests));
  const per = (i: number) => ((((after[i] as number) - (before[i] as number)) * 1000) / requests).toFixed(1);
  const parts = pids.map((p, i) => `${i === 0 ? 'server' : `child ${p}`} ${per(i)}`).join(', ');
  const total = ((after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0)) * 1000) / requests;
  console.log(`${name.padEnd(5)} ${(requests / (wall / 1000)).toFixed(0).padStart(6)} req/s  CPU µs/request: total ${total.toFixed(1)} (${parts})  errors ${r.errors + r.non2xx}`);
}

// Profiles, when asked for, of every process and thread (the executor hosts inherit NODE_OPTIONS).
const profile: Record<string, string> = process.env['INVOKE_COST_PROFILE'] ? { NODE_OPTIONS: '--cpu-prof --cpu-prof-dir=/tmp/invoke-prof' } : {};
const jit = await startJitServer({ LOG_LEVEL: 'warn', ...profile, EXECUTOR_PROCESSES: process.env['EXECUTOR_PROCESSES'] ?? '2' });
const bare = await startBareServer(profile);
try {
  const agent = new http.Agent({ keepAlive: true });
  await expectOk(request(agent, jit.port, 'POST', '/dylibs', JSON.stringify({ name: 'bench' })), 'POST /dylibs');
  await expectOk(request(agent, jit.port, 'POST', '/dylibs/bench/modules', addModule(), 'application/wasm'), 'POST module');
  agent.destroy();
  await measure('jit', jit.port, jit.pid);
  if (process.env['INVOKE_COST_THREADS']) {
    const m = await (await fetch(`http://127.0.0.1:${jit.port}/metrics`)).text();
    console.log(m.split('\n').filter((l) => /^wasmjit_(compile_duration_seconds_count|reoptimizations_total|code_cache)/.test(l)).join('\n'));
  }
  await measure('bare', bare.port, bare.pid);
} finally {
  await Promise.all([jit.stop(), bare.stop()]);
}
