// Idle sessions on the real server process: a tenant's executor stops after SESSION_IDLE_MS
// without a request (GET /tenants/:t shows usage.live false), its definitions stay, and its next
// call starts a fresh executor whose runtime state is what instantiating the modules again
// produces (start functions run again; globals and memories start over). Beyond
// MAX_LIVE_SESSIONS the least recently used tenant's executor stops. A call that outlives
// SESSION_IDLE_MS does not leave its executor running for good.

import t from 'tap';
import { wat2wasm } from '../support/wat.ts';
import {
  addModule,
  adminIn,
  type Client,
  createDylib,
  createTenant,
  expectError,
  getTenant,
  invoke,
  invokeI32,
  startAuthServer,
  waitFor,
} from './support.ts';

/** A start function sets the counter to 10, so a fresh instantiation is visible as 11 at the first bump. */
const COUNTER = wat2wasm(`(module
  (memory (export "mem") 1)
  (global $n (mut i32) (i32.const 0))
  (func $init (global.set $n (i32.const 10)))
  (start $init)
  (func (export "bump") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n))
  (func (export "spin") (loop (br 0))))`);

const MARK = Buffer.from('written before the executor stopped');

async function live(client: Client, tenant: string): Promise<boolean> {
  return (await getTenant(client, tenant)).usage.live;
}

async function tenantWithCounter(client: Client, name: string): Promise<void> {
  await createTenant(client, name);
  await createDylib(client, adminIn(name), 'main');
  await addModule(client, adminIn(name), 'main', COUNTER);
}

async function readMark(client: Client, tenant: string): Promise<Buffer> {
  const res = await client.send<{ base64: string }>(adminIn(tenant), 'GET', `/dylibs/main/memories/mem?offset=0&length=${MARK.length}`);
  return Buffer.from(res.json.base64, 'base64');
}

t.test('an idle tenant: its executor stops, its definitions stay, its next call instantiates again', async (t) => {
  // 2 s rather than the smallest 1 s, so a slow moment between two requests is not idleness.
  const { server, client } = await startAuthServer(t, { SESSION_IDLE_MS: '2000' });
  await createTenant(client, 'sleepy');
  t.equal(await live(client, 'sleepy'), false, 'a new tenant has no executor');
  await createDylib(client, adminIn('sleepy'), 'main');
  await addModule(client, adminIn('sleepy'), 'main', COUNTER);
  t.equal(await live(client, 'sleepy'), true, 'an add whose start function runs starts it');
  const sleepy = adminIn('sleepy');
  for (let i = 11; i <= 13; i++) t.equal(await invokeI32(client, sleepy, 'main', 'bump'), i);
  t.equal((await client.send(sleepy, 'PUT', '/dylibs/main/memories/mem', { json: { offset: 0, base64: MARK.toString('base64') } })).status, 200);
  t.equal(await live(client, 'sleepy'), true, 'live after calls');
  const before = await client.send(sleepy, 'GET', '/dylibs/main');

  const stopped = await waitFor(() => live(client, 'sleepy'), (v) => !v, 15_000);
  t.equal(stopped, false, 'the executor stopped after idling');
  t.ok(
    server.logs.some((l) => l.msg === "stopping a tenant's executor" && l['tenant'] === 'sleepy' && l['why'] === 'idle'),
    'the log says why it stopped',
  );
  const after = await client.send(sleepy, 'GET', '/dylibs/main');
  t.equal(after.text, before.text, 'its definitions are as they were');
  t.equal(await live(client, 'sleepy'), false, 'looking at its definitions does not start it');

  t.equal(await invokeI32(client, sleepy, 'main', 'bump'), 11, 'the next call: the start function ran again, the global starts over');
  t.same(await readMark(client, 'sleepy'), Buffer.alloc(MARK.length), 'its memory starts over (zero bytes)');
  t.equal(await live(client, 'sleepy'), true, 'live again');
});

t.test('beyond MAX_LIVE_SESSIONS the least recently used executor stops', async (t) => {
  const { client } = await startAuthServer(t, { MAX_LIVE_SESSIONS: '2' });
  for (const name of ['t1', 't2', 't3']) await tenantWithCounter(client, name);
  const states = async () => Promise.all(['t1', 't2', 't3'].map((n) => live(client, n)));

  t.equal(await invokeI32(client, adminIn('t1'), 'main', 'bump'), 11);
  t.equal(await invokeI32(client, adminIn('t1'), 'main', 'bump'), 12);
  t.equal(await invokeI32(client, adminIn('t2'), 'main', 'bump'), 11);
  t.same(await states(), [true, true, false]);
  t.equal(await invokeI32(client, adminIn('t3'), 'main', 'bump'), 11);
  t.same(await states(), [false, true, true], 'a third tenant: the least recently used (t1) stopped');
  t.equal(await invokeI32(client, adminIn('t2'), 'main', 'bump'), 12, 't2 kept its state');
  t.equal(await invokeI32(client, adminIn('t1'), 'main', 'bump'), 11, 't1 starts over');
  t.same(await states(), [true, true, false], 't1 back: now t3 was the least recently used');
});

t.test('a call that outlives SESSION_IDLE_MS does not keep its executor running for good', async (t) => {
  const { client } = await startAuthServer(t, { SESSION_IDLE_MS: '2000' });
  await tenantWithCounter(client, 'busy');
  const busy = adminIn('busy');
  t.equal(await invokeI32(client, busy, 'main', 'bump'), 11);
  // The call runs past the idle time; the idle check finds the executor busy then.
  expectError(t, await invoke(client, busy, 'main', 'spin', [], 4500), 422, 'ExecutionTimeout', 'a call of 4.5 s');
  t.equal(await live(client, 'busy'), true, 'the executor restarted after the timeout');
  const stopped = await waitFor(() => live(client, 'busy'), (v) => !v, 15_000);
  t.equal(stopped, false, 'it stops once idle after all');
});

