// A tenant's API keys, for the admin routes: made (the key is shown once, the store keeps its
// hash), listed (without the key) and revoked (deleted: it stops working at once, since every
// request looks its key up).

import { TenantNotFound } from '../store/errors.ts';
import type { KeyRecord, Scope, Store } from '../store/Store.ts';
import { generateKey } from './apiKey.ts';

export const ALL_SCOPES: readonly Scope[] = ['read', 'write', 'invoke'];

export interface KeyView {
  readonly id: string;
  readonly name?: string;
  readonly scopes: Scope[];
  readonly createdAt: string;
  readonly lastUsedAt?: string;
}

/** A key id the tenant does not have. */
export class KeyNotFound extends Error {
  readonly code = 'NotFound';
  readonly tenant: string;
  readonly key: string;
  constructor(tenant: string, key: string) {
    super(`Tenant "${tenant}" has no key with id "${key}".`);
    this.name = 'KeyNotFound';
    this.tenant = tenant;
    this.key = key;
  }
  details(): Record<string, unknown> {
    return { tenant: this.tenant, key: this.key };
  }
}

export class Keys {
  private readonly store: Store;
  private readonly tenantExists: (tenant: string) => Promise<boolean>;

  constructor(store: Store, tenantExists: (tenant: string) => Promise<boolean>) {
    this.store = store;
    this.tenantExists = tenantExists;
  }

  async create(tenant: string, opts: { name?: string | undefined; scopes?: readonly Scope[] | undefined }): Promise<KeyView & { key: string }> {
    if (!(await this.tenantExists(tenant))) throw new TenantNotFound(tenant);
    const { id, key, hash } = generateKey();
    const scopes = [...new Set(opts.scopes ?? ALL_SCOPES)];
    const record: KeyRecord = { id, tenant, scopes, hash, createdAt: new Date().toISOString(), ...(opts.name ? { name: opts.name } : {}) };
    await this.store.createKey(record);
    return { ...view(record), key };
  }

  async list(tenant: string): Promise<KeyView[]> {
    if (!(await this.tenantExists(tenant))) throw new TenantNotFound(tenant);
    return (await this.store.listKeys(tenant)).map(view);
  }

  async revoke(tenant: string, id: string): Promise<void> {
    if (!(await this.tenantExists(tenant))) throw new TenantNotFound(tenant);
    if (!(await this.store.deleteKey(tenant, id))) throw new KeyNotFound(tenant, id);
  }
}

function view(k: KeyRecord): KeyView {
  return {
    id: k.id,
    ...(k.name !== undefined ? { name: k.name } : {}),
    scopes: [...k.scopes],
    createdAt: k.createdAt,
    ...(k.lastUsedAt !== undefined ? { lastUsedAt: k.lastUsedAt } : {}),
  };
}
