// API keys on the real server process (API.md "Tenants and keys"): a key is shown once, at
// creation, and listed without it; the store holds only its SHA-256 (the SQLite file is opened
// and searched); no log line at LOG_LEVEL=trace carries a key or the admin token; revocation
// works at the next request; lastUsedAt follows use. Failed authentications from one address
// past AUTH_FAILURES_PER_MINUTE get 429 with Retry-After (other addresses unaffected), and a
// tenant's requestsPerSecond gets 429 with Retry-After without touching another tenant.

import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t from 'tap';
import { wat2wasm } from '../support/wat.ts';
import {
  ADMIN,
  ADMIN_TOKEN,
  addModule,
  type Client,
  createDylib,
  createKey,
  createTenant,
  type ErrorBody,
  expectError,
  invoke,
  type Reply,
  startAuthServer,
  withKey,
} from './support.ts';

const KEY_SHAPE = /^wjk_[A-Za-z0-9_-]{43}$/;

interface KeyListing {
  readonly keys: { id: string; name?: string; scopes: string[]; createdAt: string; lastUsedAt?: string }[];
}

async function listKeys(client: Client, tenant: string): Promise<KeyListing['keys']> {
  const res: Reply<KeyListing> = await client.send(ADMIN, 'GET', `/tenants/${tenant}/keys`);
  if (res.status !== 200) throw new Error(`listing keys: ${res.status} ${res.text}`);
  return res.json.keys;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('keys: shown once, stored as a hash, never logged, revoked at once, lastUsedAt', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wasmjit-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbFile = join(dir, 'jit.sqlite');
  const { server, client } = await startAuthServer(t, { DATABASE_URL: `sqlite:${dbFile}`, LOG_LEVEL: 'trace' });

  await createTenant(client, 'acme');
  const made = await createKey(client, 'acme', undefined, 'ci');
  t.match(made.key, KEY_SHAPE, 'the key: wjk_ and 32 random bytes in base64url');
  t.same(made.scopes, ['read', 'write', 'invoke']);
  t.equal(made.name, 'ci');
  const reader = await createKey(client, 'acme', ['read']);
  t.not(reader.key, made.key, 'every key is new');
  const keys = [made.key, reader.key];

  let listed = await listKeys(client, 'acme');
  t.same(listed.map((k) => k.id).sort(), [made.id, reader.id].sort(), 'both keys are listed');
  for (const k of listed) {
    t.notOk('key' in k, `key ${k.id} is listed without the key itself`);
    t.notOk(JSON.stringify(k).includes('wjk_'), 'nothing in the listing looks like a key');
    t.notOk(k.lastUsedAt, 'not used yet: no lastUsedAt');
  }

  // Use them: successes, refusals and errors all carry the key in the Authorization header.
  const full = withKey(made.key);
  await createDylib(client, full, 'main');
  await addModule(client, full, 'main', wat2wasm('(module (func (export "seven") (result i32) (i32.const 7)))'));
  t.equal((await invoke(client, full, 'main', 'seven')).status, 200);
  t.equal((await invoke(client, full, 'nope', 'seven')).status, 404);
  expectError(t, await client.send(withKey(reader.key), 'POST', '/dylibs', { json: { name: 'x' } }), 403, 'Forbidden', 'a read key writing');
  t.equal((await client.send(withKey(reader.key), 'GET', '/dylibs/main')).status, 200, 'the read key reads');

  listed = await listKeys(client, 'acme');
  const firstUse = listed.find((k) => k.id === made.id)?.lastUsedAt;
  t.ok(firstUse, 'lastUsedAt is set once the key is used');
  const createdAt = listed.find((k) => k.id === made.id)?.createdAt ?? '';
  t.ok(firstUse !== undefined && Date.parse(firstUse) >= Date.parse(createdAt), `lastUsedAt (${firstUse}) is not before createdAt (${createdAt})`);
  await sleep(1100);
  t.equal((await client.send(full, 'GET', '/dylibs')).status, 200);
  const secondUse = (await listKeys(client, 'acme')).find((k) => k.id === made.id)?.lastUsedAt;
  t.ok(secondUse !== undefined && firstUse !== undefined && Date.parse(secondUse) > Date.parse(firstUse), `lastUsedAt moves on with use (${firstUse} -> ${secondUse})`);

  // Revocation takes effect at the very next request.
  t.equal((await client.send(ADMIN, 'DELETE', `/tenants/acme/keys/${reader.id}`)).status, 204, 'revoked');
  const after = await client.send(withKey(reader.key), 'GET', '/dylibs/main');
  expectError(t, after, 401, 'Unauthorized', 'the revoked key, at once');
  t.equal(after.headers['www-authenticate'], 'Bearer');
  t.same((await listKeys(client, 'acme')).map((k) => k.id), [made.id], 'the revoked key is no longer listed');
  expectError(t, await client.send(ADMIN, 'DELETE', `/tenants/acme/keys/${reader.id}`), 404, 'NotFound', 'revoking it again');
  t.equal((await client.send(full, 'GET', '/dylibs/main')).status, 200, 'the other key still works');

  // The store: only hashes, while the server runs...
  {
    const db = new DatabaseSync(dbFile, { readOnly: true });
    try {
      const rows = db.prepare('SELECT id, hash FROM api_keys').all() as { id: string; hash: string }[];
      t.same(rows, [{ id: made.id, hash: sha256(made.key) }], 'api_keys holds the live key as its SHA-256 (the revoked one is gone)');
      const found = searchTables(db, [...keys, ADMIN_TOKEN]);
      t.same(found, [], 'no column of any table holds a key or the admin token');
    } finally {
      db.close();
    }
  }
  // ...and in the files themselves once it stopped (the database, its WAL and anything beside it).
  const exit = await server.stop();
  t.equal(exit.code, 0, 'the server stopped cleanly');
  for (const file of readdirSync(dir)) {
    const bytes = readFileSync(join(dir, file));
    for (const secret of [...keys, ADMIN_TOKEN]) {
      t.equal(bytes.indexOf(secret), -1, `${file} does not contain ${secret === ADMIN_TOKEN ? 'the admin token' : 'a key'}`);
      t.equal(bytes.indexOf(secret.replace(/^wjk_/, '')), -1, `${file} does not contain a key's random part`);
    }
  }

  // The log, at trace level: it saw every request, and none of the secrets.
  const requestLines = server.logs.filter((l) => l['req'] !== undefined);
  t.ok(requestLines.length >= 10, `the trace log has the requests (${requestLines.length} lines with req)`);
  const everything = [...server.logs.map((l) => JSON.stringify(l)), ...server.otherOutput, server.stderr].join('\n');
  for (const secret of [...keys, ADMIN_TOKEN]) {
    t.notOk(everything.includes(secret), `the log holds no ${secret === ADMIN_TOKEN ? 'admin token' : 'key'}`);
    t.notOk(everything.includes(secret.slice(4, 24)), 'nor a piece of it');
  }
  t.notOk(/bearer\s+\S/i.test(everything), 'no Authorization value anywhere in the log');
});

