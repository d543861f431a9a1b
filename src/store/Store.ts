// The durable store: what the service must get back after a restart or a crash (tenants, keys,
// and every definition a tenant made, in order), plus the content-keyed code cache. One
// interface, three implementations chosen by DATABASE_URL (see openStore below):
//
//   sqlite:<path>   an embedded file through node:sqlite; the default (sqlite:data/jit.sqlite)
//   postgres://...  PostgreSQL through pg, what several replicas share
//   memory:         nothing durable; the same SQL on an in-memory SQLite database
//
// Every method that changes something is one transaction, durable when its promise resolves;
// one that fails changed nothing. A store that cannot take a write rejects with StoreUnavailable.
// Recovery (not in this folder) lists the tenants, replays loadDefinitions(tenant) in seq order
// and applies each record's removal at its removedSeq.

import { resolve } from 'node:path';
import { InvalidDatabaseUrl, redactUrl } from './errors.ts';
import { openPostgresStore } from './postgres/openPostgres.ts';
import { openSqliteFileStore, openMemoryStore } from './sqlite/openSqliteStore.ts';

export type Scope = 'read' | 'write' | 'invoke';

/** A tenant's own limits; an unset one takes the server's configured default. */
export interface TenantLimits {
  memoryPages?: number;
  codeBytes?: number;
  callTimeoutMs?: number;
  dylibs?: number;
  modules?: number;
  requestsPerSecond?: number;
}

export interface TenantRecord {
  name: string;
  limits: TenantLimits;
  /** ISO 8601 */
  createdAt: string;
}

export interface KeyRecord {
  /** Unique store-wide. */
  id: string;
  tenant: string;
  name?: string;
  scopes: Scope[];
  /** Hex sha-256 of the key; unique store-wide. The key itself is never stored. */
  hash: string;
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601; written lazily (see touchKey). */
  lastUsedAt?: string;
}

/** An import's resolution when its module was added. */
export interface ModuleBinding {
  module: string;
  name: string;
  dylib: string;
  symbol: string;
}

/** What it takes to define a reexported symbol again: its name, kind, flags and type. */
export interface StoredSymbol {
  name: string;
  kind: string;
  flags: string[];
  type?: unknown;
}

/**
 * Removal, common to every record: `removed` says the record was removed but kept (something
 * still referenced it, see removeDylib/removeModule); `removedSeq` is where the removal falls
 * in the tenant's seq order, so recovery can replay it between the definitions made before and
 * after it. A module or reexport in a removed dylib counts as removed with its dylib (the
 * module's own earlier removal, if any, wins).
 */
interface Removal {
  removed: boolean;
  removedSeq?: number;
}

/** What recovery replays for one tenant, in the order the definitions were made (by `seq`). */
export type DefinitionRecord =
  | ({ kind: 'dylib'; seq: number; name: string; linkOrder: string[] } & Removal)
  | ({
      kind: 'module';
      seq: number;
      id: string;
      /** The dylib's name and, since a name can be taken again after a removal, which one. */
      dylib: string;
      dylibSeq: number;
      name?: string;
      lazy: boolean;
      optimize: number;
      /** Hex sha-256 of the module's bytes: loadBlob(hash) returns them. */
      hash: string;
      bindings: ModuleBinding[];
    } & Removal)
  | ({
      kind: 'reexports';
      seq: number;
      dylib: string;
      dylibSeq: number;
      from: string;
      aliases: Record<string, string>;
      lazy: boolean;
      symbols: StoredSymbol[];
    } & Removal);

export interface NewModule {
  /** The module's id as the API shows it; unique in the tenant while any record holds it. */
  id: string;
  /** A live dylib of the tenant. */
  dylib: string;
  name?: string;
  lazy: boolean;
  optimize: number;
  bytes: Uint8Array;
  bindings: ModuleBinding[];
}

export interface NewReexports {
  dylib: string;
  from: string;
  aliases: Record<string, string>;
  lazy: boolean;
  symbols: StoredSymbol[];
}

export interface StoreStats {
  entries: number;
  bytes: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'memory';

  /** Writes what touchKey/getCode buffered, then releases the database. Later calls reject with StoreClosed. */
  close(): Promise<void>;

  // ---- tenants and keys

  /** TenantExists when the name is taken. */
  createTenant(t: TenantRecord): Promise<void>;
  /** Replaces the tenant's limits with `limits` (merge in the caller for a partial update). TenantNotFound. */
  updateTenantLimits(name: string, limits: TenantLimits): Promise<TenantRecord>;
  /** Deletes the tenant with its keys, dylibs, modules and reexports (and the blobs only they used). TenantNotFound. */
  deleteTenant(name: string): Promise<void>;
  /** By name. */
  listTenants(): Promise<TenantRecord[]>;
  getTenant(name: string): Promise<TenantRecord | undefined>;
  /** TenantNotFound; KeyExists when the id or the hash is taken. */
  createKey(k: KeyRecord): Promise<void>;
  /** By creation time; empty for an unknown tenant. */
  listKeys(tenant: string): Promise<KeyRecord[]>;
  /** The hot path of authentication: one indexed lookup. */
  findKeyByHash(hash: string): Promise<KeyRecord | undefined>;
  /** False when the tenant has no key with that id. */
  deleteKey(tenant: string, id: string): Promise<boolean>;
  /**
   * Records a key's last use. Buffered: written at most about a second later (or at close, or
   * before listKeys), so a use costs no write; a crash can lose the last second of uses.
   */
  touchKey(id: string, at: string): Promise<void>;

