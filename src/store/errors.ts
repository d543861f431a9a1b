// The store's named errors. Each carries a stable `code` and JSON-safe `details()`, the shape
// src/app.ts's error handler maps to an HTTP status once the code is in its table
// (StoreUnavailable, TenantExists and TenantNotFound are API codes; the others mean a bug or a
// start that must not go on, and stay 500s). Errors cross the SQLite writer thread as plain
// objects, so every class here can be rebuilt from its name and fields (see `reviveStoreError`).

export abstract class StoreError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  details(): Record<string, unknown> {
    return {};
  }
}

/**
 * The store cannot take the request now (unreachable, locked, disk full, the writer thread
 * died). Nothing of the request took effect; the same request may succeed later.
 */
export class StoreUnavailable extends StoreError {
  readonly code = 'StoreUnavailable';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class TenantExists extends StoreError {
  readonly code = 'TenantExists';
  readonly tenant: string;
  constructor(tenant: string) {
    super(`A tenant named "${tenant}" already exists.`);
    this.tenant = tenant;
  }
  override details() {
    return { tenant: this.tenant };
  }
}

export class TenantNotFound extends StoreError {
  readonly code = 'TenantNotFound';
  readonly tenant: string;
  constructor(tenant: string) {
    super(`No tenant named "${tenant}" exists.`);
    this.tenant = tenant;
  }
  override details() {
    return { tenant: this.tenant };
  }
}

/** A key id or key hash that is already stored (ids and hashes are unique store-wide). */
export class KeyExists extends StoreError {
  readonly code = 'KeyExists';
  readonly id: string;
  constructor(id: string) {
    super(`A key with id "${id}" or the same secret already exists.`);
    this.id = id;
  }
}

/** A live (not removed) dylib of that name exists in the tenant. */
export class DylibExists extends StoreError {
  readonly code = 'DylibExists';
  readonly dylib: string;
  constructor(tenant: string, dylib: string) {
    super(`Tenant "${tenant}" already has a stored dylib named "${dylib}".`);
    this.dylib = dylib;
  }
  override details() {
    return { dylib: this.dylib };
  }
}

/** No live (not removed) dylib of that name is stored for the tenant. */
export class DylibNotFound extends StoreError {
  readonly code = 'DylibNotFound';
  readonly dylib: string;
  constructor(tenant: string, dylib: string) {
    super(`Tenant "${tenant}" has no stored dylib named "${dylib}".`);
    this.dylib = dylib;
  }
  override details() {
    return { dylib: this.dylib };
  }
}

/** A module record (live or kept as removed) already holds that id in the tenant. */
export class ModuleExists extends StoreError {
  readonly code = 'ModuleExists';
  readonly module: string;
  constructor(tenant: string, module: string) {
    super(`Tenant "${tenant}" already has a stored module with id "${module}".`);
    this.module = module;
  }
}

/** No live (not removed) module with that id is stored for the tenant. */
export class ModuleNotFound extends StoreError {
  readonly code = 'ModuleNotFound';
  readonly module: string;
  constructor(tenant: string, module: string) {
    super(`Tenant "${tenant}" has no stored module with id "${module}".`);
    this.module = module;
  }
}

/** The database was migrated by a newer version of the service; this code must not touch it. */
export class StoreSchemaTooNew extends StoreError {
  readonly code = 'StoreSchemaTooNew';
  readonly found: number;
  readonly known: number;
  constructor(found: number, known: number, where: string) {
    super(
      `The store at ${where} has schema version ${found}, but this version of the service knows migrations up to ${known} only: ` +
        'run a newer version of the service (or restore a backup made before the upgrade).',
    );
    this.found = found;
    this.known = known;
  }
}

/** The SQLite file is not a database or fails its integrity check; it is never replaced. */
export class StoreCorrupt extends StoreError {
  readonly code = 'StoreCorrupt';
  readonly path: string;
  constructor(path: string, problem: string) {
    super(
      `The SQLite file ${path} is corrupt (${problem}); the service will not start on it and does not replace it: ` +
        'restore it from a backup, or move it away to start with an empty store.',
    );
    this.path = path;
  }
}

export class InvalidDatabaseUrl extends StoreError {
  readonly code = 'InvalidDatabaseUrl';
  constructor(shown: string, why: string) {
    super(`DATABASE_URL ${shown} ${why}: use sqlite:<path>, postgres://user:pass@host:port/db or memory:.`);
  }
}

/** A database URL as it may appear in a message or a log: quoted, without its password. */
export function redactUrl(url: string): string {
  return JSON.stringify(url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@'));
}

export class StoreClosed extends StoreError {
  readonly code = 'StoreClosed';
  constructor() {
    super('The store is closed.');
  }
}

/** An error as it crosses a thread boundary. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(err)) if (k !== 'name' && k !== 'message') fields[k] = v;
    if (err.stack !== undefined) fields['stack'] = err.stack;
    return { name: err.name, message: err.message, fields };
  }
  return { name: 'Error', message: String(err), fields: {} };
}

const revivable: Record<string, { prototype: StoreError }> = {
  StoreUnavailable,
  TenantExists,
  TenantNotFound,
  KeyExists,
  DylibExists,
  DylibNotFound,
  ModuleExists,
  ModuleNotFound,
  StoreSchemaTooNew,
  StoreCorrupt,
  StoreClosed,
};

/**
 * Rebuilds an error from the other thread: a store error gets its class back (so `instanceof`
 * works here), anything else becomes a plain Error with the same name, message and fields. The
 * stack is the other thread's, which is where the error happened.
 */
export function reviveStoreError(s: SerializedError): Error {
  const cls = revivable[s.name];
  const err: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(s.message);
  for (const [k, v] of Object.entries(s.fields)) {
    Object.defineProperty(err, k, { value: v, writable: true, configurable: true, enumerable: k !== 'stack' });
  }
  Object.defineProperty(err, 'message', { value: s.message, writable: true, configurable: true });
  Object.defineProperty(err, 'name', { value: s.name, writable: true, configurable: true });
  return err;
}