/** Every (table, column) whose text or blob contains one of `needles`. */
function searchTables(db: DatabaseSync, needles: readonly string[]): string[] {
  const found: string[] = [];
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
  for (const { name } of tables) {
    const rows = db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[];
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        const text = typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : '';
        for (const n of needles) if (text.includes(n)) found.push(`${name}.${column}`);
      }
    }
  }
  return found;
}

t.test('failed authentications from one address past AUTH_FAILURES_PER_MINUTE: 429 with Retry-After', async (t) => {
  const { client } = await startAuthServer(t, { AUTH_FAILURES_PER_MINUTE: '3' });
  await createTenant(client, 'acme');
  const good = withKey((await createKey(client, 'acme')).key);
  const bad = withKey(`wjk_${'A'.repeat(43)}`);
  const attacker = { localAddress: '127.0.0.2' };
  const bystander = { localAddress: '127.0.0.3' };

  for (let i = 1; i <= 3; i++) expectError(t, await client.send(bad, 'GET', '/dylibs', attacker), 401, 'Unauthorized', `wrong key ${i} of 3`);
  expectError(t, await client.send({ kind: 'none' }, 'GET', '/dylibs', attacker), 429, 'TooManyRequests', 'no key at all, past the limit');
  const blocked = await client.send(bad, 'GET', '/dylibs', attacker);
  expectError(t, blocked, 429, 'TooManyRequests', 'a 4th wrong key');
  const retryAfter = Number(blocked.headers['retry-after']);
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After is whole seconds within the minute (${blocked.headers['retry-after']})`);
  // Guessing must stop for the address, so even a valid key from it waits.
  expectError(t, await client.send(good, 'GET', '/dylibs', attacker), 429, 'TooManyRequests', 'a valid key from the blocked address');
  expectError(t, await client.send(ADMIN, 'GET', '/tenants', attacker), 429, 'TooManyRequests', 'the admin token from the blocked address');
  t.equal((await client.send(bad, 'GET', '/health', attacker)).status, 200, '/health still answers the blocked address');

  // Another address is not affected.
  t.equal((await client.send(good, 'GET', '/dylibs', bystander)).status, 200, 'a valid key from another address');
  expectError(t, await client.send(bad, 'GET', '/dylibs', bystander), 401, 'Unauthorized', 'a wrong key from another address is counted for it alone');
  // A refusal for a missing scope is not a failed authentication.
  const reader = withKey((await createKey(client, 'acme', ['read'])).key);
  for (let i = 0; i < 4; i++) expectError(t, await client.send(reader, 'POST', '/dylibs', { json: { name: `d${i}` }, localAddress: '127.0.0.4' }), 403, 'Forbidden');
  t.equal((await client.send(reader, 'GET', '/dylibs', { localAddress: '127.0.0.4' })).status, 200, '403s do not count as failed authentications');
});

t.test("a tenant's requestsPerSecond: 429 with Retry-After for it, another tenant unaffected", async (t) => {
  const { client } = await startAuthServer(t);
  await createTenant(client, 'slow', { requestsPerSecond: 5 });
  await createTenant(client, 'free');
  const slow = withKey((await createKey(client, 'slow')).key);
  const free = withKey((await createKey(client, 'free')).key);
  await createDylib(client, slow, 'main');
  await createDylib(client, free, 'main');

  // Both burst at once: 30 requests each, all in flight together.
  const burst = (as: typeof slow) => Promise.all(Array.from({ length: 30 }, () => client.send(as, 'GET', '/dylibs/main')));
  const [slowReplies, freeReplies] = await Promise.all([burst(slow), burst(free)]);
  const statuses = (rs: Reply[]) => rs.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
  t.comment(`slow: ${JSON.stringify(statuses(slowReplies))}, free: ${JSON.stringify(statuses(freeReplies))}`);
  t.same(statuses(freeReplies), { 200: 30 }, 'the other tenant: every request answered');
  const limited = slowReplies.filter((r) => r.status === 429);
  const served = slowReplies.filter((r) => r.status === 200);
  t.ok(served.length >= 1 && served.length <= 10, `the limited tenant: at most its rate in each second the burst spanned (${served.length} served)`);
  t.equal(limited.length + served.length, 30, 'the rest: 429');
  const first = limited[0];
  if (first) {
    expectError(t, first, 429, 'TooManyRequests');
    t.match((first.json as ErrorBody).error.message, /5 requests per second/);
    const retryAfter = Number(first.headers['retry-after']);
    t.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${first.headers['retry-after']}`);
    await sleep(retryAfter * 1000);
    t.equal((await client.send(slow, 'GET', '/dylibs/main')).status, 200, 'served again after Retry-After');
  }

  // The admin token acting in the tenant counts against the tenant's rate too.
  const asAdmin = await Promise.all(Array.from({ length: 15 }, () => client.send({ kind: 'bearer', token: ADMIN_TOKEN, xTenant: 'slow' }, 'GET', '/dylibs')));
  t.ok(asAdmin.some((r) => r.status === 429), 'the admin token with X-Tenant: slow shares the tenant\'s rate');
  t.ok(
    (await Promise.all(Array.from({ length: 15 }, () => client.send(ADMIN, 'GET', '/tenants')))).every((r) => r.status === 200),
    'the admin routes have no rate limit',
  );

  // A PATCH changes the rate at once.
  await sleep(1100);
  const patched = await client.send(ADMIN, 'PATCH', '/tenants/slow', { json: { limits: { requestsPerSecond: null } } });
  t.equal(patched.status, 200);
  t.equal((patched.json as { effectiveLimits: { requestsPerSecond: number } }).effectiveLimits.requestsPerSecond, 0, 'back to the server default: no limit');
  const unlimited = await burst(slow);
  t.same(statuses(unlimited), { 200: 30 }, 'after the PATCH: every request of the burst answered');
});
