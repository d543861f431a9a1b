// One suite of store behaviour, run against all three implementations: SQLite in a temporary
// directory, PostgreSQL in a throwaway cluster (test/support/postgres.ts; the postgres tests
// fail, never skip, when it is not installed) and memory. Then what only a durable store can
// show: migrations, a newer schema refused, a corrupt file refused, StoreUnavailable while the
// database cannot write, and an acknowledged write surviving SIGKILL.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import t, { type Test } from 'tap';
import {
  DylibExists,
  DylibNotFound,
  InvalidDatabaseUrl,
  KeyExists,
  ModuleExists,
  ModuleNotFound,
  StoreClosed,
  StoreCorrupt,
  StoreSchemaTooNew,
  StoreUnavailable,
  TenantExists,
  TenantNotFound,
} from '../../src/store/errors.ts';
import { loadMigrations } from '../../src/store/sql/migrate.ts';
import { openStore, type DefinitionRecord, type KeyRecord, type Store } from '../../src/store/Store.ts';
import { findPostgresBin, startPostgres, type PostgresCluster } from '../support/postgres.ts';


/** Opens a new, empty store of one kind; the test closes it at its end. */
type Fresh = (t: Test, opts?: { codeCacheBytes?: number }) => Promise<Store>;

const now = () => new Date().toISOString();
const bytesOf = (...values: number[]) => new Uint8Array(values);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function withTenants(store: Store, ...names: string[]): Promise<void> {
  for (const name of names) await store.createTenant({ name, limits: {}, createdAt: now() });
}

function key(id: string, tenant: string, extra: Partial<KeyRecord> = {}): KeyRecord {
  return { id, tenant, scopes: ['read', 'write', 'invoke'], hash: sha(bytesOf(...Buffer.from(id))), createdAt: now(), ...extra };
}

