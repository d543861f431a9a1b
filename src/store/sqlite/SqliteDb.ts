// SqlDb over one node:sqlite connection. node:sqlite is synchronous; StoreCore's transactions
// are async functions (for PostgreSQL's sake), so another caller could start a statement on
// this connection between two statements of a transaction and see, or break, its uncommitted
// state. Every statement and transaction therefore runs in turn (Serial); a transaction body
// awaits only this connection, so it still runs start to end without yielding to the event loop.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { StoreUnavailable } from '../errors.ts';
import { UniqueViolation, type Dialect, type Param, type Row, type SqlDb, type SqlTx } from '../sql/SqlDb.ts';

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  lockShared: '',
  lockForUpdate: '',
  lockBlobs: async () => {},
  lockMigrations: async () => {},
};

export class SqliteDb implements SqlDb {
  readonly dialect = sqliteDialect;
  private readonly db: DatabaseSync;
  /** The database as messages name it: its path, or "in memory". */
  private readonly where: string;
  private readonly statements = new Map<string, StatementSync>();
  private readonly serial = new Serial();
  private readonly tx: SqlTx;

  constructor(db: DatabaseSync, where: string) {
    this.db = db;
    this.where = where;
    this.tx = {
      query: async (sql, params) => this.queryNow(sql, params),
      run: async (sql, params) => this.runNow(sql, params),
      exec: async (script) => this.guard(() => this.db.exec(script)),
    };
  }

  query(sql: string, params?: readonly Param[]): Promise<Row[]> {
    return this.serial.run(async () => this.queryNow(sql, params));
  }

  run(sql: string, params?: readonly Param[]): Promise<number> {
    return this.serial.run(async () => this.runNow(sql, params));
  }

  transaction<T>(fn: (tx: SqlTx) => Promise<T>, opts: { readOnly?: boolean } = {}): Promise<T> {
    return this.serial.run(async () => {
      // IMMEDIATE takes the write lock up front, so a busy database fails at BEGIN (after the
      // busy timeout) rather than halfway through.
      this.guard(() => this.db.exec(opts.readOnly ? 'BEGIN' : 'BEGIN IMMEDIATE'));
      try {
        const result = await fn(this.tx);
        this.guard(() => this.db.exec('COMMIT'));
        return result;
      } catch (err) {
        if (this.db.isTransaction) {
          try {
            this.db.exec('ROLLBACK');
          } catch {
            // SQLite already rolled back (some I/O errors do); the first error is the one to report.
          }
        }
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.serial.run(async () => {
      if (this.db.isOpen) this.db.close();
    });
  }

  private queryNow(sql: string, params: readonly Param[] = []): Row[] {
    return this.guard(() => this.prepare(sql).all(...params) as Row[]);
  }

  private runNow(sql: string, params: readonly Param[] = []): number {
    return this.guard(() => Number(this.prepare(sql).run(...params).changes));
  }

  private prepare(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      throw translateSqliteError(err, this.where);
    }
  }
}

interface SqliteError extends Error {
  code: 'ERR_SQLITE_ERROR';
  errcode: number;
  errstr: string;
}

export function isSqliteError(err: unknown): err is SqliteError {
  return err instanceof Error && (err as Partial<SqliteError>).code === 'ERR_SQLITE_ERROR' && typeof (err as Partial<SqliteError>).errcode === 'number';
}

// Primary result codes (the low byte of an extended code) that mean "the database cannot take
// this now", with how long a client should wait before trying again.
const UNAVAILABLE: ReadonlyMap<number, number> = new Map([
  [5, 1], // SQLITE_BUSY: another connection holds the lock past the busy timeout
  [6, 1], // SQLITE_LOCKED
  [7, 5], // SQLITE_NOMEM
  [8, 5], // SQLITE_READONLY: the file or its directory is not writable
  [10, 5], // SQLITE_IOERR
  [11, 30], // SQLITE_CORRUPT: found while running; the file needs a person
  [13, 30], // SQLITE_FULL: the disk is full
  [14, 5], // SQLITE_CANTOPEN
  [15, 1], // SQLITE_PROTOCOL
  [26, 30], // SQLITE_NOTADB
]);

const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

export function translateSqliteError(err: unknown, where: string): unknown {
  if (!isSqliteError(err)) return err;
  if (err.errcode === SQLITE_CONSTRAINT_UNIQUE || err.errcode === SQLITE_CONSTRAINT_PRIMARYKEY) {
    // "UNIQUE constraint failed: tenants.name"
    return new UniqueViolation(err.message, /constraint failed: ([A-Za-z_]+)\./.exec(err.message)?.[1]);
  }
  const retryAfter = UNAVAILABLE.get(err.errcode & 0xff);
  if (retryAfter !== undefined) {
    return new StoreUnavailable(`The SQLite database ${where} cannot take the request: ${err.message}.`, retryAfter);
  }
  return err;
}

/** Runs async functions one at a time, in call order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
