// What the real server process does when its store is damaged, too new, or goes away:
// - a corrupt SQLite file (a damaged header, a damaged page) stops the start with a non-zero exit
//   and a message naming the file, and the file is left exactly as it was;
// - a store whose schema a newer version of the service wrote (SQLite and PostgreSQL) refuses to
//   start, saying so, and is not written to;
// - a store whose recovery fails (a module's stored bytes damaged) stops the server with a
//   non-zero exit naming the module;
// - PostgreSQL stopped under a running server: every kind of write answers 503 StoreUnavailable
//   with Retry-After and changes nothing, /health answers 503; PostgreSQL started again: the next
//   write works without restarting the server, and a restart shows exactly the acknowledged writes.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import t, { type Test } from 'tap';
import { startPostgres } from '../support/postgres.ts';
import type { ServerProcess } from '../support/serverProcess.ts';
import { allDylibs, ok, runUntilExit, seg, sqliteStore, startOn, type TestStore } from './support.ts';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A store with something in it: two dylibs, modules (some bytes in blobs), a reexport; stopped gracefully. */
async function populate(t: Test, store: TestStore): Promise<void> {
  const s = await startOn(t, store);
  await define(s);
  await s.stop();
}

async function define(s: ServerProcess): Promise<void> {
  await ok(s.post('/dylibs', { name: 'lib' }), 'create lib');
  await ok(s.post('/dylibs', { name: 'app', linkOrder: ['app', 'lib'] }), 'create app');
  for (let i = 0; i < 8; i++) {
    // Some bulk, so the file has pages beyond the schema's.
    const pad = `(data (i32.const 0) "${'x'.repeat(2000)}${i}")`;
    await ok(s.post('/dylibs/lib/modules', { wat: `(module (memory 1) ${pad} (func (export "f${i}") (result i32) (i32.const ${i})))`, name: `m${i}` }), `module ${i}`);
  }
  await ok(s.post('/dylibs/app/reexports', { from: 'lib', symbols: { g: 'f1' } }), 'reexport');
}

/** Every file in the store's directory with its hash: what "left exactly as it was" compares. */
function directoryState(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, sha(`${dir}/${f}`)]));
}

t.test('a corrupt SQLite file stops the start, names the file, and is left as it was', async (t) => {
  for (const damage of ['header', 'page'] as const) {
    t.test(`a damaged ${damage}`, async (t) => {
      const store = await sqliteStore(t);
      await populate(t, store);
      const bytes = readFileSync(store.file);
      t.ok(bytes.length >= 5 * 4096, `the file has pages to damage (${bytes.length} bytes)`);
      if (damage === 'header') bytes.fill(0x5a, 0, 100);
      // The second page (the first table's root) overwritten with garbage; the header stays valid.
      else bytes.fill(0xa5, 4096, 2 * 4096);
      writeFileSync(store.file, bytes);
      const before = directoryState(store.dir);

      const run = await runUntilExit(store);
      t.not(run.code, 0, `the process exits with a non-zero code (${run.code}, signal ${run.signal})`);
      t.equal(run.signal, null, 'by itself, not killed');
      t.match(run.output, store.file, 'the message names the file');
      t.match(run.output, /corrupt/);
      t.notMatch(run.output, /Server listening/, 'it never served');
      t.same(directoryState(store.dir), before, 'the file (and its directory) are exactly as they were');
    });
  }
});

t.test('a SQLite store from a newer version of the service is refused and not written to', async (t) => {
  const store = await sqliteStore(t);
  await populate(t, store);
  const db = new DatabaseSync(store.file);
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(2, 'from_the_future', new Date().toISOString());
  db.close();
  const before = directoryState(store.dir);

  const run = await runUntilExit(store);
  t.not(run.code, 0, `the process exits with a non-zero code (${run.code})`);
  t.match(run.output, /schema version 2/, 'it says which version it found');
  t.match(run.output, /migrations up to 1/, 'and what it knows');
  t.match(run.output, /newer version of the service/);
  t.match(run.output, store.file);
  t.same(directoryState(store.dir), before, 'the file is exactly as it was');
});

t.test("a store whose recovery fails stops the server with a non-zero exit naming what failed", async (t) => {
  const store = await sqliteStore(t);
  await populate(t, store);
  const db = new DatabaseSync(store.file);
  // One module's stored bytes no longer a wasm binary (version 2 in the header).
  const { hash } = db.prepare("SELECT hash FROM modules WHERE name = 'm3'").get() as { hash: string };
  db.prepare('UPDATE blobs SET bytes = ? WHERE hash = ?').run(Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]), hash);
  db.close();

  const run = await runUntilExit(store);
  t.equal(run.code, 1, `the process exits with code 1, not 0 (a supervisor must see the failure): ${run.code}`);
  t.match(run.output, /recovery from the store failed/);
  t.match(run.output, /Server listening/, 'it had started listening (recovery runs after listen)');
});