function behaviour(t: Test, freshUrl: (t: Test) => Promise<string>): void {
  const fresh: Fresh = async (t, opts = {}) => {
    const store = await openStore(await freshUrl(t), { codeCacheBytes: opts.codeCacheBytes ?? 1 << 20 });
    t.teardown(() => store.close());
    return store;
  };

  t.test('tenants: create, read, list, update limits, delete', async (t) => {
    const store = await fresh(t);
    await store.createTenant({ name: 'b', limits: { dylibs: 3 }, createdAt: '2026-01-02T00:00:00.000Z' });
    await store.createTenant({ name: 'a', limits: {}, createdAt: '2026-01-01T00:00:00.000Z' });
    t.same(await store.getTenant('b'), { name: 'b', limits: { dylibs: 3 }, createdAt: '2026-01-02T00:00:00.000Z' });
    t.equal(await store.getTenant('nobody'), undefined);
    t.same((await store.listTenants()).map((x) => x.name), ['a', 'b']);
    await t.rejects(store.createTenant({ name: 'a', limits: {}, createdAt: now() }), TenantExists);

    const updated = await store.updateTenantLimits('b', { memoryPages: 10, requestsPerSecond: 5 });
    t.same(updated.limits, { memoryPages: 10, requestsPerSecond: 5 }, 'limits are replaced, not merged');
    t.same((await store.getTenant('b'))?.limits, { memoryPages: 10, requestsPerSecond: 5 });
    await t.rejects(store.updateTenantLimits('nobody', {}), TenantNotFound);

    await store.deleteTenant('a');
    t.same((await store.listTenants()).map((x) => x.name), ['b']);
    await t.rejects(store.deleteTenant('a'), TenantNotFound);
  });

  t.test('keys: create, find by hash, list, touch, delete', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'acme', 'other');
    const k1 = key('k1', 'acme', { name: 'ci', scopes: ['read'], createdAt: '2026-01-01T00:00:00.000Z' });
    const k2 = key('k2', 'acme', { createdAt: '2026-01-02T00:00:00.000Z' });
    await store.createKey(k1);
    await store.createKey(k2);
    await store.createKey(key('k3', 'other'));
    await t.rejects(store.createKey(key('k4', 'nobody')), TenantNotFound);
    await t.rejects(store.createKey({ ...key('k5', 'acme'), hash: k1.hash }), KeyExists, 'a hash is unique store-wide');
    await t.rejects(store.createKey({ ...key('k1', 'other') }), KeyExists, 'an id is unique store-wide');

    t.same(await store.findKeyByHash(k1.hash), k1);
    t.equal(await store.findKeyByHash(sha(bytesOf(0))), undefined);
    t.same(await store.listKeys('acme'), [k1, k2], 'by creation time');
    t.same(await store.listKeys('nobody'), []);

    await store.touchKey('k1', '2026-02-01T00:00:00.000Z');
    await store.touchKey('k1', '2026-01-15T00:00:00.000Z');
    t.equal((await store.findKeyByHash(k1.hash))?.lastUsedAt, '2026-02-01T00:00:00.000Z', 'a touch is seen at once; an older one does not win');
    t.equal((await store.listKeys('acme'))[0]?.lastUsedAt, '2026-02-01T00:00:00.000Z');

    t.equal(await store.deleteKey('other', 'k1'), false, 'another tenant cannot delete it');
    t.equal(await store.deleteKey('acme', 'k1'), true);
    t.equal(await store.deleteKey('acme', 'k1'), false);
    t.equal(await store.findKeyByHash(k1.hash), undefined);
    t.same((await store.listKeys('acme')).map((k) => k.id), ['k2']);
  });

  t.test('key uses are written at close and come back', async (t) => {
    const url = await freshUrl(t);
    let store = await openStore(url, { codeCacheBytes: 1000 });
    await withTenants(store, 'acme');
    await store.createKey(key('k1', 'acme'));
    await store.touchKey('k1', '2026-03-01T00:00:00.000Z');
    await store.close();
    if (url === 'memory:') return t.pass('nothing to reopen');
    store = await openStore(url, { codeCacheBytes: 1000 });
    t.teardown(() => store.close());
    t.equal((await store.listKeys('acme'))[0]?.lastUsedAt, '2026-03-01T00:00:00.000Z');
  });

  t.test('deleting a tenant cascades to its keys, dylibs, modules, reexports and unused blobs', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'gone', 'stays');
    await store.createKey(key('kg', 'gone'));
    await store.createKey(key('ks', 'stays'));
    for (const tenant of ['gone', 'stays']) {
      await store.createDylib(tenant, 'main', []);
      await store.addReexports(tenant, { dylib: 'main', from: 'main', aliases: { g: 'f' }, lazy: false, symbols: [] });
    }
    const own = bytesOf(1, 2, 3);
    const shared = bytesOf(9, 9);
    await store.addModule('gone', { id: 'm1', dylib: 'main', lazy: true, optimize: 2, bytes: own, bindings: [] });
    await store.addModule('gone', { id: 'm2', dylib: 'main', lazy: true, optimize: 2, bytes: shared, bindings: [] });
    await store.addModule('stays', { id: 'm1', dylib: 'main', lazy: true, optimize: 2, bytes: shared, bindings: [] });

    await store.deleteTenant('gone');
    t.equal(await store.getTenant('gone'), undefined);
    t.same(await store.listKeys('gone'), []);
    t.same(await store.loadDefinitions('gone'), []);
    t.equal(await store.loadBlob(sha(own)), undefined, "the deleted tenant's own bytes are gone");
    t.same(await store.loadBlob(sha(shared)), shared, 'bytes another tenant uses stay');
    t.same(await store.blobStats(), { entries: 1, bytes: 2 });
    t.equal((await store.loadDefinitions('stays')).length, 3, "the other tenant's definitions stay");
    t.ok(await store.findKeyByHash(key('ks', 'stays').hash));
    // The name is free again, with nothing of the old tenant in it.
    await withTenants(store, 'gone');
    t.same(await store.loadDefinitions('gone'), []);
  });

  t.test('definitions come back whole, in seq order', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'a', 'b');
    const seqs: number[] = [];
    seqs.push(await store.createDylib('a', 'main', ['main', 'lib']));
    seqs.push(await store.createDylib('b', 'main', []));
    seqs.push(await store.createDylib('a', 'lib', []));
    const bytes = bytesOf(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0);
    const bindings = [{ module: 'env', name: 'f', dylib: 'lib', symbol: 'f' }];
    seqs.push(await store.addModule('a', { id: 'm1', dylib: 'lib', name: 'libm', lazy: false, optimize: 3, bytes, bindings }));
    seqs.push(await store.addModule('a', { id: 'm2', dylib: 'main', lazy: true, optimize: 0, bytes, bindings: [] }));
    const symbols = [
      { name: 'g', kind: 'function', flags: ['Exported', 'Callable'], type: { params: ['i32'], results: ['i64'] } },
      { name: 'mem', kind: 'memory', flags: ['Exported'] },
    ];
    seqs.push(await store.addReexports('a', { dylib: 'main', from: 'lib', aliases: { g: 'f', mem: 'memory' }, lazy: true, symbols }));
    for (let i = 1; i < seqs.length; i++) t.ok((seqs[i] as number) > (seqs[i - 1] as number), 'seq strictly increases store-wide');
    const [dMain, , dLib, m1, m2, r] = seqs as [number, number, number, number, number, number];

    const expected: DefinitionRecord[] = [
      { kind: 'dylib', seq: dMain, name: 'main', linkOrder: ['main', 'lib'], removed: false },
      { kind: 'dylib', seq: dLib, name: 'lib', linkOrder: [], removed: false },
      { kind: 'module', seq: m1, id: 'm1', dylib: 'lib', dylibSeq: dLib, name: 'libm', lazy: false, optimize: 3, hash: sha(bytes), bindings, removed: false },
      { kind: 'module', seq: m2, id: 'm2', dylib: 'main', dylibSeq: dMain, lazy: true, optimize: 0, hash: sha(bytes), bindings: [], removed: false },
      { kind: 'reexports', seq: r, dylib: 'main', dylibSeq: dMain, from: 'lib', aliases: { g: 'f', mem: 'memory' }, lazy: true, symbols, removed: false },
    ];
    t.same(await store.loadDefinitions('a'), expected);
    t.strictSame(await store.loadBlob(sha(bytes)), bytes);
    t.equal((await store.loadDefinitions('b')).length, 1);

    await t.rejects(store.createDylib('a', 'main', []), DylibExists);
    await t.rejects(store.createDylib('nobody', 'main', []), TenantNotFound);
    await t.rejects(store.addModule('a', { id: 'm3', dylib: 'nope', lazy: true, optimize: 2, bytes, bindings: [] }), DylibNotFound);
    await t.rejects(store.addModule('a', { id: 'm1', dylib: 'main', lazy: true, optimize: 2, bytes: bytesOf(7), bindings: [] }), ModuleExists);
    await t.rejects(store.addReexports('a', { dylib: 'nope', from: 'lib', aliases: {}, lazy: false, symbols: [] }), DylibNotFound);
    t.same(await store.loadDefinitions('a'), expected, 'refused writes changed nothing');
    t.equal(await store.loadBlob(sha(bytesOf(7))), undefined, 'a refused module left no bytes');
  });

  t.test('link orders change together or not at all', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'a');
    await store.createDylib('a', 'main', []);
    await store.createDylib('a', 'main.impl', []);
    await store.setLinkOrders('a', [
      { name: 'main', linkOrder: ['main', 'libc'] },
      { name: 'main.impl', linkOrder: ['main.impl', 'libc'] },
    ]);
    const orders = async () =>
      Object.fromEntries((await store.loadDefinitions('a')).flatMap((d) => (d.kind === 'dylib' ? [[d.name, d.linkOrder]] : [])));
    t.same(await orders(), { main: ['main', 'libc'], 'main.impl': ['main.impl', 'libc'] });
    await t.rejects(
      store.setLinkOrders('a', [
        { name: 'main', linkOrder: ['x'] },
        { name: 'missing', linkOrder: [] },
      ]),
      DylibNotFound,
    );
    t.same(await orders(), { main: ['main', 'libc'], 'main.impl': ['main.impl', 'libc'] }, 'the first change was rolled back');
    await t.rejects(store.setLinkOrders('nobody', [{ name: 'main', linkOrder: [] }]), TenantNotFound);
  });

  t.test('removing a dylib, kept or not', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'a');
    const mem = bytesOf(1);
    const user = bytesOf(2);
    const d1 = await store.createDylib('a', 'memlib', []);
    const m1 = await store.addModule('a', { id: 'm1', dylib: 'memlib', lazy: false, optimize: 2, bytes: mem, bindings: [] });
    const r1 = await store.addReexports('a', { dylib: 'memlib', from: 'memlib', aliases: { x: 'y' }, lazy: false, symbols: [] });
    const d2 = await store.createDylib('a', 'app', ['app', 'memlib']);
    const m2 = await store.addModule('a', { id: 'm2', dylib: 'app', lazy: true, optimize: 2, bytes: user, bindings: [] });

    // Kept: app's module imported memlib's memory, so recovery must still build memlib first.
    await store.removeDylib('a', 'memlib', { keep: true });
    const after = await store.loadDefinitions('a');
    const removal = after.find((d) => d.kind === 'dylib' && d.seq === d1);
    t.ok(removal?.removed, 'the dylib is marked removed');
    const removedSeq = removal?.removedSeq ?? 0;
    t.ok(removedSeq > m2, 'at a seq after everything before it');
    t.same(
      after.map((d) => [d.seq, d.removed, d.removedSeq]),
      [
        [d1, true, removedSeq],
        [m1, true, removedSeq],
        [r1, true, removedSeq],
        [d2, false, undefined],
        [m2, false, undefined],
      ],
      'its module and reexports count as removed with it',
    );
    t.same(await store.loadBlob(sha(mem)), mem, 'its bytes are kept');
    await t.rejects(store.removeDylib('a', 'memlib', { keep: false }), DylibNotFound, 'a removed dylib is not live');
    await t.rejects(store.removeModule('a', 'm1', { keep: false }), ModuleNotFound, 'nor are its modules');
    await t.rejects(store.addModule('a', { id: 'm3', dylib: 'memlib', lazy: true, optimize: 2, bytes: mem, bindings: [] }), DylibNotFound);

    // The name can be taken again; the new dylib is a different record.
    const d3 = await store.createDylib('a', 'memlib', []);
    const defs = await store.loadDefinitions('a');
    t.same(
      defs.filter((d) => d.kind === 'dylib' && d.name === 'memlib').map((d) => [d.seq, d.removed]),
      [
        [d1, true],
        [d3, false],
      ],
    );

    // Not kept: the records and bytes only they used are gone.
    await store.removeDylib('a', 'app', { keep: false });
    t.same(
      (await store.loadDefinitions('a')).map((d) => d.seq),
      [d1, m1, r1, d3],
    );
    t.equal(await store.loadBlob(sha(user)), undefined);
    await t.rejects(store.removeDylib('a', 'app', { keep: false }), DylibNotFound);
    await t.rejects(store.removeDylib('nobody', 'app', { keep: false }), TenantNotFound);
  });

  t.test('removing a module, kept or not', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'a');
    await store.createDylib('a', 'main', []);
    const kept = bytesOf(3);
    const dropped = bytesOf(4);
    const m1 = await store.addModule('a', { id: 'm1', dylib: 'main', lazy: true, optimize: 2, bytes: kept, bindings: [] });
    const m2 = await store.addModule('a', { id: 'm2', dylib: 'main', lazy: true, optimize: 2, bytes: dropped, bindings: [] });
    await store.removeModule('a', 'm1', { keep: true });
    await store.removeModule('a', 'm2', { keep: false });
    const defs = await store.loadDefinitions('a');
    const m = defs.find((d) => d.seq === m1);
    t.ok(m?.removed && (m.removedSeq ?? 0) > m2, 'kept: marked removed at a later seq');
    t.notOk(defs.some((d) => d.seq === m2), 'not kept: gone');
    t.same(await store.loadBlob(sha(kept)), kept);
    t.equal(await store.loadBlob(sha(dropped)), undefined);
    await t.rejects(store.removeModule('a', 'm1', { keep: true }), ModuleNotFound, 'a removed module is not live');
    await t.rejects(store.removeModule('a', 'm2', { keep: false }), ModuleNotFound);
    await t.rejects(
      store.addModule('a', { id: 'm1', dylib: 'main', lazy: true, optimize: 2, bytes: kept, bindings: [] }),
      ModuleExists,
      'a kept record still holds its id',
    );
    await store.addModule('a', { id: 'm2', dylib: 'main', lazy: true, optimize: 2, bytes: dropped, bindings: [] });
    t.pass('a deleted record frees its id');
  });

  t.test('purge drops kept-removed records only', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'a', 'b');
    const d1 = await store.createDylib('a', 'lib', []);
    await store.addModule('a', { id: 'm1', dylib: 'lib', lazy: true, optimize: 2, bytes: bytesOf(1), bindings: [] });
    const d2 = await store.createDylib('a', 'main', []);
    await store.addModule('a', { id: 'm2', dylib: 'main', lazy: true, optimize: 2, bytes: bytesOf(2), bindings: [] });
    const m3 = await store.addModule('a', { id: 'm3', dylib: 'main', lazy: true, optimize: 2, bytes: bytesOf(3), bindings: [] });
    await store.removeDylib('a', 'lib', { keep: true });
    await store.removeModule('a', 'm2', { keep: true });
    const bd = await store.createDylib('b', 'lib', []);
    await store.removeDylib('b', 'lib', { keep: true });

    // Live records (main, m3) and another tenant's are left alone.
    await store.purge('a', { modules: ['m3', 'm2'], dylibSeqs: [d2, bd] });
    t.same(
      (await store.loadDefinitions('a')).map((d) => (d.kind === 'module' ? d.id : d.kind === 'dylib' ? d.name : d.kind)),
      ['lib', 'm1', 'main', 'm3'],
    );
    t.equal(await store.loadBlob(sha(bytesOf(2))), undefined);
    t.equal((await store.loadDefinitions('b')).length, 1);

    await store.purge('a', { dylibSeqs: [d1] });
    t.same(
      (await store.loadDefinitions('a')).map((d) => d.seq),
      [d2, m3],
    );
    t.equal(await store.loadBlob(sha(bytesOf(1))), undefined, "a purged dylib's module bytes are gone");
    t.same(await store.blobStats(), { entries: 1, bytes: 1 });
    await store.purge('a', {});
    await t.rejects(store.purge('nobody', { modules: ['m1'] }), TenantNotFound);
  });

  t.test('module bytes are stored once and dropped with their last user', async (t) => {
    const store = await fresh(t);
    await withTenants(store, 'a', 'b');
    await store.createDylib('a', 'main', []);
    await store.createDylib('b', 'main', []);
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
    for (const [tenant, id] of [
      ['a', 'm1'],
      ['a', 'm2'],
      ['b', 'm1'],
    ] as const) {
      await store.addModule(tenant, { id, dylib: 'main', lazy: true, optimize: 2, bytes: big, bindings: [] });
    }
    t.same(await store.blobStats(), { entries: 1, bytes: big.byteLength }, 'three modules, one blob');
    t.ok(Buffer.from((await store.loadBlob(sha(big))) ?? []).equals(Buffer.from(big)), 'the bytes round-trip');
    await store.removeModule('a', 'm1', { keep: false });
    await store.removeDylib('a', 'main', { keep: false });
    t.same(await store.blobStats(), { entries: 1, bytes: big.byteLength }, 'still used by tenant b');
    await store.removeModule('b', 'm1', { keep: false });
    t.same(await store.blobStats(), { entries: 0, bytes: 0 });
    t.equal(await store.loadBlob(sha(big)), undefined);
  });

  t.test('the code cache keeps the most recently used entries within its byte bound', async (t) => {
    const store = await fresh(t, { codeCacheBytes: 100 });
    const piece = (n: number, size = 40) => new Uint8Array(size).fill(n);
    await store.putCode('a', piece(1));
    await store.putCode('b', piece(2));
    t.same(await store.codeCacheStats(), { entries: 2, bytes: 80 });
    t.same(await store.getCode('a'), piece(1), 'a get is a use: a is now more recent than b');
    await store.putCode('c', piece(3));
    t.equal(await store.getCode('b'), undefined, 'b, least recently used, was evicted');
    t.same(await store.getCode('a'), piece(1));
    t.same(await store.getCode('c'), piece(3));
    t.same(await store.codeCacheStats(), { entries: 2, bytes: 80 });

    await store.putCode('a', piece(4, 10));
    t.same(await store.getCode('a'), piece(4, 10), 'a put replaces the entry');
    t.same(await store.codeCacheStats(), { entries: 2, bytes: 50 });
    await store.putCode('d', piece(5, 60));
    t.same(await store.codeCacheStats(), { entries: 2, bytes: 70 }, 'c (older than a) made room for d');
    t.equal(await store.getCode('c'), undefined);

    await store.putCode('huge', piece(6, 101));
    t.equal(await store.getCode('huge'), undefined, 'an entry larger than the bound is not stored');
    t.same(await store.codeCacheStats(), { entries: 2, bytes: 70 }, 'and evicts nothing');
    await store.putCode('e', piece(7, 100));
    t.same(await store.codeCacheStats(), { entries: 1, bytes: 100 }, 'an entry as large as the bound evicts all others');
  });

  t.test('concurrent writes on shared bytes and the cache settle consistently', async (t) => {
    const store = await fresh(t, { codeCacheBytes: 1000 });
    const tenants = ['a', 'b', 'c', 'd'];
    await withTenants(store, ...tenants);
    for (const tenant of tenants) await store.createDylib(tenant, 'main', []);
    const shared = bytesOf(42, 42, 42);
    // Every tenant adds two modules with the same bytes, and removes the first again, all at once;
    // meanwhile the code cache takes more than its bound from several writers.
    const work: Promise<unknown>[] = [];
    for (const tenant of tenants) {
      work.push(
        (async () => {
          await store.addModule(tenant, { id: 'm1', dylib: 'main', lazy: true, optimize: 2, bytes: shared, bindings: [] });
          await store.removeModule(tenant, 'm1', { keep: false });
        })(),
        store.addModule(tenant, { id: 'm2', dylib: 'main', lazy: true, optimize: 2, bytes: shared, bindings: [] }),
      );
    }
    for (let i = 0; i < 30; i++) work.push(store.putCode(`piece-${i % 12}`, new Uint8Array(100).fill(i)));
    const results = await Promise.allSettled(work);
    t.same(
      results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      [],
      'no write failed',
    );
    t.same(await store.blobStats(), { entries: 1, bytes: 3 }, 'the shared bytes are there once');
    for (const tenant of tenants) {
      t.same(
        (await store.loadDefinitions(tenant)).map((d) => (d.kind === 'module' ? d.id : d.kind)),
        ['dylib', 'm2'],
      );
    }
    const stats = await store.codeCacheStats();
    t.ok(stats.bytes <= 1000, 'the cache is within its bound');
    let present = 0;
    for (let i = 0; i < 12; i++) if (await store.getCode(`piece-${i}`)) present++;
    t.same(stats, { entries: present, bytes: present * 100 }, 'and its totals match what it holds');
  });

  t.test('a closed store refuses calls', async (t) => {
    const store = await fresh(t);
    await store.close();
    await t.rejects(store.listTenants(), StoreClosed);
    await t.rejects(store.createTenant({ name: 'x', limits: {}, createdAt: now() }), StoreClosed);
    await store.close();
  });
}

