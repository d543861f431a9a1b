// The Store every implementation hands out: reads go to `reads`, changes to `writes` (the same
// StoreCore for memory and PostgreSQL; for a SQLite file, a read connection here and the
// writer thread there). What it adds is buffering of uses: touchKey and getCode are called per
// request, and a durable write each time would cost a commit (an fsync) per request for a
// fact nobody needs to the millisecond. Uses collect here and are written together about once
// a second, before listKeys shows them, before putCode evicts by them, and at close.

import { StoreClosed } from './errors.ts';
import type { StoreReads, StoreWrites } from './sql/StoreCore.ts';
import type {
  DefinitionRecord,
  KeyRecord,
  NewModule,
  NewReexports,
  Store,
  StoreOptions,
  StoreStats,
  TenantLimits,
  TenantRecord,
} from './Store.ts';

const FLUSH_AFTER_MS = 1000;

export class BufferedStore implements Store {
  readonly kind: Store['kind'];
  private readonly reads: StoreReads;
  private readonly writes: StoreWrites;
  private readonly codeCacheBytes: number;
  private readonly warn: (message: string, err: unknown) => void;
  private readonly release: () => Promise<void>;
  private readonly keyUses = new Map<string, string>();
  private readonly codeUses = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private closed = false;

  constructor(
    kind: Store['kind'],
    reads: StoreReads,
    writes: StoreWrites,
    opts: StoreOptions,
    release: () => Promise<void>,
  ) {
    this.kind = kind;
    this.reads = reads;
    this.writes = writes;
    this.codeCacheBytes = opts.codeCacheBytes;
    this.warn = opts.onWarning ?? (() => {});
    this.release = release;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.flush();
    await this.release();
  }

  // ---- tenants and keys

  createTenant(t: TenantRecord): Promise<void> {
    return this.whileOpen(() => this.writes.createTenant(t));
  }
  updateTenantLimits(name: string, limits: TenantLimits): Promise<TenantRecord> {
    return this.whileOpen(() => this.writes.updateTenantLimits(name, limits));
  }
  deleteTenant(name: string): Promise<void> {
    return this.whileOpen(() => this.writes.deleteTenant(name));
  }
  listTenants(): Promise<TenantRecord[]> {
    return this.whileOpen(() => this.reads.listTenants());
  }
  getTenant(name: string): Promise<TenantRecord | undefined> {
    return this.whileOpen(() => this.reads.getTenant(name));
  }
  createKey(k: KeyRecord): Promise<void> {
    return this.whileOpen(() => this.writes.createKey(k));
  }
  listKeys(tenant: string): Promise<KeyRecord[]> {
    return this.whileOpen(async () => {
      await this.flush();
      return this.reads.listKeys(tenant);
    });
  }
  findKeyByHash(hash: string): Promise<KeyRecord | undefined> {
    return this.whileOpen(async () => {
      const key = await this.reads.findKeyByHash(hash);
      const used = key && this.keyUses.get(key.id);
      return used !== undefined && key && (key.lastUsedAt === undefined || key.lastUsedAt < used)
        ? { ...key, lastUsedAt: used }
        : key;
    });
  }
  deleteKey(tenant: string, id: string): Promise<boolean> {
    return this.whileOpen(() => this.writes.deleteKey(tenant, id));
  }
  touchKey(id: string, at: string): Promise<void> {
    return this.whileOpen(async () => {
      const prev = this.keyUses.get(id);
      if (prev === undefined || prev < at) this.keyUses.set(id, at);
      this.schedule();
    });
  }

  // ---- definitions

  createDylib(tenant: string, name: string, linkOrder: string[]): Promise<number> {
    return this.whileOpen(() => this.writes.createDylib(tenant, name, linkOrder));
  }
  setLinkOrders(tenant: string, changes: { name: string; linkOrder: string[] }[]): Promise<void> {
    return this.whileOpen(() => this.writes.setLinkOrders(tenant, changes));
  }
  removeDylib(tenant: string, name: string, opts: { keep: boolean }): Promise<void> {
    return this.whileOpen(() => this.writes.removeDylib(tenant, name, opts));
  }
  addModule(tenant: string, m: NewModule): Promise<number> {
    return this.whileOpen(() => this.writes.addModule(tenant, m));
  }
  removeModule(tenant: string, id: string, opts: { keep: boolean }): Promise<void> {
    return this.whileOpen(() => this.writes.removeModule(tenant, id, opts));
  }
  purge(tenant: string, what: { modules?: string[]; dylibSeqs?: number[] }): Promise<void> {
    return this.whileOpen(() => this.writes.purge(tenant, what));
  }
  addReexports(tenant: string, r: NewReexports): Promise<number> {
    return this.whileOpen(() => this.writes.addReexports(tenant, r));
  }
  loadDefinitions(tenant: string): Promise<DefinitionRecord[]> {
    return this.whileOpen(() => this.reads.loadDefinitions(tenant));
  }
  loadBlob(hash: string): Promise<Uint8Array | undefined> {
    return this.whileOpen(() => this.reads.loadBlob(hash));
  }
  blobStats(): Promise<StoreStats> {
    return this.whileOpen(() => this.reads.blobStats());
  }

  // ---- code cache

  getCode(key: string): Promise<Uint8Array | undefined> {
    return this.whileOpen(async () => {
      const bytes = await this.reads.peekCode(key);
      if (bytes) {
        this.codeUses.set(key, this.tick());
        this.schedule();
      }
      return bytes;
    });
  }
  putCode(key: string, bytes: Uint8Array): Promise<void> {
    return this.whileOpen(async () => {
      await this.flush();
      await this.writes.putCode(key, bytes, this.tick(), this.codeCacheBytes);
    });
  }
  codeCacheStats(): Promise<StoreStats> {
    return this.whileOpen(() => this.reads.codeCacheStats());
  }

  // ---- buffering

  /** Microseconds since the epoch, strictly increasing in this process (so uses in one millisecond keep their order). */
  private tick(): number {
    this.lastTick = Math.max(this.lastTick + 1, Date.now() * 1000);
    return this.lastTick;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, FLUSH_AFTER_MS);
    // Buffered uses are not worth keeping a process alive for.
    this.timer.unref();
  }

  /** Writes the buffered uses; never throws (a failure puts them back for the next try). */
  private async flush(): Promise<void> {
    if (this.keyUses.size === 0 && this.codeUses.size === 0) return;
    const keys = [...this.keyUses];
    const code = [...this.codeUses];
    this.keyUses.clear();
    this.codeUses.clear();
    try {
      await this.writes.applyTouches({ keys, code });
    } catch (err) {
      this.warn('could not write the last uses of keys and code cache entries; will try again', err);
      for (const [id, at] of keys) {
        const now = this.keyUses.get(id);
        if (now === undefined || now < at) this.keyUses.set(id, at);
      }
      for (const [key, tick] of code) if (!this.codeUses.has(key)) this.codeUses.set(key, tick);
      this.schedule();
    }
  }

  private async whileOpen<T>(f: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosed();
    return f();
  }
}
