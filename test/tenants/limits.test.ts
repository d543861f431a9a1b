// Per-tenant limits on the real server process (API.md "Tenants and keys"): dylibs, modules,
// codeBytes, memoryPages and callTimeoutMs, each hit by one tenant while another with the
// defaults does the same unhindered. A tenant over a limit gets ResourceExhausted (or
// ExecutionTimeout for its call time limit) and nothing else changes: its dump and usage are
// compared around every refusal. PATCH changes limits (memoryPages from the executor's next
// start), null sets one back to the server default. DELETE of a tenant removes its dylibs,
// modules and keys, in the SQLite file too, and they stay gone after a restart.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t, { type Test } from 'tap';
import { startServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import {
  ADMIN,
  ADMIN_TOKEN,
  addModule,
  adminIn,
  Client,
  createDylib,
  createKey,
  createTenant,
  type Credential,
  type ErrorBody,
  expectError,
  getTenant,
  invoke,
  invokeI32,
  type Reply,
  startAuthServer,
  type TenantView,
  withKey,
} from './support.ts';

const SPIN = wat2wasm(`(module
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n))
  (func (export "spin") (loop (br 0))))`);

/** What a refused request must leave as it was: the tenant's usage and (unless `usageOnly`) its dump. */
async function state(client: Client, tenant: string, usageOnly = false): Promise<string> {
  const dump = usageOnly ? undefined : (await client.send(adminIn(tenant), 'GET', '/dump?format=json')).json;
  const view = await getTenant(client, tenant);
  return JSON.stringify({ dump, usage: { dylibs: view.usage.dylibs, modules: view.usage.modules, codeBytes: view.usage.codeBytes } });
}

/**
 * Runs a request that a limit must refuse, and checks it changed nothing. A refused compile
 * leaves what README's Limits table says it leaves (the stub resolved, the body failed), so
 * for it only the usage is compared (`usageOnly`).
 */
async function refused(
  t: Test,
  client: Client,
  tenant: string,
  request: () => Promise<Reply>,
  limit: string,
  what: string,
  usageOnly = false,
): Promise<ErrorBody['error'] | undefined> {
  const before = await state(client, tenant, usageOnly);
  const res = await request();
  const error = expectError(t, res, 422, 'ResourceExhausted', what);
  t.equal(error?.['limit'], limit, `${what}: details.limit ${limit}`);
  t.equal(await state(client, tenant, usageOnly), before, `${what}: nothing changed${usageOnly ? ' in its usage' : ''}`);
  return error;
}

async function patch(client: Client, tenant: string, limits: Record<string, number | null>): Promise<TenantView> {
  const res = await client.send<TenantView>(ADMIN, 'PATCH', `/tenants/${tenant}`, { json: { limits } });
  if (res.status !== 200) throw new Error(`PATCH ${tenant}: ${res.status} ${res.text}`);
  return res.json;
}

t.test('dylibs and modules: refused past the limit, PATCH raises and resets it, another tenant unaffected', async (t) => {
  const { client } = await startAuthServer(t, { MAX_DYLIBS: '4', MAX_MODULES: '5' });
  const made = await createTenant(client, 'small', { dylibs: 2, modules: 2 });
  t.same(made.limits, { dylibs: 2, modules: 2 });
  t.match(made.effectiveLimits, { dylibs: 2, modules: 2 });
  await createTenant(client, 'roomy');
  t.match((await getTenant(client, 'roomy')).effectiveLimits, { dylibs: 4, modules: 5 }, 'unset limits take the server defaults');
  const small = adminIn('small');
  const roomy = adminIn('roomy');
  const tiny = wat2wasm('(module (func (export "one") (result i32) (i32.const 1)))');

  for (const as of [small, roomy]) {
    await createDylib(client, as, 'a');
    await createDylib(client, as, 'b');
  }
  await refused(t, client, 'small', () => client.send(small, 'POST', '/dylibs', { json: { name: 'c' } }), 'dylibs', 'a third dylib');
  await createDylib(client, roomy, 'c');

  // Lazy adds make implementation dylibs; they are not the tenant's and do not count.
  await addModule(client, small, 'a', tiny);
  await addModule(client, small, 'b', tiny);
  t.match((await getTenant(client, 'small')).usage, { dylibs: 2, modules: 2 }, 'a.impl and b.impl are not counted');
  await refused(t, client, 'small', () => client.send(small, 'POST', '/dylibs/a/modules', { json: { wasm: Buffer.from(tiny).toString('base64') } }), 'modules', 'a third module');
  for (const dylib of ['a', 'b', 'c']) await addModule(client, roomy, dylib, tiny);
  t.equal(await invokeI32(client, small, 'a', 'one'), 1, "the refusals left the tenant's modules working");

  // PATCH: raised at once...
  const raised = await patch(client, 'small', { dylibs: 3, modules: 3 });
  t.match(raised.effectiveLimits, { dylibs: 3, modules: 3 });
  await createDylib(client, small, 'c');
  await addModule(client, small, 'c', tiny);
  await refused(t, client, 'small', () => client.send(small, 'POST', '/dylibs', { json: { name: 'd' } }), 'dylibs', 'a fourth dylib at 3');
  // ...null: back to the server's default...
  const reset = await patch(client, 'small', { dylibs: null });
  t.same(reset.limits, { modules: 3 }, 'dylibs is no longer set');
  t.match(reset.effectiveLimits, { dylibs: 4, modules: 3 });
  await createDylib(client, small, 'd');
  // ...and lowered below what the tenant has: what exists stays, nothing more is made.
  await patch(client, 'small', { dylibs: 1 });
  await refused(t, client, 'small', () => client.send(small, 'POST', '/dylibs', { json: { name: 'e' } }), 'dylibs', 'a dylib while over a lowered limit');
  t.equal((await getTenant(client, 'small')).usage.dylibs, 4, 'the four dylibs made before stay');
  t.equal(await invokeI32(client, small, 'c', 'one'), 1);
  expectError(t, await client.send(ADMIN, 'PATCH', '/tenants/small', { json: { limits: { dylibs: 0 } } }), 400, 'BadRequest', 'a limit of 0 dylibs');
  expectError(t, await client.send(ADMIN, 'PATCH', '/tenants/small', { json: { limits: { bogus: 3 } } }), 400, 'BadRequest', 'an unknown limit');
  expectError(t, await client.send(ADMIN, 'PATCH', '/tenants/nobody', { json: { limits: {} } }), 404, 'TenantNotFound', 'PATCH of no tenant');
});

/** A module whose functions differ only in size, so the code budget can let one through and not the other. */
function sizedModule(bigAdds: number): Uint8Array {
  const adds = Array.from({ length: bigAdds }, () => '(local.set 0 (i32.add (local.get 0) (i32.const 1)))').join(' ');
  return wat2wasm(`(module
    (func (export "small") (result i32) (i32.const 2))
    (func (export "big") (result i32) (local i32) ${adds} (local.get 0))
    (func (export "other") (result i32) (i32.const 3)))`);
}

t.test('codeBytes: the compile that does not fit is refused, what is compiled keeps working, PATCH applies at once', async (t) => {
  const { client } = await startAuthServer(t);
  await createTenant(client, 'coder');
  await createTenant(client, 'neighbour');
  const coder = adminIn('coder');
  const module = sizedModule(200);
  for (const as of [coder, adminIn('neighbour')]) {
    await createDylib(client, as, 'main');
    await addModule(client, as, 'main', module);
  }
  t.equal(await invokeI32(client, coder, 'main', 'small'), 2);
  const used = (await getTenant(client, 'coder')).usage.codeBytes;
  t.ok(used > 0, `compiled code is counted (${used} bytes)`);
  // Room for another small body, not for the big one.
  await patch(client, 'coder', { codeBytes: used + 200 });
  const error = await refused(t, client, 'coder', () => invoke(client, coder, 'main', 'big'), 'sessionCodeBytes', 'compiling the big body', true);
  t.match(error?.message, /big/, 'the refusal names the body');
  const body = await client.send<{ symbols: { name: string; flags: string[] }[] }>(coder, 'GET', '/dylibs/main.impl?hidden=true');
  t.match(body.json.symbols.find((s) => s.name === 'big')?.flags, ['HasError'], 'the body is marked failed, as README says');
  t.equal(await invokeI32(client, coder, 'main', 'small'), 2, 'the compiled body still runs');
  t.equal(await invokeI32(client, coder, 'main', 'other'), 3, 'a body that fits still compiles');
  t.equal(await invokeI32(client, adminIn('neighbour'), 'main', 'big'), 200, 'the other tenant compiles the big body');

  // Raised: new compiles fit at once. The body refused before stays failed (as ORC keeps a failed symbol failed).
  await patch(client, 'coder', { codeBytes: null });
  const again = await invoke(client, coder, 'main', 'big');
  t.comment(`the refused body after raising codeBytes: ${again.status} ${again.json.error?.code ?? ''}`);
  t.equal(again.status, 422, 'the body refused before stays refused after the PATCH');
  await createDylib(client, coder, 'fresh');
  await addModule(client, coder, 'fresh', module);
  t.equal(await invokeI32(client, coder, 'fresh', 'big'), 200, 'the same body in a new module compiles under the raised limit');
});

const MEMORY = wat2wasm(`(module
  (memory (export "mem") 2)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "spin") (loop (br 0))))`);

t.test('memoryPages: at add and at memory.grow; a PATCH takes effect when the executor next starts', async (t) => {
  const { client } = await startAuthServer(t);
  await createTenant(client, 'pages', { memoryPages: 3 });
  await createTenant(client, 'lots');
  const pages = adminIn('pages');
  await createDylib(client, pages, 'main');
  await createDylib(client, adminIn('lots'), 'main');
  const fourPages = wat2wasm('(module (memory (export "big") 4))');
  const refusal = await refused(
    t,
    client,
    'pages',
    () => client.send(pages, 'POST', '/dylibs/main/modules', { json: { wasm: Buffer.from(fourPages).toString('base64') } }),
    'sessionMemoryPages',
    'a memory of 4 pages at a 3-page limit',
  );
  t.match(refusal?.message, /3-page limit/);
  await addModule(client, adminIn('lots'), 'main', fourPages);

  await addModule(client, pages, 'main', MEMORY);
  t.equal(await invokeI32(client, pages, 'main', 'grow', [2]), -1, 'memory.grow past the limit: -1');
  t.equal(await invokeI32(client, pages, 'main', 'grow', [1]), 2, 'memory.grow within it: the old size');
  t.equal(await invokeI32(client, pages, 'main', 'size'), 3);

  // Raised while the executor runs: its budget is the one it started with.
  const raised = await patch(client, 'pages', { memoryPages: 10 });
  t.equal(raised.effectiveLimits['memoryPages'], 10);
  t.equal(raised.usage.live, true, 'the executor is running');
  t.equal(await invokeI32(client, pages, 'main', 'grow', [1]), -1, 'the running executor still holds the tenant to 3 pages');
  // An executor restart (here: a call stopped at its time limit) starts it with the new budget.
  expectError(t, await invoke(client, pages, 'main', 'spin', [], 300), 422, 'ExecutionTimeout', 'a runaway call');
  t.equal(await invokeI32(client, pages, 'main', 'size'), 2, 'the restarted executor: memory back to its initial size');
  t.equal(await invokeI32(client, pages, 'main', 'grow', [7]), 2, 'and it grows to the new 10-page limit');
  t.equal(await invokeI32(client, pages, 'main', 'grow', [2]), -1, 'but not past it');
});

t.test("callTimeoutMs: the tenant's calls stop at its limit, a request may lower it but not raise it", async (t) => {
  const { client } = await startAuthServer(t);
  await createTenant(client, 'quick', { callTimeoutMs: 300 });
  await createTenant(client, 'patient');
  const quick = adminIn('quick');
  const patient = adminIn('patient');
  for (const as of [quick, patient]) {
    await createDylib(client, as, 'main');
    await addModule(client, as, 'main', SPIN);
  }
  const timedOut = async (as: Credential, timeoutMs: number | undefined, what: string): Promise<unknown> => {
    const res = await invoke(client, as, 'main', 'spin', [], timeoutMs);
    return expectError(t, res, 422, 'ExecutionTimeout', what)?.['timeoutMs'];
  };
  t.equal(await timedOut(quick, undefined, 'no timeoutMs'), 300, "the tenant's limit applies");
  t.equal(await timedOut(quick, 5000, 'timeoutMs 5000'), 300, 'a request cannot raise it');
  t.equal(await timedOut(quick, 150, 'timeoutMs 150'), 150, 'a request may lower it');
  t.equal(await timedOut(patient, 600, 'timeoutMs 600 in a tenant with the defaults'), 600, "the other tenant may ask for more, up to the server's maximum");
  t.equal(await invokeI32(client, quick, 'main', 'bump'), 1, 'the tenant answers after its timeouts');

  const patched = await patch(client, 'quick', { callTimeoutMs: 450 });
  t.equal(patched.effectiveLimits['callTimeoutMs'], 450);
  t.equal(await timedOut(quick, undefined, 'after PATCH 450'), 450, 'a PATCH applies to the next call');
  await patch(client, 'quick', { callTimeoutMs: null });
  t.equal(await timedOut(quick, 700, 'after PATCH null'), 700, "without its own limit, the server's rule: up to MAX_CALL_TIMEOUT_MS on request");
});

t.test('DELETE of a tenant removes its dylibs, modules and keys, and they stay gone after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasmjit-tenants-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbFile = join(dir, 'jit.sqlite');
  const env = { ADMIN_TOKEN, DATABASE_URL: `sqlite:${dbFile}` };
  let server = await startServerProcess(t, { env });
  let client = new Client(server.url);

  for (const name of ['gone', 'stays']) {
    await createTenant(client, name);
    await createDylib(client, adminIn(name), 'main');
    await createDylib(client, adminIn(name), 'lib');
    await addModule(client, adminIn(name), 'main', SPIN);
    await client.send(adminIn(name), 'POST', '/dylibs/lib/reexports', { json: { from: 'main', symbols: ['bump'] } });
  }
  const goneKey = withKey((await createKey(client, 'gone')).key);
  const staysKey = withKey((await createKey(client, 'stays')).key);
  t.equal(await invokeI32(client, goneKey, 'main', 'bump'), 1);
  t.equal(await invokeI32(client, staysKey, 'main', 'bump'), 1);
  t.ok(rowsOf(dbFile, 'gone') > 0, 'the store has rows of the tenant before');

  t.equal((await client.send(ADMIN, 'DELETE', '/tenants/gone')).status, 204, 'deleted');
  const checkGone = async (when: string, bumped: number) => {
    expectError(t, await client.send(goneKey, 'GET', '/dylibs'), 401, 'Unauthorized', `${when}: its key`);
    expectError(t, await client.send(ADMIN, 'GET', '/tenants/gone'), 404, 'TenantNotFound', `${when}: the tenant`);
    expectError(t, await client.send(ADMIN, 'GET', '/tenants/gone/keys'), 404, 'TenantNotFound', `${when}: its keys`);
    expectError(t, await client.send(adminIn('gone'), 'GET', '/dylibs'), 404, 'TenantNotFound', `${when}: its session`);
    const list = await client.send<{ tenants: { name: string }[] }>(ADMIN, 'GET', '/tenants');
    t.same(list.json.tenants.map((x) => x.name), ['stays'], `${when}: only the other tenant is listed`);
    t.equal(await invokeI32(client, staysKey, 'lib', 'bump'), bumped, `${when}: the other tenant's reexport still calls its module`);
  };
  await checkGone('at once', 2);
  t.equal(rowsOf(dbFile, 'gone'), 0, 'the store has no row of the tenant left');
  expectError(t, await client.send(ADMIN, 'DELETE', '/tenants/gone'), 404, 'TenantNotFound', 'deleting it again');

  client.close();
  t.equal((await server.stop()).code, 0);
  server = await startServerProcess(t, { env });
  client = new Client(server.url);
  t.teardown(() => client.close());
  // Runtime state starts again after a restart: the other tenant's counter is back at its start.
  await checkGone('after a restart', 1);
  t.equal(rowsOf(dbFile, 'gone'), 0);

  // The name can be taken again: a new, empty tenant, which the old key does not open.
  await createTenant(client, 'gone');
  const fresh = await client.send<{ dylibs: { name: string }[] }>(adminIn('gone'), 'GET', '/dylibs');
  t.same(fresh.json.dylibs.map((d) => d.name), ['spectest'], 'a tenant made again under the name starts empty');
  expectError(t, await client.send(goneKey, 'GET', '/dylibs'), 401, 'Unauthorized', "the old tenant's key does not open the new one");
});

/** Rows naming `tenant` in every table of the store that has a tenant column. */
function rowsOf(dbFile: string, tenant: string): number {
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    let n = 0;
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    for (const { name } of tables) {
      const columns = db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[];
      const column = name === 'tenants' ? 'name' : columns.some((c) => c.name === 'tenant') ? 'tenant' : undefined;
      if (column === undefined) continue;
      n += (db.prepare(`SELECT count(*) AS n FROM "${name}" WHERE "${column}" = ?`).get(tenant) as { n: number }).n;
    }
    return n;
  } finally {
    db.close();
  }
}
