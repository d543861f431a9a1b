// The store on PostgreSQL: one connection pool, the same StoreCore for reads and writes.
// Opening migrates the schema, so it fails with StoreUnavailable while the server is
// unreachable (the caller may retry). The pool turns connections PostgreSQL dropped into new
// ones on the next request, which is how the store comes back after a database restart.

import pg from 'pg';
import { BufferedStore } from '../BufferedStore.ts';
import { loadMigrations, migrate } from '../sql/migrate.ts';
import { StoreCore } from '../sql/StoreCore.ts';
import { redactUrl } from '../errors.ts';
import type { Store, StoreOptions } from '../Store.ts';
import { PgDb } from './PgDb.ts';

export async function openPostgresStore(url: string, opts: StoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // While PostgreSQL is down a request fails within this, not after the OS's TCP timeout.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'wasm-orc-jit',
  });
  // An idle connection the server dropped: the pool discards it; without a listener the
  // 'error' event would end the process.
  pool.on('error', (err) => opts.onWarning?.('PostgreSQL dropped an idle connection', err));
  const where = redactUrl(url);
  const db = new PgDb(pool, where);
  try {
    await migrate(db, loadMigrations('postgres'), where);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const core = new StoreCore(db);
  return new BufferedStore('postgres', core, core, opts, () => db.close());
}
