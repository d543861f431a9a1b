// Isolation between tenants on the real server process (API.md "Tenants and keys": a trap,
// timeout, executor restart or memory exhaustion in one tenant's session never changes another
// tenant's state and never fails its calls). Tenant B keeps calling (a global it bumps, bytes it
// wrote into its memory) while tenant A traps, runs past its time limit (its executor restarts),
// exhausts its memory budget and exhausts its executor's heap with a table V8 cannot allocate,
// which V8 answers by aborting the whole host process (SIGABRT).
//
// With two host processes (the default) A and B run in different hosts and B notices nothing.
// With EXECUTOR_PROCESSES=1 they share the host, and the abort is the documented blast radius:
// B's call in flight fails (ResourceExhausted, naming another session as the possible cause),
// B's executor restarts on a new host with its runtime state back to what instantiation
// produces, and B's definitions stay. Everything short of a host abort still leaves B alone.

import { readdirSync, readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { ServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import {
  addModule,
  adminIn,
  type Client,
  createDylib,
  createTenant,
  type Credential,
  expectError,
  invoke,
  invokeI32,
  type Reply,
  seg,
  startAuthServer,
} from './support.ts';

/** B's module: a counter and a memory whose bytes it writes. */
const COUNTER = wat2wasm(`(module
  (memory (export "mem") 1)
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n))
  (func (export "spin") (loop (br 0))))`);

/** A's ways to misbehave. */
const CULPRIT = wat2wasm(`(module
  (memory 1)
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n))
  (func (export "trap") (result i32) (unreachable))
  (func (export "divide") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "spin") (loop (br 0)))
  (func (export "growAll") (result i32)
    (loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (memory.size)))`);

/** 10M funcref elements: one allocation of ~80 MB, past a 32 MB executor heap, which V8 answers with an abort of the process. */
const HUGE_TABLE = wat2wasm('(module (table 10000000 funcref))');
const HEAP_ENV = { EXECUTOR_HEAP_LIMIT_MB: '32', SESSION_TABLE_LIMIT_ELEMENTS: '10000000' };

const MARK = Buffer.from('tenant B was here');
const A = adminIn('a');
const B = adminIn('b');

/** The pids of the server's child processes: the executor hosts. */
function hostPids(server: ServerProcess): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${server.pid}/task`)) {
    const children = readFileSync(`/proc/${server.pid}/task/${task}/children`, 'utf8').trim();
    if (children) pids.push(...children.split(/\s+/).map(Number));
  }
  return pids;
}

async function setUp(t: Test, client: Client): Promise<void> {
  await createTenant(client, 'a', { memoryPages: 4 });
  await createTenant(client, 'b');
  await createDylib(client, A, 'main');
  await addModule(client, A, 'main', CULPRIT);
  await createDylib(client, B, 'main');
  await addModule(client, B, 'main', COUNTER);
  // A's executor starts first, then B's: with two hosts, B's goes to the second.
  t.equal(await invokeI32(client, A, 'main', 'bump'), 1);
  for (let i = 1; i <= 3; i++) t.equal(await invokeI32(client, B, 'main', 'bump'), i);
  const wrote = await client.send(B, 'PUT', '/dylibs/main/memories/mem', { json: { offset: 100, base64: MARK.toString('base64') } });
  t.equal(wrote.status, 200, "B's bytes are written");
}

async function readMark(client: Client, as: Credential): Promise<string> {
  const res = await client.send<{ base64: string }>(as, 'GET', `/dylibs/main/memories/mem?offset=100&length=${MARK.length}`);
  if (res.status !== 200) return `(${res.status} ${res.text.slice(0, 200)})`;
  return Buffer.from(res.json.base64, 'base64').toString('latin1');
}

/** B calls bump in a loop until stopped; every answer is kept. */
function keepCalling(client: Client): { stop(): Promise<Reply[]> } {
  let stopped = false;
  const replies: Reply[] = [];
  const loop = (async () => {
    while (!stopped) replies.push(await invoke(client, B, 'main', 'bump'));
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return replies;
    },
  };
}

/** Every reply succeeded and counted on from `from`, one by one. */
function expectCountingOn(t: Test, replies: readonly Reply[], from: number, what: string): void {
  const failed = replies.filter((r) => r.status !== 200);
  t.same(failed.map((r) => `${r.status} ${r.text.slice(0, 200)}`), [], `${what}: none of B's ${replies.length} calls failed`);
  const values = replies.map((r) => Number((r.json as { results: { value: number }[] }).results[0]?.value));
  t.same(values, values.map((_, i) => from + i), `${what}: B's global counted on from ${from} without a reset`);
  t.ok(replies.length > 0, `${what}: B was called meanwhile (${replies.length} calls)`);
}

/** A's misbehaviour short of a host abort, each answered as API.md says. */
async function misbehaveWithinTheHost(t: Test, client: Client): Promise<void> {
  expectError(t, await invoke(client, A, 'main', 'trap'), 422, 'Trap', "A's trap");
  expectError(t, await invoke(client, A, 'main', 'divide', [0]), 422, 'Trap', "A's division by zero");
  expectError(t, await invoke(client, A, 'main', 'spin', [], 300), 422, 'ExecutionTimeout', "A's runaway call (its executor restarts)");
  t.equal(await invokeI32(client, A, 'main', 'growAll'), 4, "A's memory.grow loop stops at its 4-page budget");
  const big = wat2wasm('(module (memory (export "big") 8))');
  const refused = await client.send(A, 'POST', '/dylibs/main/modules', { json: { wasm: Buffer.from(big).toString('base64') } });
  expectError(t, refused, 422, 'ResourceExhausted', "A's module with a memory past its budget");
}

t.test('two host processes: nothing tenant A does changes or fails tenant B', async (t) => {
  const { server, client } = await startAuthServer(t, HEAP_ENV);
  await setUp(t, client);
  const hosts = hostPids(server);
  t.equal(hosts.length, 2, `A and B run in two host processes (${hosts.join(', ')})`);

  const b = keepCalling(client);
  await misbehaveWithinTheHost(t, client);
  const abort = await client.send(A, 'POST', '/dylibs/main/modules', { json: { wasm: Buffer.from(HUGE_TABLE).toString('base64') } });
  const error = expectError(t, abort, 422, 'ResourceExhausted', "A's table past its executor's heap");
  t.equal(error?.['limit'], 'memory');
  t.match(error?.message, /host process ran out of memory/, 'V8 aborted A\'s host');
  const replies = await b.stop();

  expectCountingOn(t, replies, 4, 'while A misbehaved');
  t.equal(await readMark(client, B), MARK.toString('latin1'), "B's memory bytes are as B wrote them");
  t.equal(await invokeI32(client, B, 'main', 'bump'), 4 + replies.length, "B's global after it all");
  const after = hostPids(server);
  t.equal(after.filter((p) => hosts.includes(p)).length, 1, "one of the two hosts is gone (A's), B's still runs");
  t.equal(await invokeI32(client, A, 'main', 'bump'), 1, 'A answers again, from its initial state');
  t.ok(/FATAL ERROR|heap limit|out of memory/i.test(server.stderr), 'V8 reported the abort (host stderr)');
});

t.test('one host process: the abort of a shared host is the blast radius, everything else is not', async (t) => {
  const { server, client } = await startAuthServer(t, { ...HEAP_ENV, EXECUTOR_PROCESSES: '1' });
  await setUp(t, client);
  const [host, ...more] = hostPids(server);
  t.same(more, [], `A and B share one host process (${host})`);

  // Short of an abort, sharing the host costs B nothing.
  const b = keepCalling(client);
  await misbehaveWithinTheHost(t, client);
  const replies = await b.stop();
  expectCountingOn(t, replies, 4, 'while A trapped, timed out and hit its memory budget');
  const counted = 3 + replies.length;
  t.equal(await readMark(client, B), MARK.toString('latin1'), "B's memory bytes are intact");

  // The abort: B has a call in flight and another queued behind it.
  const inFlight = invoke(client, B, 'main', 'spin', [], 20_000);
  await new Promise((r) => setTimeout(r, 500));
  const queued = invoke(client, B, 'main', 'bump');
  const crashAt = performance.now();
  const abort = await client.send(A, 'POST', '/dylibs/main/modules', { json: { wasm: Buffer.from(HUGE_TABLE).toString('base64') } });
  expectError(t, abort, 422, 'ResourceExhausted', "A's table past its executor's heap");
  const lost = await inFlight;
  const next = await queued;
  const backMs = performance.now() - crashAt;

  const error = expectError(t, lost, 422, 'ResourceExhausted', "B's call in flight when the shared host aborted");
  t.equal(error?.['limit'], 'memory');
  t.match(error?.message, /another session's on the same host/, "the message says it may not have been B's doing");
  t.equal(next.status, 200, "B's queued call runs on B's restarted executor");
  t.equal(next.json.results[0]?.value, 1, `B's global starts again from instantiation (it was at ${counted})`);
  t.equal(await readMark(client, B), '\0'.repeat(MARK.length), "B's memory is back to its initial (zero) bytes");
  const dylib = await client.send<{ symbols: { name: string }[] }>(B, 'GET', `/dylibs/${seg('main')}`);
  t.same(dylib.json.symbols.map((s) => s.name).sort(), ['bump', 'mem', 'spin'], "B's definitions stay");
  const [newHost, ...others] = hostPids(server);
  t.not(newHost, host, 'a new host replaced the aborted one');
  t.same(others, []);
  t.equal(await invokeI32(client, A, 'main', 'bump'), 1, 'A answers again too');
  t.comment(`shared-host abort: B lost 1 call in flight and its runtime state (global at ${counted} -> 0, memory bytes -> 0); B answered again ${backMs.toFixed(0)} ms after the abort began`);
});