t.test('PostgreSQL', async (t) => {
  const cluster = await startPostgres(t);

  t.test('a PostgreSQL store from a newer version of the service is refused and not written to', async (t) => {
    const store = { url: await cluster.createDatabase() };
    await populate(t, store);
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    // One version past the last migration this service knows (whatever that is by now).
    const known = Number((await client.query('SELECT max(version) AS v FROM schema_migrations')).rows[0].v);
    const future = known + 1;
    await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [future, 'from_the_future', new Date().toISOString()]);
    const count = async () => Number((await client.query('SELECT count(*) AS n FROM dylibs')).rows[0].n);
    const dylibsBefore = await count();
    const run = await runUntilExit(store);
    t.not(run.code, 0, `the process exits with a non-zero code (${run.code})`);
    t.match(run.output, new RegExp(`schema version ${future}`));
    t.match(run.output, new RegExp(`migrations up to ${known}`));
    t.same(
      (await client.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version),
      [...Array.from({ length: known }, (_, i) => i + 1), future],
    );
    t.equal(await count(), dylibsBefore);
    await client.end();
  });

  t.test('PostgreSQL stopped under a running server: writes answer 503 and change nothing; started again, the next write works', async (t) => {
    const store = { url: await cluster.createDatabase() };
    const s = await startOn(t, store);
    await define(s);
    const lib = await s.get<{ modules: { id: string }[] }>('/dylibs/lib');
    const someModule = lib.json.modules[0]?.id as string;
    const before = await allDylibs(s);
    // Compiled before the outage, so the invoke below shows the running code is unaffected.
    await ok(s.post('/dylibs/app/invoke', { symbol: 'g', args: [] }), 'invoke before');

    await cluster.stop();
    let restarted = false;
    t.teardown(async () => {
      if (!restarted) await cluster.start();
    });

    const writes: [string, () => Promise<{ status: number; headers: Record<string, unknown>; text: string; json: unknown }>][] = [
      ['create a dylib', () => s.post('/dylibs', { name: 'new' })],
      ['add a lazy module', () => s.post('/dylibs/lib/modules', { wat: '(module (func (export "h") (result i32) (i32.const 9)))' })],
      ['add an eager binary module', () => s.request('POST', '/dylibs/lib/modules?lazy=false', { wasm: Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]) })],
      ['add reexports', () => s.post('/dylibs/app/reexports', { from: 'lib', symbols: { g2: 'f2' } })],
      ['change a link order', () => s.request('PUT', '/dylibs/app/link-order', { json: { linkOrder: ['app'] } })],
      ['remove a module', () => s.request('DELETE', `/dylibs/lib/modules/${seg(someModule)}`)],
      ['remove a dylib', () => s.request('DELETE', '/dylibs/app')],
    ];
    for (const [what, write] of writes) {
      const res = await write();
      t.equal(res.status, 503, `${what}: 503 (${res.text.slice(0, 200)})`);
      t.equal((res.json as { error?: { code?: string } } | undefined)?.error?.code, 'StoreUnavailable', `${what}: StoreUnavailable`);
      t.match(String(res.headers['retry-after'] ?? ''), /^[1-9][0-9]*$/, `${what}: with a Retry-After header`);
      t.same(await allDylibs(s), before, `${what}: the JIT's state is as before`);
    }
    const health = await s.get<{ status: string }>('/health');
    t.equal(health.status, 503, '/health answers 503 while PostgreSQL is down');
    t.match(health.json, { status: 'unavailable' });
    const call = await s.post<{ results?: { value: unknown }[] }>('/dylibs/app/invoke', { symbol: 'g', args: [] });
    t.equal(call.status, 200, `compiled code still runs (${call.text.slice(0, 200)})`);

    await cluster.start();
    restarted = true;
    const next = await s.post('/dylibs', { name: 'after' });
    t.equal(next.status, 201, `the next write after PostgreSQL is back works (${next.text.slice(0, 300)})`);
    const added = await s.post('/dylibs/after/modules', { wat: '(module (func (export "k") (result i32) (i32.const 5)))' });
    t.equal(added.status, 201, 'and the one after');
    t.equal((await s.get('/health')).status, 200, '/health answers 200 again');

    const acknowledged = await allDylibs(s);
    await s.stop();
    const again = await startOn(t, store);
    t.same(await allDylibs(again).then(withoutImplState), withoutImplState(acknowledged), 'a restart holds exactly the acknowledged writes');
    t.equal((await again.post<{ results: { value: number }[] }>('/dylibs/after/invoke', { symbol: 'k', args: [] })).json.results[0]?.value, 5);
  });
});

/** The user dylibs only: implementation dylibs list compiled bodies, which a restart forgets. */
function withoutImplState(all: Map<string, unknown>): Map<string, unknown> {
  return new Map([...all].filter(([name]) => !name.endsWith('.impl')));
}