// ---- the three implementations

t.test('memory', async (t) => {
  behaviour(t, async () => 'memory:');
  t.test('is kind memory and keeps nothing', async (t) => {
    const store = await openStore('memory:', { codeCacheBytes: 10 });
    t.equal(store.kind, 'memory');
    await withTenants(store, 'a');
    await store.close();
    const again = await openStore('memory:', { codeCacheBytes: 10 });
    t.same(await again.listTenants(), []);
    await again.close();
  });
});

t.test('sqlite', async (t) => {
  const dir = t.testdir();
  let n = 0;
  const url = async () => `sqlite:${join(dir, `store-${++n}.sqlite`)}`;
  t.test('behaviour', async (t) => behaviour(t, url));
  t.test('migrations', async (t) => migrations(t, url, sqliteSql));
  t.test('durability and failures', async (t) => sqliteOnly(t, dir));
});

t.test('postgres', async (t) => {
  const cluster = await startPostgres(t);
  t.test('behaviour', async (t) => behaviour(t, () => cluster.createDatabase()));
  t.test('migrations', async (t) => migrations(t, () => cluster.createDatabase(), postgresSql));
  t.test('StoreUnavailable while the server is down; the same store works once it is back', async (t) =>
    postgresOutage(t, cluster),
  );
});

