// SqlDb over a pg connection pool. The pool is what survives PostgreSQL going away: a broken
// connection is dropped (released with its error), the next request opens a new one, so the
// first write after the server is back works without reopening the store. Errors that mean
// "cannot take it now" (no connection, shutdown, disk full, a serialization failure that
// persisted) become StoreUnavailable.

import type pg from 'pg';
import { StoreUnavailable } from '../errors.ts';
import { UniqueViolation, type Dialect, type Param, type Row, type SqlDb, type SqlTx } from '../sql/SqlDb.ts';

/** pg_advisory_xact_lock key of migrations: "jitstore" in ASCII. */
const MIGRATION_LOCK = '7667787879798501989';

export const postgresDialect: Dialect = {
  name: 'postgres',
  lockShared: ' FOR SHARE',
  lockForUpdate: ' FOR UPDATE',
  async lockBlobs(tx, hashes) {
    for (const h of [...hashes].sort()) await tx.query('SELECT pg_advisory_xact_lock(?::bigint)', [blobLockKey(h)]);
  },
  async lockMigrations(tx) {
    await tx.query('SELECT pg_advisory_xact_lock(?::bigint)', [MIGRATION_LOCK]);
  },
};

/** A blob's advisory lock: the first 64 bits of its hash, as PostgreSQL's signed bigint. */
function blobLockKey(hash: string): string {
  return BigInt.asIntN(64, BigInt(`0x${hash.slice(0, 16).padEnd(16, '0')}`)).toString();
}

/** Attempts of one transaction when it failed in a way that is safe and worth repeating. */
const ATTEMPTS = 3;

export class PgDb implements SqlDb {
  readonly dialect = postgresDialect;
  private readonly pool: pg.Pool;
  /** The database as messages name it: its URL without the password. */
  private readonly where: string;
  private readonly converted = new Map<string, string>();

  constructor(pool: pg.Pool, where: string) {
    this.pool = pool;
    this.where = where;
  }

  async query(sql: string, params?: readonly Param[]): Promise<Row[]> {
    try {
      return (await this.pool.query(this.convert(sql), toPgParams(params))).rows as Row[];
    } catch (err) {
      throw translatePgError(err, this.where);
    }
  }

  async run(sql: string, params?: readonly Param[]): Promise<number> {
    try {
      return (await this.pool.query(this.convert(sql), toPgParams(params))).rowCount ?? 0;
    } catch (err) {
      throw translatePgError(err, this.where);
    }
  }

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>, opts: { readOnly?: boolean } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw translatePgError(err, this.where);
      }
      // A checked-out client has no pool listener: without this, a connection that drops
      // between two statements would be an unhandled 'error' event.
      let lost: Error | undefined;
      const onError = (err: Error) => {
        lost = err;
      };
      client.on('error', onError);
      let committing = false;
      try {
        await client.query(opts.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
        const result = await fn(this.txOn(client));
        committing = true;
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (lost === undefined && !isConnectionError(err)) {
          await client.query('ROLLBACK').catch((e: Error) => {
            lost = e;
          });
        } else {
          lost ??= err instanceof Error ? err : new Error(String(err));
        }
        // Repeat a transaction the server rolled back whole: a serialization failure or
        // deadlock, or a connection that was already dead when it was handed out (an idle
        // one PostgreSQL dropped). Never one whose COMMIT may have reached the server.
        const retry = attempt < ATTEMPTS && !committing && (isSerializationFailure(err) || isConnectionError(err));
        if (!retry) throw translatePgError(err, this.where);
      } finally {
        client.off('error', onError);
        client.release(lost);
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private txOn(client: pg.PoolClient): SqlTx {
    // Errors stay untranslated here: transaction() decides whether to repeat, then translates.
    const q = (sql: string, params?: readonly Param[]) => client.query(this.convert(sql), toPgParams(params));
    return {
      query: async (sql, params) => (await q(sql, params)).rows as Row[],
      run: async (sql, params) => (await q(sql, params)).rowCount ?? 0,
      exec: async (script) => {
        await client.query(script);
      },
    };
  }

  /** `?` placeholders to `$1, $2, ...` (the store's SQL has no `?` operator or literal). */
  private convert(sql: string): string {
    let out = this.converted.get(sql);
    if (out === undefined) {
      let n = 0;
      out = sql.replace(/\?/g, () => `$${++n}`);
      this.converted.set(sql, out);
    }
    return out;
  }
}

function toPgParams(params: readonly Param[] = []): unknown[] {
  return params.map((p) =>
    p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p,
  );
}

interface PgError extends Error {
  code?: string;
  table?: string;
  errors?: unknown[];
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT', // a unix socket path that is not there (yet)
]);

// pg's own messages for a connection that failed or went away (no SQLSTATE or errno on them).
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|not queryable|Query read timeout|connection timeout/i;

function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as PgError).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now.
    if (code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  }
  return CONNECTION_MESSAGES.test(err.message);
}

function isSerializationFailure(err: unknown): boolean {
  const code = err instanceof Error ? (err as PgError).code : undefined;
  return code === '40001' || code === '40P01';
}

export function translatePgError(err: unknown, where: string): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as PgError;
  if (e.code === '23505') return new UniqueViolation(e.message, e.table);
  if (isConnectionError(err)) {
    return new StoreUnavailable(`PostgreSQL at ${where} cannot be reached: ${describe(e)}.`, 5);
  }
  if (isSerializationFailure(err)) {
    return new StoreUnavailable(`PostgreSQL at ${where} kept refusing the transaction (${e.message}).`, 1);
  }
  // 53: insufficient resources (disk full, out of memory, too many connections); 58: I/O error;
  // 25006: a read-only server (a standby).
  if (typeof e.code === 'string' && (e.code.startsWith('53') || e.code.startsWith('58') || e.code === '25006')) {
    return new StoreUnavailable(`PostgreSQL at ${where} cannot take the write: ${e.message}.`, 5);
  }
  return err;
}

/** An error's message, or for a connection refused on several addresses, the first one's. */
function describe(e: PgError): string {
  if (e.message !== '') return e.message;
  const first = e.errors?.[0];
  return first instanceof Error ? first.message : (e.code ?? 'connection failed');
}
