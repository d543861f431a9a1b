// Section 1 of bench/run.ts: time to first result over HTTP. A client adds a large module (the
// 20,000-function chain of bench/wasmgen.ts, a call to main reaching 101 of its functions) to the
// real server process and calls main once; V8, in a fresh `node` process, compiles, instantiates
// and calls the same bytes (bench/v8FirstCall.ts). Trials alternate which side goes first, each
// trial's module carries its own constants (so no cache answers for either side), and both sides
// must return the value the chain computes.
//
// The server is one process for the whole section, as a user meets it: started, then woken by
// untimed rounds of the same request pair (its JavaScript is then compiled by V8, as on any
// server that has served requests). The very first add and call on the fresh server is kept
// apart as the cold figure. Each trial's dylib is created before the clock starts and deleted
// after it stops.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchSink, fmt, median, now } from './lib.ts';
import { type ServerProcess, startJitServer } from './servers.ts';
import type { V8FirstCall } from './v8FirstCall.ts';
import { chainModule, chainResult } from './wasmgen.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/** Goal: add + first call over HTTP at most this many times V8's compile + instantiate + call. */
export const GOAL_RATIO = 5;

export class FirstResultError extends Error {
  override name = 'FirstResultError';
}

export interface ServiceFirstCall {
  /** POST of the module through the invoke's answer, as the client times it. */
  readonly ms: number;
  readonly addMs: number;
  readonly invokeMs: number;
  /** Bodies the first call compiled, and the compile and run times the server reported for it. */
  readonly compiled: number;
  readonly compileMs: number;
  readonly runMs: number;
  readonly bits: string;
}

interface InvokeReply {
  results?: { bits?: string }[];
  compiled?: string[];
  timing?: { compileMs?: number; runMs?: number };
}

/** One trial on `server`: a dylib of its own, the module added as a binary, main called once. */
export async function serviceFirstCall(server: ServerProcess, dylib: string, bytes: Uint8Array): Promise<ServiceFirstCall> {
  const seg = encodeURIComponent(dylib);
  const created = await server.post('/dylibs', { name: dylib });
  if (created.status !== 201 && created.status !== 200) throw new FirstResultError(`POST /dylibs: HTTP ${created.status} ${created.text.slice(0, 300)}`);
  const t0 = now();
  const added = await server.request('POST', `/dylibs/${seg}/modules`, { wasm: bytes });
  const t1 = now();
  const invoked = await server.post<InvokeReply>(`/dylibs/${seg}/symbols/main/invoke`, { args: [] });
  const t2 = now();
  if (added.status < 200 || added.status >= 300) throw new FirstResultError(`adding the module: HTTP ${added.status} ${added.text.slice(0, 300)}`);
  if (invoked.status !== 200) throw new FirstResultError(`invoking main: HTTP ${invoked.status} ${invoked.text.slice(0, 300)}`);
  const deleted = await server.request('DELETE', `/dylibs/${seg}`);
  if (deleted.status < 200 || deleted.status >= 300) throw new FirstResultError(`DELETE /dylibs/${dylib}: HTTP ${deleted.status} ${deleted.text.slice(0, 300)}`);
  const reply = invoked.json;
  return {
    ms: t2 - t0,
    addMs: t1 - t0,
    invokeMs: t2 - t1,
    compiled: reply.compiled?.length ?? 0,
    compileMs: reply.timing?.compileMs ?? NaN,
    runMs: reply.timing?.runMs ?? NaN,
    bits: reply.results?.[0]?.bits ?? '',
  };
}

/** One trial of the V8 side: a fresh `node` process on the module written to `file`. */
export function v8FirstCallInChild(file: string): V8FirstCall & { wallMs: number } {
  const t0 = now();
  const r = spawnSync(process.execPath, [path.join(here, 'v8FirstCall.ts'), file, 'main'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const wallMs = now() - t0;
  if (r.status !== 0) throw new FirstResultError(`bench/v8FirstCall.ts exited ${r.status}: ${r.stderr.slice(-600)}`);
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as V8FirstCall), wallMs };
}

export interface FirstResultOptions {
  readonly functions: number;
  readonly chain: number;
  readonly trials: number;
  /** Untimed add + first call rounds on the server before the timed trials. */
  readonly warmUps: number;
  /** First nonce; each module gets its own. */
  readonly nonce: number;
}

