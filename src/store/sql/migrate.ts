// Versioned schema migrations: src/store/migrations/<dialect>/NNNN_what.sql, numbered from 1
// without gaps, applied in order at open inside one transaction and recorded in
// schema_migrations. A database that records a version this code does not have was migrated by
// a newer service: it is refused (StoreSchemaTooNew), never written to.

import { readdirSync, readFileSync } from 'node:fs';
import { StoreSchemaTooNew } from '../errors.ts';
import { int, type SqlDb } from './SqlDb.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The dialect's migrations in version order; throws if the folder's numbering is broken (a bug). */
export function loadMigrations(dialect: 'sqlite' | 'postgres'): Migration[] {
  const dir = new URL(`../migrations/${dialect}/`, import.meta.url);
  const found = readdirSync(dir)
    .map((file) => ({ file, m: FILE.exec(file) }))
    .filter((f): f is { file: string; m: RegExpExecArray } => f.m !== null)
    .map(({ file, m }) => ({ version: Number(m[1]), name: m[2] as string, sql: readFileSync(new URL(file, dir), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  found.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations/${dialect}: expected version ${i + 1}, found ${m.version} (${m.name})`);
  });
  return found;
}

/**
 * Brings the schema up to the newest migration. Returns the versions it applied. `where` names
 * the database in messages (a path, or a URL without its password).
 */
export async function migrate(db: SqlDb, migrations: readonly Migration[], where: string): Promise<number[]> {
  const known = migrations.length;
  return db.transaction(async (tx) => {
    // The lock comes first: two PostgreSQL sessions racing through CREATE TABLE IF NOT EXISTS
    // can both try to create it.
    await db.dialect.lockMigrations(tx);
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    const applied = new Set((await tx.query('SELECT version FROM schema_migrations')).map((r) => int(r['version'])));
    const newest = Math.max(0, ...applied);
    if (newest > known) throw new StoreSchemaTooNew(newest, known, where);
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      done.push(m.version);
    }
    return done;
  });
}
