// Opening SQLite connections with the settings the store's promises rest on.
//
// The writer (one per file, in the writer thread):
// - journal_mode=WAL: readers (the main thread's connection) never wait for the writer, and a
//   commit appends to one file instead of rewriting pages in place.
// - synchronous=FULL: each commit fsyncs the WAL before it returns, so an acknowledged write
//   survives power loss. NORMAL (the usual WAL companion) syncs only at checkpoints and can
//   lose the last commits on power loss; API.md promises durability before the response.
// - foreign keys on: tenant deletion cascades through them, and blobs cannot be dropped from
//   under a module.
// - a busy timeout: another process holding the lock (a backup, the sqlite3 shell) makes a
//   write wait that long, then fail with StoreUnavailable rather than at once.
// - journal_size_limit: a 32 MiB module goes through the WAL; after a checkpoint the file is
//   cut back instead of staying at its largest size.
// - PRAGMA quick_check at open: reads every page, so a damaged file stops the start with its
//   path (StoreCorrupt) instead of failing requests later; it is never replaced or repaired.

import { existsSync, fsyncSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreCorrupt, StoreUnavailable } from '../errors.ts';
import { loadMigrations, migrate } from '../sql/migrate.ts';
import { isSqliteError, SqliteDb } from './SqliteDb.ts';

const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** Opens the file's writer connection, checks the file and migrates it. */
export async function openWriterDatabase(path: string, busyTimeoutMs: number): Promise<SqliteDb> {
  createDirectory(dirname(path));
  const raw = openRaw(path, { timeout: busyTimeoutMs, enableForeignKeyConstraints: true });
  try {
    corruptionAs(path, () => {
      raw.exec('PRAGMA journal_mode = WAL');
      raw.exec('PRAGMA synchronous = FULL');
      raw.exec(`PRAGMA journal_size_limit = ${64 * 1024 * 1024}`);
      const problems = raw.prepare('PRAGMA quick_check(5)').all().map((r) => String(Object.values(r)[0]));
      if (problems.length !== 1 || problems[0] !== 'ok') throw new StoreCorrupt(path, problems.join('; '));
    });
    const db = new SqliteDb(raw, path);
    await migrate(db, loadMigrations('sqlite'), path);
    return db;
  } catch (err) {
    raw.close();
    throw err;
  }
}

/** A read-only connection to a file the writer has opened (and so migrated and put in WAL mode). */
export function openReaderDatabase(path: string, busyTimeoutMs: number): SqliteDb {
  const raw = openRaw(path, { readOnly: true, timeout: busyTimeoutMs, enableForeignKeyConstraints: true });
  return new SqliteDb(raw, path);
}

/** A private in-memory database with the store's schema (DATABASE_URL=memory:). */
export async function openMemoryDatabase(): Promise<SqliteDb> {
  const db = new SqliteDb(new DatabaseSync(':memory:', { enableForeignKeyConstraints: true }), 'in memory');
  await migrate(db, loadMigrations('sqlite'), 'memory:');
  return db;
}

function openRaw(path: string, options: ConstructorParameters<typeof DatabaseSync>[1]): DatabaseSync {
  try {
    return new DatabaseSync(path, options);
  } catch (err) {
    throw new StoreUnavailable(`Cannot open the SQLite file ${path}: ${err instanceof Error ? err.message : String(err)}.`, 5);
  }
}

/** Runs `f`; SQLite's "corrupt" and "not a database" become StoreCorrupt naming the file. */
function corruptionAs(path: string, f: () => void): void {
  try {
    f();
  } catch (err) {
    if (isSqliteError(err) && [SQLITE_CORRUPT, SQLITE_NOTADB].includes(err.errcode & 0xff)) {
      throw new StoreCorrupt(path, err.message);
    }
    throw err;
  }
}

/** Creates the database's directory on first start, durably (its entry in the parent is synced too). */
function createDirectory(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true });
  const fd = openSync(dirname(dir), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