t.test('DATABASE_URL names one of the three stores', async (t) => {
  await t.rejects(openStore('mysql://root:hunter2@db/jit', { codeCacheBytes: 10 }), InvalidDatabaseUrl);
  const err = await openStore('mysql://root:hunter2@db/jit', { codeCacheBytes: 10 }).catch((e: unknown) => e);
  t.notMatch((err as Error).message, 'hunter2', 'the message does not show the password');
  t.match((err as Error).message, 'mysql://root:***@db/jit');
  await t.rejects(openStore('sqlite:', { codeCacheBytes: 10 }), InvalidDatabaseUrl);
  await t.rejects(openStore('memory:', { codeCacheBytes: -1 }), RangeError);
});

t.test('without PostgreSQL installed, the helper fails saying what to install', async (t) => {
  const empty = t.testdir();
  t.throws(() => findPostgresBin(empty), { message: /apt-get install -y postgresql/ });
  t.throws(() => findPostgresBin(join(empty, 'absent')), { message: /PostgreSQL is not installed/ });
});

// ---- migrations (durable stores)

/** Runs SQL on the database a URL names, outside the store. */
type RawSql = (url: string, sql: string) => Promise<Record<string, unknown>[]>;

const sqliteSql: RawSql = async (url, sql) => {
  const db = new DatabaseSync(url.slice('sqlite:'.length));
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
};

