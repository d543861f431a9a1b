// The store's SQL, once for SQLite and PostgreSQL: each write method is one transaction over a
// SqlDb, each read one indexed query (loadDefinitions: one snapshot). Buffering of key and code
// cache uses lives in BufferedStore; this class takes them as explicit `applyTouches` calls and
// explicit ticks, so it can run in the SQLite writer thread as well as in the main thread.
//
// Locks, for PostgreSQL where transactions run side by side (SQLite has one writer): a write
// first locks the tenant row (shared), then the dylib or module row it depends on, then the
// blobs it stores or drops (Dialect.lockBlobs), and last the counters row it bumps. Always in
// that order, so two writes cannot deadlock on each other.

import { createHash } from 'node:crypto';
import {
  DylibExists,
  DylibNotFound,
  KeyExists,
  ModuleExists,
  ModuleNotFound,
  TenantExists,
  TenantNotFound,
} from '../errors.ts';
import type {
  DefinitionRecord,
  KeyRecord,
  ModuleBinding,
  NewModule,
  NewReexports,
  Scope,
  StoredSymbol,
  StoreStats,
  TenantLimits,
  TenantRecord,
  Store,
} from '../Store.ts';
import {
  bytes,
  inChunks,
  int,
  json,
  optInt,
  optStr,
  placeholders,
  str,
  UniqueViolation,
  type Param,
  type Row,
  type SqlDb,
  type SqlTx,
} from './SqlDb.ts';

/** Buffered uses: keys' last-use times (ISO) and code cache entries' ticks. */
export interface Touches {
  keys: [id: string, at: string][];
  code: [key: string, tick: number][];
}

/** What changes the store: the methods the SQLite writer thread runs for the main thread. */
export interface StoreWrites
  extends Pick<
    Store,
    | 'createTenant'
    | 'updateTenantLimits'
    | 'deleteTenant'
    | 'createKey'
    | 'deleteKey'
    | 'createDylib'
    | 'setLinkOrders'
    | 'removeDylib'
    | 'addModule'
    | 'removeModule'
    | 'purge'
    | 'addReexports'
  > {
  applyTouches(t: Touches): Promise<void>;
  /** Stores the entry with last use `tick` and evicts down to `bound` bytes. */
  putCode(key: string, bytes: Uint8Array, tick: number, bound: number): Promise<void>;
}

export interface StoreReads
  extends Pick<Store, 'listTenants' | 'getTenant' | 'listKeys' | 'findKeyByHash' | 'loadDefinitions' | 'loadBlob' | 'blobStats' | 'codeCacheStats'> {
  /** Reads the entry without recording a use. */
  peekCode(key: string): Promise<Uint8Array | undefined>;
}

export const WRITE_METHODS = [
  'createTenant',
  'updateTenantLimits',
  'deleteTenant',
  'createKey',
  'deleteKey',
  'applyTouches',
  'createDylib',
  'setLinkOrders',
  'removeDylib',
  'addModule',
  'removeModule',
  'purge',
  'addReexports',
  'putCode',
] as const satisfies readonly (keyof StoreWrites)[];

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const TENANT_COLUMNS = 'name, limits, created_at';
const KEY_COLUMNS = 'id, tenant, name, scopes, hash, created_at, last_used_at';

