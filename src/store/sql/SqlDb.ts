// The little the store's SQL needs from a database driver, so one body of SQL (StoreCore)
// serves SQLite and PostgreSQL: run a statement, run a script, and run a function as one
// transaction. SQL is written with `?` placeholders (PostgreSQL's driver renumbers them) and
// in the subset both dialects share; the few differences are the Dialect hooks below.
// Drivers turn their own errors into StoreUnavailable (the database cannot take it now),
// UniqueViolation (a unique index refused a row; StoreCore names it) or let them through (bugs).

export type Row = Record<string, unknown>;
export type Param = string | number | bigint | null | Uint8Array;

export interface SqlRunner {
  /** Runs one statement and returns its rows (none for a statement without RETURNING). */
  query(sql: string, params?: readonly Param[]): Promise<Row[]>;
  /** Runs one statement and returns how many rows it changed. */
  run(sql: string, params?: readonly Param[]): Promise<number>;
}

export interface SqlTx extends SqlRunner {
  /** Runs a script of several statements without parameters (a migration). */
  exec(script: string): Promise<void>;
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /**
   * Appended to a SELECT that checks a parent row a write depends on, so a concurrent
   * transaction cannot delete it before this one commits. Empty for SQLite, whose single
   * writer makes that impossible.
   */
  readonly lockShared: string;
  /** Appended to a SELECT of a row this transaction is about to change or delete. Empty for SQLite. */
  readonly lockForUpdate: string;
  /**
   * Serializes transactions that store or drop the blob with this hash (a module's bytes), so
   * one dropping the last reference and one adding a new one cannot cross. No-op on SQLite.
   */
  lockBlobs(tx: SqlTx, hashes: readonly string[]): Promise<void>;
  /** Serializes migrations of one database (several replicas may start at once). */
  lockMigrations(tx: SqlTx): Promise<void>;
}

export interface SqlDb extends SqlRunner {
  readonly dialect: Dialect;
  /**
   * Runs `fn` as one transaction: committed when it resolves, rolled back when it throws.
   * readOnly ones see one snapshot and take no write lock.
   */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>, opts?: { readOnly?: boolean }): Promise<T>;
  close(): Promise<void>;
}

/** A unique index refused a row; `table` is the table it belongs to, when the driver says. */
export class UniqueViolation extends Error {
  readonly table: string | undefined;
  constructor(message: string, table: string | undefined) {
    super(message);
    this.name = 'UniqueViolation';
    this.table = table;
  }
}

/** `?, ?, ?` for an IN list of n values. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** Runs `fn` over `items` in chunks small enough for any driver's parameter limit. */
export async function inChunks<T>(items: readonly T[], fn: (chunk: T[]) => Promise<void>, size = 500): Promise<void> {
  for (let i = 0; i < items.length; i += size) await fn(items.slice(i, i + size));
}

// Column readers: SQLite gives numbers and Uint8Arrays, PostgreSQL strings for BIGINT and
// Buffers for BYTEA; both give null for NULL.

export function int(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new TypeError(`expected an integer column, got ${typeof v} ${String(v)}`);
}

export function optInt(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : int(v);
}

export function str(v: unknown): string {
  if (typeof v === 'string') return v;
  throw new TypeError(`expected a text column, got ${typeof v}`);
}

export function optStr(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : str(v);
}

/** A plain Uint8Array (a view on PostgreSQL's Buffer, no copy), so every store hands out the same type. */
export function bytes(v: unknown): Uint8Array {
  if (Buffer.isBuffer(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof Uint8Array) return v;
  throw new TypeError(`expected a blob column, got ${typeof v}`);
}

export function json<T>(v: unknown): T {
  return JSON.parse(str(v)) as T;
}