const postgresSql: RawSql = async (url, sql) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
};

async function migrations(t: Test, fresh: (t: Test) => Promise<string>, sql: RawSql): Promise<void> {
  const dialect = (await fresh(t)).startsWith('sqlite:') ? 'sqlite' : 'postgres';
  const known = loadMigrations(dialect);

  t.test('an empty database gets every migration, once', async (t) => {
    const url = await fresh(t);
    const store = await openStore(url, { codeCacheBytes: 10 });
    await store.close();
    const applied = await sql(url, 'SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
    t.same(
      applied.map((r) => [Number(r['version']), r['name']]),
      known.map((m) => [m.version, m.name]),
    );
    const again = await openStore(url, { codeCacheBytes: 10 });
    await again.close();
    t.same(await sql(url, 'SELECT version, name, applied_at FROM schema_migrations ORDER BY version'), applied, 'a second open applies nothing');
  });

  t.test('a schema newer than the code is refused and left alone', async (t) => {
    const url = await fresh(t);
    const store = await openStore(url, { codeCacheBytes: 10 });
    await withTenants(store, 'kept');
    await store.close();
    const future = known.length + 1;
    await sql(url, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${future}, 'from_the_future', 'x')`);
    const err = await openStore(url, { codeCacheBytes: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, StoreSchemaTooNew);
    t.match((err as Error).message, `schema version ${future}`);
    t.match((err as Error).message, `up to ${known.length}`);
    t.same((await sql(url, 'SELECT name FROM tenants')).map((r) => r['name']), ['kept']);
    t.equal((await sql(url, 'SELECT version FROM schema_migrations')).length, known.length + 1);
  });
}

// ---- SQLite only

async function sqliteOnly(t: Test, dir: string): Promise<void> {
  t.test('a file that is not a database is refused with its path, and not replaced', async (t) => {
    const path = join(dir, 'garbage.sqlite');
    const garbage = Buffer.from('this is not a SQLite database, just some bytes. '.repeat(200));
    writeFileSync(path, garbage);
    const err = await openStore(`sqlite:${path}`, { codeCacheBytes: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, StoreCorrupt);
    t.match((err as Error).message, path);
    t.ok(readFileSync(path).equals(garbage), 'the file is untouched');
  });

  t.test('a database with a damaged page is refused with its path', async (t) => {
    const path = join(dir, 'damaged.sqlite');
    const store = await openStore(`sqlite:${path}`, { codeCacheBytes: 10 });
    await withTenants(store, ...Array.from({ length: 300 }, (_, i) => `tenant-${i}`));
    await store.close();
    const file = readFileSync(path);
    const pageSize = file.readUInt16BE(16);
    const pages = file.length / pageSize;
    t.ok(pages > 4, 'the file has pages past the schema');
    // Scribble over every page but the first (the header and schema): the tables' b-trees.
    for (let p = 1; p < pages; p++) file.fill(0xa5, p * pageSize + 8, p * pageSize + 64);
    writeFileSync(path, file);
    const err = await openStore(`sqlite:${path}`, { codeCacheBytes: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, StoreCorrupt);
    t.match((err as Error).message, path);
  });

  t.test('the directory is created on first open', async (t) => {
    const path = join(dir, 'new', 'nested', 'jit.sqlite');
    const store = await openStore(`sqlite:${path}`, { codeCacheBytes: 10 });
    t.equal(store.kind, 'sqlite');
    await withTenants(store, 'a');
    await store.close();
    const again = await openStore(`sqlite:${path}`, { codeCacheBytes: 10 });
    t.same((await again.listTenants()).map((x) => x.name), ['a']);
    await again.close();
  });

  t.test('a write the database cannot take is StoreUnavailable and leaves nothing behind', async (t) => {
    const path = join(dir, 'locked.sqlite');
    const store = await openStore(`sqlite:${path}`, { codeCacheBytes: 10, busyTimeoutMs: 200 });
    t.teardown(() => store.close());
    await withTenants(store, 'a');
    // Another process (a backup, the sqlite3 shell) holding the write lock.
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    const err = await store.createDylib('a', 'main', []).then(
      () => undefined,
      (e: unknown) => e,
    );
    other.exec('ROLLBACK');
    other.close();
    t.type(err, StoreUnavailable);
    t.ok((err as StoreUnavailable).retryAfterSeconds > 0, 'with a Retry-After');
    t.match((err as Error).message, path);
    t.same(await store.loadDefinitions('a'), []);
    const seq = await store.createDylib('a', 'main', []);
    t.same(
      (await store.loadDefinitions('a')).map((d) => d.seq),
      [seq],
      'the next write works',
    );
  });

  t.test('an acknowledged write survives SIGKILL', async (t) => {
    const path = join(dir, 'durable.sqlite');
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'writeThenHang.ts'), `sqlite:${path}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const acked = await new Promise<{ dylib: number; module: number; hash: string }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve(JSON.parse(line));
      });
      child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before acknowledging`)));
    });
    child.kill('SIGKILL');
    t.equal(await exited, 'SIGKILL');

    const store = await openStore(`sqlite:${path}`, { codeCacheBytes: 10 });
    t.teardown(() => store.close());
    const defs = await store.loadDefinitions('durable');
    t.same(
      defs.map((d) => [d.kind, d.seq]),
      [
        ['dylib', acked.dylib],
        ['module', acked.module],
      ],
    );
    t.ok(await store.loadBlob(acked.hash), "the module's bytes are there");
  });
}

// ---- PostgreSQL only

async function postgresOutage(t: Test, cluster: PostgresCluster): Promise<void> {
  const warnings: string[] = [];
  const store = await openStore(await cluster.createDatabase(), {
    codeCacheBytes: 10,
    onWarning: (message) => warnings.push(message),
  });
  t.teardown(() => store.close());
  await withTenants(store, 'a');
  const before = await store.createDylib('a', 'main', []);

  await cluster.stop();
  let err: unknown;
  try {
    await store.createDylib('a', 'lib', []);
  } catch (e) {
    err = e;
  } finally {
    await cluster.start();
  }
  t.type(err, StoreUnavailable);
  t.ok((err as StoreUnavailable).retryAfterSeconds > 0);

  const after = await store.createDylib('a', 'lib', []);
  t.ok(after > before);
  t.same(
    (await store.loadDefinitions('a')).map((d) => (d.kind === 'dylib' ? d.name : d.kind)),
    ['main', 'lib'],
    'the failed write left nothing; the next one is there',
  );
}