export async function firstResultOverHttp(sink: BenchSink, o: FirstResultOptions): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-first-'));
  const server = await startJitServer();
  let nonce = o.nonce;
  const next = () => {
    const n = nonce++;
    return { n, bytes: chainModule(o.functions, o.chain, n), expect: String(chainResult(o.chain, n)) };
  };
  const check = (side: string, got: string, expect: string) => {
    if (got !== expect) throw new FirstResultError(`${side}: main() returned ${got}, expected ${expect}`);
  };
  try {
    const cold = next();
    const coldSample = await serviceFirstCall(server, `first${cold.n}`, cold.bytes);
    check('service (cold)', coldSample.bits, cold.expect);
    for (let w = 0; w < o.warmUps; w++) {
      const m = next();
      check('service (warm-up)', (await serviceFirstCall(server, `first${m.n}`, m.bytes)).bits, m.expect);
    }
    const service: ServiceFirstCall[] = [];
    const v8: (V8FirstCall & { wallMs: number })[] = [];
    for (let t = 0; t < o.trials; t++) {
      const m = next();
      const file = path.join(dir, `chain${m.n}.wasm`);
      writeFileSync(file, m.bytes);
      for (const side of t % 2 === 0 ? (['service', 'v8'] as const) : (['v8', 'service'] as const)) {
        if (side === 'v8') {
          const r = v8FirstCallInChild(file);
          check('V8', r.bits, m.expect);
          v8.push(r);
        } else {
          const r = await serviceFirstCall(server, `first${m.n}`, m.bytes);
          check('service', r.bits, m.expect);
          service.push(r);
        }
      }
      console.log(`  trial ${t + 1}/${o.trials}: service ${fmt(service.at(-1)?.ms ?? NaN)} ms, V8 ${fmt(v8.at(-1)?.ms ?? NaN)} ms`);
    }
    sink.raw['firstResultHttp'] = { functions: o.functions, chain: o.chain, bytes: cold.bytes.length, cold: coldSample, service, v8 };
    const s = median(service.map((x) => x.ms));
    const d = median(v8.map((x) => x.ms));
    const pick = (f: (x: ServiceFirstCall) => number) => fmt(median(service.map(f)));
    sink.row({
      id: 'ttfr.http_v8',
      what: `time to first result over HTTP, ${o.functions} fns, ${o.chain} reached: add + first call vs V8 compile + instantiate + call in a fresh node`,
      a: `service ${fmt(s)} ms`,
      b: `V8 ${fmt(d)} ms`,
      value: s / d,
      unit: 'x',
      goal: `<= ${GOAL_RATIO}`,
      pass: s / d <= GOAL_RATIO,
      note:
        `service: add ${pick((x) => x.addMs)} ms + invoke ${pick((x) => x.invokeMs)} ms (server: compile ${pick((x) => x.compileMs)} ms, ` +
        `run ${pick((x) => x.runMs)} ms, ${median(service.map((x) => x.compiled))} bodies); V8: compile ${fmt(median(v8.map((x) => x.compileMs)))} + ` +
        `instantiate ${fmt(median(v8.map((x) => x.instantiateMs)))} + call ${fmt(median(v8.map((x) => x.callMs)))} ms, child wall ${fmt(median(v8.map((x) => x.wallMs)))} ms; ` +
        `runs ${service.map((x) => fmt(x.ms)).join(' / ')} vs ${v8.map((x) => fmt(x.ms)).join(' / ')} ms`,
    });
    sink.row({
      id: 'ttfr.http_cold',
      what: 'same, the first add + call of a freshly started server (one sample) vs V8',
      a: `service ${fmt(coldSample.ms)} ms`,
      b: `V8 ${fmt(d)} ms`,
      value: coldSample.ms / d,
      unit: 'x',
      goal: 'info',
      pass: null,
      note: `add ${fmt(coldSample.addMs)} ms + invoke ${fmt(coldSample.invokeMs)} ms`,
    });
  } catch (err) {
    if (err instanceof Error) err.message += `\nserver output: ${server.transcript(1500)}`;
    throw err;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
