// Recovery at start, watched from outside on a store big enough to take a while (1,000 dylibs of
// one 20-function module each and one 20,000-function module, built through the Store
// interface): /health answers 503 "recovering" with counts that grow, the other routes answer
// 503 StoreUnavailable with Retry-After meanwhile, the log says when recovery starts, shows its
// progress and its end with the counts, and afterwards every dylib is there and works. Nothing
// here asserts how long it takes.

import t from 'tap';
import { buildBigStore } from '../../bench/storeBuilder.ts';
import { startServerProcess } from '../support/serverProcess.ts';
import { ok, sqliteStore, waitHealthy } from './support.ts';

interface Recovering {
  status: string;
  recovery?: { tenantsDone: number; tenants: number; current?: string; definitions: { dylibs: number; modules: number; reexports: number } };
}

t.test('/health and the log show recovery while it runs', async (t) => {
  const store = await sqliteStore(t);
  const expect = await buildBigStore(store.url, { dylibs: 1000, functions: 20, bigFunctions: 20_000 });
  const total = expect.definitions.dylibs + expect.definitions.modules;

  const s = await startServerProcess(t, { env: { DATABASE_URL: store.url } });
  const seen: Recovering[] = [];
  const statuses = new Set<number>();
  let refused: { status: number; code?: string; retryAfter?: string } | undefined;
  for (let i = 0; i < 3000; i++) {
    const h = await s.get<Recovering>('/health');
    if (h.status === 200) break;
    statuses.add(h.status);
    seen.push(h.json);
    if (refused === undefined) {
      const other = await s.get<{ error?: { code?: string } }>('/dylibs');
      if (other.status !== 200) refused = { status: other.status, code: other.json?.error?.code, retryAfter: String(other.headers['retry-after']) };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitHealthy(s, 60_000);

  t.ok(seen.length > 0, `/health was seen recovering (${seen.length} times)`);
  t.same([...statuses], [503], 'until recovery was done /health answered 503');
  t.ok(seen.every((h) => h.status === 'recovering'), 'with status "recovering"');
  const counts = seen.map((h) => (h.recovery ? h.recovery.definitions.dylibs + h.recovery.definitions.modules : -1));
  t.ok(counts.every((c) => c >= 0), 'each with its counts');
  t.ok(counts.some((c) => c > 0 && c < total), `counts part-way through were seen (${[...new Set(counts)].join(', ')} of ${total})`);
  t.same(counts, [...counts].sort((a, b) => a - b), 'the counts only grow');
  t.match(seen.at(-1)?.recovery, { tenants: 1, current: 'default' });
  t.match(refused, { status: 503, code: 'StoreUnavailable', retryAfter: /^[1-9]/ }, 'other routes answer 503 StoreUnavailable with Retry-After meanwhile');

  const messages = s.logs.map((l) => l.msg);
  const start = messages.indexOf('recovering the tenants from the store');
  const progress = s.logs.filter((l) => l.msg === 'recovering');
  const tenantDone = s.logs.find((l) => l.msg === 'recovered a tenant');
  const done = s.logs.find((l) => l.msg === 'recovery done');
  t.ok(start >= 0, 'the log says recovery started');
  t.ok(progress.length >= 1, `the log shows progress (${progress.length} lines)`);
  const logged = progress.map((l) => Number(l['dylibs']) + Number(l['modules']));
  t.same(logged, [...logged].sort((a, b) => a - b), 'with growing counts');
  t.ok(logged.every((n) => n > 0 && n <= total));
  t.match(tenantDone, { tenant: 'default', dylibs: expect.definitions.dylibs, modules: expect.definitions.modules, reexports: 0 });
  t.match(done, { tenants: 1, dylibs: expect.definitions.dylibs, modules: expect.definitions.modules, ms: Number });
  t.ok(messages.indexOf('recovery done') > start, 'and its end, after its start');

  const listed = await ok(s.get<{ dylibs: { name: string; implOf?: string }[] }>('/dylibs'), 'GET /dylibs');
  t.equal(listed.json.dylibs.filter((d) => d.implOf === undefined && d.name !== 'spectest').length, expect.definitions.dylibs, 'every dylib is there');
  for (const i of [0, 499, 999]) {
    const r = await ok(s.post<{ results: { bits: string }[] }>(`/dylibs/d${i}/invoke`, { symbol: 'main', args: [] }), `d${i} main`);
    t.equal(r.json.results[0]?.bits, String(expect.mainResult(i)), `d${i} main() works`);
  }
  const big = await ok(s.post<{ results: { bits: string }[] }>('/dylibs/big/invoke', { symbol: 'main', args: [] }), 'big main');
  t.equal(big.json.results[0]?.bits, String(expect.bigResult), 'the 20,000-function module works');
});