  // ---- definitions: each call one transaction; seq values come from the store, strictly
  // increasing store-wide in the order the writes committed. TenantNotFound for an unknown tenant.

  /** A new live dylib. DylibExists when a live dylib of the tenant has the name. */
  createDylib(tenant: string, name: string, linkOrder: string[]): Promise<number>;
  /** Replaces the link orders of several live dylibs at once (all or none: DylibNotFound). */
  setLinkOrders(tenant: string, changes: { name: string; linkOrder: string[] }[]): Promise<void>;
  /**
   * Removes the live dylib `name` (DylibNotFound) with its modules and reexports. keep: true marks
   * it removed and keeps its records (and blobs) because something still references them (an
   * import of a memory, table or global; a reexport from it); purge drops them later. keep: false
   * deletes them.
   */
  removeDylib(tenant: string, name: string, opts: { keep: boolean }): Promise<void>;
  /**
   * Stores a module in a live dylib (DylibNotFound; ModuleExists when a record holds the id) and
   * its bytes once per content hash. Returns its seq.
   */
  addModule(tenant: string, m: NewModule): Promise<number>;
  /** Removes the live module `id` (ModuleNotFound); keep as in removeDylib. */
  removeModule(tenant: string, id: string, opts: { keep: boolean }): Promise<void>;
  /**
   * Drops records kept as removed: the modules with these ids and the dylibs with these seqs
   * (with their modules and reexports). Records that are not removed are left alone.
   */
  purge(tenant: string, what: { modules?: string[]; dylibSeqs?: number[] }): Promise<void>;
  /** Stores a reexports definition in a live dylib (DylibNotFound). Returns its seq. */
  addReexports(tenant: string, r: NewReexports): Promise<number>;
  /** Every record of the tenant, removed ones included, in seq order; empty for an unknown tenant. */
  loadDefinitions(tenant: string): Promise<DefinitionRecord[]>;
  /** A module's bytes by their hex sha-256. */
  loadBlob(hash: string): Promise<Uint8Array | undefined>;
  /** How many distinct module byte strings are stored (each once, however many modules use it). */
  blobStats(): Promise<StoreStats>;

  // ---- code cache: content-keyed bytes the JIT produced, shared by all tenants, bounded by
  // bytes; the least recently used entries go first.

  /** Counts as a use (buffered like touchKey; a put flushes the uses before it evicts). */
  getCode(key: string): Promise<Uint8Array | undefined>;
  /**
   * Stores (or replaces) an entry, then evicts least recently used entries until the cache fits
   * its bound. An entry larger than the whole bound is not stored.
   */
  putCode(key: string, bytes: Uint8Array): Promise<void>;
  codeCacheStats(): Promise<StoreStats>;
}

export interface StoreOptions {
  /** The code cache's bound (CODE_CACHE_BYTES). */
  codeCacheBytes: number;
  /** How long a write waits for a lock another connection holds (SQLite); default 5000. */
  busyTimeoutMs?: number;
  /** Problems that fail no request (a buffered touch that could not be written, a dropped idle connection). */
  onWarning?: (message: string, err: unknown) => void;
}

export const DEFAULT_DATABASE_URL = 'sqlite:data/jit.sqlite';
export const DEFAULT_CODE_CACHE_BYTES = 512 * 1024 * 1024;

/**
 * Opens the store DATABASE_URL names and brings its schema up to date. Fails with StoreCorrupt,
 * StoreSchemaTooNew, StoreUnavailable (PostgreSQL unreachable) or InvalidDatabaseUrl.
 */
export async function openStore(databaseUrl: string, opts: StoreOptions): Promise<Store> {
  if (!Number.isSafeInteger(opts.codeCacheBytes) || opts.codeCacheBytes < 0) {
    throw new RangeError(`codeCacheBytes must be a non-negative integer, got ${opts.codeCacheBytes}`);
  }
  if (databaseUrl === 'memory:') return openMemoryStore(opts);
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    if (path === '') throw new InvalidDatabaseUrl(JSON.stringify(databaseUrl), 'names no file');
    if (path === ':memory:') throw new InvalidDatabaseUrl(JSON.stringify(databaseUrl), 'names no file (use memory:)');
    return openSqliteFileStore(resolve(path), opts);
  }
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return openPostgresStore(databaseUrl, opts);
  throw new InvalidDatabaseUrl(redactUrl(databaseUrl), 'names no known store');
}