export class StoreCore implements StoreWrites, StoreReads {
  private readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
  }

  // ---- tenants and keys

  async createTenant(t: TenantRecord): Promise<void> {
    await this.write(
      (tx) =>
        tx.run(`INSERT INTO tenants (${TENANT_COLUMNS}) VALUES (?, ?, ?)`, [t.name, JSON.stringify(t.limits), t.createdAt]),
      { tenants: () => new TenantExists(t.name) },
    );
  }

  async updateTenantLimits(name: string, limits: TenantLimits): Promise<TenantRecord> {
    return this.write(async (tx) => {
      const [row] = await tx.query(`UPDATE tenants SET limits = ? WHERE name = ? RETURNING ${TENANT_COLUMNS}`, [
        JSON.stringify(limits),
        name,
      ]);
      if (!row) throw new TenantNotFound(name);
      return toTenant(row);
    });
  }

  async deleteTenant(name: string): Promise<void> {
    await this.write(async (tx) => {
      const hashes = await textColumn(tx, 'SELECT DISTINCT hash FROM modules WHERE tenant = ?', [name], 'hash');
      if ((await tx.run('DELETE FROM tenants WHERE name = ?', [name])) === 0) throw new TenantNotFound(name);
      await this.dropUnusedBlobs(tx, hashes);
    });
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.db.query(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY name`)).map(toTenant);
  }

  async getTenant(name: string): Promise<TenantRecord | undefined> {
    const [row] = await this.db.query(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE name = ?`, [name]);
    return row && toTenant(row);
  }

  async createKey(k: KeyRecord): Promise<void> {
    await this.write(
      async (tx) => {
        await this.requireTenant(tx, k.tenant);
        await tx.run(`INSERT INTO api_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
          k.id,
          k.tenant,
          k.name ?? null,
          JSON.stringify(k.scopes),
          k.hash,
          k.createdAt,
          k.lastUsedAt ?? null,
        ]);
      },
      { api_keys: () => new KeyExists(k.id) },
    );
  }

  async listKeys(tenant: string): Promise<KeyRecord[]> {
    const rows = await this.db.query(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant = ? ORDER BY created_at, id`, [tenant]);
    return rows.map(toKey);
  }

  async findKeyByHash(hash: string): Promise<KeyRecord | undefined> {
    const [row] = await this.db.query(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE hash = ?`, [hash]);
    return row && toKey(row);
  }

  async deleteKey(tenant: string, id: string): Promise<boolean> {
    return this.write(async (tx) => (await tx.run('DELETE FROM api_keys WHERE tenant = ? AND id = ?', [tenant, id])) > 0);
  }

  /** Later uses only: a touch never moves a time or tick backwards. */
  async applyTouches(t: Touches): Promise<void> {
    if (t.keys.length === 0 && t.code.length === 0) return;
    // Sorted, so two replicas flushing overlapping sets lock rows in the same order.
    const keys = [...t.keys].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const code = [...t.code].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    await this.write(async (tx) => {
      for (const [id, at] of keys) {
        await tx.run('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)', [
          at,
          id,
          at,
        ]);
      }
      for (const [key, tick] of code) {
        await tx.run('UPDATE code_cache SET last_used = ? WHERE key = ? AND last_used < ?', [tick, key, tick]);
      }
    });
  }

  // ---- definitions

  async createDylib(tenant: string, name: string, linkOrder: string[]): Promise<number> {
    return this.write(
      async (tx) => {
        await this.requireTenant(tx, tenant);
        if ((await this.liveDylib(tx, tenant, name, '')) !== undefined) throw new DylibExists(tenant, name);
        const seq = await this.nextSeq(tx);
        await tx.run('INSERT INTO dylibs (seq, tenant, name, link_order) VALUES (?, ?, ?, ?)', [
          seq,
          tenant,
          name,
          JSON.stringify(linkOrder),
        ]);
        return seq;
      },
      { dylibs: () => new DylibExists(tenant, name) },
    );
  }

  async setLinkOrders(tenant: string, changes: { name: string; linkOrder: string[] }[]): Promise<void> {
    await this.write(async (tx) => {
      await this.requireTenant(tx, tenant);
      for (const c of changes) {
        const n = await tx.run('UPDATE dylibs SET link_order = ? WHERE tenant = ? AND name = ? AND removed_seq IS NULL', [
          JSON.stringify(c.linkOrder),
          tenant,
          c.name,
        ]);
        if (n === 0) throw new DylibNotFound(tenant, c.name);
      }
    });
  }

  async removeDylib(tenant: string, name: string, opts: { keep: boolean }): Promise<void> {
    await this.write(async (tx) => {
      await this.requireTenant(tx, tenant);
      const seq = await this.liveDylib(tx, tenant, name, this.db.dialect.lockForUpdate);
      if (seq === undefined) throw new DylibNotFound(tenant, name);
      if (opts.keep) {
        await tx.run('UPDATE dylibs SET removed_seq = ? WHERE seq = ?', [await this.nextSeq(tx), seq]);
        return;
      }
      const hashes = await textColumn(tx, 'SELECT DISTINCT hash FROM modules WHERE dylib_seq = ?', [seq], 'hash');
      await tx.run('DELETE FROM dylibs WHERE seq = ?', [seq]);
      await this.dropUnusedBlobs(tx, hashes);
    });
  }

  async addModule(tenant: string, m: NewModule): Promise<number> {
    const hash = sha256Hex(m.bytes);
    return this.write(
      async (tx) => {
        await this.requireTenant(tx, tenant);
        const dylibSeq = await this.liveDylib(tx, tenant, m.dylib, this.db.dialect.lockShared);
        if (dylibSeq === undefined) throw new DylibNotFound(tenant, m.dylib);
        const taken = await tx.query('SELECT 1 AS taken FROM modules WHERE tenant = ? AND id = ?', [tenant, m.id]);
        if (taken.length > 0) throw new ModuleExists(tenant, m.id);
        await this.db.dialect.lockBlobs(tx, [hash]);
        // Only a new blob ships its bytes to the database.
        if ((await tx.query('SELECT 1 AS present FROM blobs WHERE hash = ?', [hash])).length === 0) {
          await tx.run('INSERT INTO blobs (hash, bytes, size) VALUES (?, ?, ?)', [hash, m.bytes, m.bytes.byteLength]);
        }
        const seq = await this.nextSeq(tx);
        await tx.run(
          'INSERT INTO modules (seq, tenant, id, dylib_seq, name, lazy, optimize, hash, bindings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [seq, tenant, m.id, dylibSeq, m.name ?? null, m.lazy ? 1 : 0, m.optimize, hash, JSON.stringify(m.bindings)],
        );
        return seq;
      },
      { modules: () => new ModuleExists(tenant, m.id) },
    );
  }

  async removeModule(tenant: string, id: string, opts: { keep: boolean }): Promise<void> {
    await this.write(async (tx) => {
      await this.requireTenant(tx, tenant);
      const [row] = await tx.query(
        `SELECT seq, hash, dylib_seq FROM modules WHERE tenant = ? AND id = ? AND removed_seq IS NULL${this.db.dialect.lockForUpdate}`,
        [tenant, id],
      );
      if (!row) throw new ModuleNotFound(tenant, id);
      // A module whose dylib was removed (and kept) is not live either.
      const [dylib] = await tx.query('SELECT removed_seq FROM dylibs WHERE seq = ?', [int(row['dylib_seq'])]);
      if (!dylib || dylib['removed_seq'] !== null) throw new ModuleNotFound(tenant, id);
      const seq = int(row['seq']);
      if (opts.keep) {
        await tx.run('UPDATE modules SET removed_seq = ? WHERE seq = ?', [await this.nextSeq(tx), seq]);
        return;
      }
      await tx.run('DELETE FROM modules WHERE seq = ?', [seq]);
      await this.dropUnusedBlobs(tx, [str(row['hash'])]);
    });
  }

  async purge(tenant: string, what: { modules?: string[]; dylibSeqs?: number[] }): Promise<void> {
    const ids = what.modules ?? [];
    const dylibSeqs = what.dylibSeqs ?? [];
    if (ids.length === 0 && dylibSeqs.length === 0) return;
    await this.write(async (tx) => {
      await this.requireTenant(tx, tenant);
      const hashes: string[] = [];
      await inChunks(dylibSeqs, async (chunk) => {
        const seqs = await intColumn(
          tx,
          `SELECT seq FROM dylibs WHERE tenant = ? AND seq IN (${placeholders(chunk.length)}) AND removed_seq IS NOT NULL`,
          [tenant, ...chunk],
          'seq',
        );
        if (seqs.length === 0) return;
        const list = placeholders(seqs.length);
        hashes.push(...(await textColumn(tx, `SELECT DISTINCT hash FROM modules WHERE dylib_seq IN (${list})`, seqs, 'hash')));
        await tx.run(`DELETE FROM dylibs WHERE seq IN (${list})`, seqs);
      });
      await inChunks(ids, async (chunk) => {
        const rows = await tx.query(
          `SELECT m.seq AS seq, m.hash AS hash FROM modules m JOIN dylibs d ON d.seq = m.dylib_seq
           WHERE m.tenant = ? AND m.id IN (${placeholders(chunk.length)})
             AND (m.removed_seq IS NOT NULL OR d.removed_seq IS NOT NULL)`,
          [tenant, ...chunk],
        );
        if (rows.length === 0) return;
        hashes.push(...rows.map((r) => str(r['hash'])));
        const seqs = rows.map((r) => int(r['seq']));
        await tx.run(`DELETE FROM modules WHERE seq IN (${placeholders(seqs.length)})`, seqs);
      });
      await this.dropUnusedBlobs(tx, hashes);
    });
  }

  async addReexports(tenant: string, r: NewReexports): Promise<number> {
    return this.write(async (tx) => {
      await this.requireTenant(tx, tenant);
      const dylibSeq = await this.liveDylib(tx, tenant, r.dylib, this.db.dialect.lockShared);
      if (dylibSeq === undefined) throw new DylibNotFound(tenant, r.dylib);
      const seq = await this.nextSeq(tx);
      await tx.run(
        'INSERT INTO reexports (seq, tenant, dylib_seq, from_dylib, aliases, lazy, symbols) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [seq, tenant, dylibSeq, r.from, JSON.stringify(r.aliases), r.lazy ? 1 : 0, JSON.stringify(r.symbols)],
      );
      return seq;
    });
  }

  async loadDefinitions(tenant: string): Promise<DefinitionRecord[]> {
    return this.db.transaction(
      async (tx) => {
        const out: DefinitionRecord[] = [];
        for (const r of await tx.query('SELECT seq, name, link_order, removed_seq FROM dylibs WHERE tenant = ?', [tenant])) {
          out.push({
            kind: 'dylib',
            seq: int(r['seq']),
            name: str(r['name']),
            linkOrder: json<string[]>(r['link_order']),
            ...removal(r['removed_seq']),
          });
        }
        const modules = await tx.query(
          `SELECT m.seq AS seq, m.id AS id, d.name AS dylib, m.dylib_seq AS dylib_seq, m.name AS name, m.lazy AS lazy,
                  m.optimize AS optimize, m.hash AS hash, m.bindings AS bindings,
                  COALESCE(m.removed_seq, d.removed_seq) AS removed_seq
           FROM modules m JOIN dylibs d ON d.seq = m.dylib_seq WHERE m.tenant = ?`,
          [tenant],
        );
        for (const r of modules) {
          const name = optStr(r['name']);
          out.push({
            kind: 'module',
            seq: int(r['seq']),
            id: str(r['id']),
            dylib: str(r['dylib']),
            dylibSeq: int(r['dylib_seq']),
            ...(name === undefined ? {} : { name }),
            lazy: int(r['lazy']) !== 0,
            optimize: int(r['optimize']),
            hash: str(r['hash']),
            bindings: json<ModuleBinding[]>(r['bindings']),
            ...removal(r['removed_seq']),
          });
        }
        const reexports = await tx.query(
          `SELECT r.seq AS seq, d.name AS dylib, r.dylib_seq AS dylib_seq, r.from_dylib AS from_dylib, r.aliases AS aliases,
                  r.lazy AS lazy, r.symbols AS symbols, d.removed_seq AS removed_seq
           FROM reexports r JOIN dylibs d ON d.seq = r.dylib_seq WHERE r.tenant = ?`,
          [tenant],
        );
        for (const r of reexports) {
          out.push({
            kind: 'reexports',
            seq: int(r['seq']),
            dylib: str(r['dylib']),
            dylibSeq: int(r['dylib_seq']),
            from: str(r['from_dylib']),
            aliases: json<Record<string, string>>(r['aliases']),
            lazy: int(r['lazy']) !== 0,
            symbols: json<StoredSymbol[]>(r['symbols']),
            ...removal(r['removed_seq']),
          });
        }
        return out.sort((a, b) => a.seq - b.seq);
      },
      { readOnly: true },
    );
  }

  async loadBlob(hash: string): Promise<Uint8Array | undefined> {
    const [row] = await this.db.query('SELECT bytes FROM blobs WHERE hash = ?', [hash]);
    return row && bytes(row['bytes']);
  }

  async blobStats(): Promise<StoreStats> {
    const [row] = await this.db.query('SELECT COUNT(*) AS entries, COALESCE(SUM(size), 0) AS bytes FROM blobs');
    return { entries: int(row?.['entries'] ?? 0), bytes: int(row?.['bytes'] ?? 0) };
  }

  // ---- code cache

  async peekCode(key: string): Promise<Uint8Array | undefined> {
    const [row] = await this.db.query('SELECT bytes FROM code_cache WHERE key = ?', [key]);
    return row && bytes(row['bytes']);
  }

  async putCode(key: string, data: Uint8Array, tick: number, bound: number): Promise<void> {
    if (data.byteLength > bound) return;
    await this.write(async (tx) => {
      // Puts queue on this row (PostgreSQL), so the totals and the eviction see every put before them.
      await tx.query(`SELECT value FROM counters WHERE name = 'code_cache_bytes'${this.db.dialect.lockForUpdate}`);
      const [old] = await tx.query('DELETE FROM code_cache WHERE key = ? RETURNING size', [key]);
      await tx.run('INSERT INTO code_cache (key, bytes, size, last_used) VALUES (?, ?, ?, ?)', [key, data, data.byteLength, tick]);
      let total = await this.bumpCodeTotals(tx, data.byteLength - (old ? int(old['size']) : 0), old ? 0 : 1);
      while (total > bound) {
        const candidates = await tx.query('SELECT key, size FROM code_cache WHERE key <> ? ORDER BY last_used, key LIMIT 64', [
          key,
        ]);
        if (candidates.length === 0) break;
        const victims: string[] = [];
        let freed = 0;
        for (const c of candidates) {
          if (total - freed <= bound) break;
          victims.push(str(c['key']));
          freed += int(c['size']);
        }
        await tx.run(`DELETE FROM code_cache WHERE key IN (${placeholders(victims.length)})`, victims);
        total = await this.bumpCodeTotals(tx, -freed, -victims.length);
      }
    });
  }

  async codeCacheStats(): Promise<StoreStats> {
    const rows = await this.db.query(
      "SELECT name, value FROM counters WHERE name IN ('code_cache_bytes', 'code_cache_entries')",
    );
    const get = (name: string) => int(rows.find((r) => r['name'] === name)?.['value'] ?? 0);
    return { entries: get('code_cache_entries'), bytes: get('code_cache_bytes') };
  }

  // ---- helpers

  /**
   * Runs a write transaction; a unique index's refusal becomes the named error `unique` gives
   * for its table (the checks before each insert give the same errors; this covers a
   * concurrent writer on PostgreSQL that got there between check and insert).
   */
  private async write<T>(fn: (tx: SqlTx) => Promise<T>, unique: Record<string, () => Error> = {}): Promise<T> {
    try {
      return await this.db.transaction(fn);
    } catch (err) {
      const named = err instanceof UniqueViolation && err.table !== undefined ? unique[err.table] : undefined;
      throw named ? named() : err;
    }
  }

  /** TenantNotFound unless the tenant exists; holds it (PostgreSQL) until the write commits. */
  private async requireTenant(tx: SqlTx, tenant: string): Promise<void> {
    const rows = await tx.query(`SELECT 1 AS present FROM tenants WHERE name = ?${this.db.dialect.lockShared}`, [tenant]);
    if (rows.length === 0) throw new TenantNotFound(tenant);
  }

  private async liveDylib(tx: SqlTx, tenant: string, name: string, lock: string): Promise<number | undefined> {
    const [row] = await tx.query(`SELECT seq FROM dylibs WHERE tenant = ? AND name = ? AND removed_seq IS NULL${lock}`, [
      tenant,
      name,
    ]);
    return row && int(row['seq']);
  }

  private async nextSeq(tx: SqlTx): Promise<number> {
    const [row] = await tx.query("UPDATE counters SET value = value + 1 WHERE name = 'definition_seq' RETURNING value");
    return int(row?.['value']);
  }

  /** Adds to the cache totals; returns the new byte total. */
  private async bumpCodeTotals(tx: SqlTx, bytesDelta: number, entriesDelta: number): Promise<number> {
    if (entriesDelta !== 0) {
      await tx.run("UPDATE counters SET value = value + ? WHERE name = 'code_cache_entries'", [entriesDelta]);
    }
    const [row] = await tx.query("UPDATE counters SET value = value + ? WHERE name = 'code_cache_bytes' RETURNING value", [
      bytesDelta,
    ]);
    return int(row?.['value']);
  }

  /** Deletes those of `hashes` no module references any more. */
  private async dropUnusedBlobs(tx: SqlTx, hashes: readonly string[]): Promise<void> {
    const unique = [...new Set(hashes)].sort();
    if (unique.length === 0) return;
    await this.db.dialect.lockBlobs(tx, unique);
    await inChunks(unique, (chunk) =>
      tx
        .run(
          `DELETE FROM blobs WHERE hash IN (${placeholders(chunk.length)})
           AND NOT EXISTS (SELECT 1 FROM modules WHERE modules.hash = blobs.hash)`,
          chunk,
        )
        .then(() => undefined),
    );
  }
}

function removal(removedSeq: unknown): { removed: boolean; removedSeq?: number } {
  const seq = optInt(removedSeq);
  return seq === undefined ? { removed: false } : { removed: true, removedSeq: seq };
}

async function textColumn(tx: SqlTx, sql: string, params: Param[], name: string): Promise<string[]> {
  return (await tx.query(sql, params)).map((r) => str(r[name]));
}

async function intColumn(tx: SqlTx, sql: string, params: Param[], name: string): Promise<number[]> {
  return (await tx.query(sql, params)).map((r) => int(r[name]));
}

function toTenant(r: Row): TenantRecord {
  return { name: str(r['name']), limits: json<TenantLimits>(r['limits']), createdAt: str(r['created_at']) };
}

function toKey(r: Row): KeyRecord {
  const name = optStr(r['name']);
  const lastUsedAt = optStr(r['last_used_at']);
  return {
    id: str(r['id']),
    tenant: str(r['tenant']),
    ...(name === undefined ? {} : { name }),
    scopes: json<Scope[]>(r['scopes']),
    hash: str(r['hash']),
    createdAt: str(r['created_at']),
    ...(lastUsedAt === undefined ? {} : { lastUsedAt }),
  };
}
