// Where a tenant's requests are served when several replicas share one PostgreSQL. A tenant's
// live session (instances, memories, compiled code) must live in one replica at a time, or two
// replicas would give it two diverging memories; so it lives where its lease is (LeaseTable).
// A request for a tenant is served here if this replica holds the lease; forwarded to the
// replica that holds it otherwise; and if nobody holds it (never taken, or its holder died and
// the lease ran out), this replica takes it and rebuilds the session from the store.
//
// A held lease is renewed every quarter of its time. This replica stops serving a tenant (drops
// its session) when a renewal says the lease is gone, and also, on its own clock, once a lease
// has gone unrenewed for three quarters of its time, before any other replica can take it over:
// two replicas never serve the same tenant at once, even when this one cannot reach the database.
// Every definition is durable before it is acknowledged, so the new holder rebuilds all of them;
// the runtime state it starts from is what instantiating the modules again produces.

import type { Logger } from 'pino';
import type { Sessions } from '../service/Sessions.ts';
import { LeaseTable, type TenantChange } from './LeaseTable.ts';

export type Placement = { readonly local: true } | { readonly local: false; readonly url: string; readonly replica: string };

export interface ReplicaOptions {
  readonly databaseUrl: string;
  /** This replica's name in the lease table. */
  readonly replicaId: string;
  /** Where other replicas forward requests for the tenants this one holds. */
  readonly url: string;
  readonly leaseMs: number;
  readonly sessions: Sessions;
  readonly logger?: Logger | undefined;
}

export class ReplicaRouter {
  readonly replicaId: string;
  readonly url: string;
  private readonly leases: LeaseTable;
  private readonly leaseMs: number;
  private readonly sessions: Sessions;
  private readonly logger: Logger | undefined;
  /** Tenants this replica serves, with when (performance.now()) their lease was last confirmed. */
  private readonly held = new Map<string, number>();
  /** Acquisitions in progress, so concurrent first requests for a tenant take it once. */
  private readonly acquiring = new Map<string, Promise<Placement>>();
  private readonly timer: NodeJS.Timeout;

  constructor(opts: ReplicaOptions) {
    this.replicaId = opts.replicaId;
    this.url = opts.url;
    this.leases = new LeaseTable(opts.databaseUrl);
    this.leaseMs = opts.leaseMs;
    this.sessions = opts.sessions;
    this.logger = opts.logger;
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.leaseMs / 4)));
    this.timer.unref();
  }

  async start(): Promise<void> {
    await this.leases.listen(
      (c) => this.onTenantChange(c),
      (err) => this.logger?.warn({ err }, 'lost the notification connection to PostgreSQL; reconnecting'),
    );
  }

  /** Where `tenant`'s request is served. `forwarded`: it came from another replica, which believed this one holds it. */
  async place(tenant: string, forwarded: boolean): Promise<Placement> {
    if (this.holds(tenant)) return { local: true };
    let p = this.acquiring.get(tenant);
    if (!p) {
      p = this.acquire(tenant, forwarded).finally(() => this.acquiring.delete(tenant));
      this.acquiring.set(tenant, p);
    }
    return p;
  }

  /** Whether this replica still serves `tenant` (its lease confirmed recently enough); stops serving it if not. */
  serves(tenant: string): boolean {
    return this.holds(tenant);
  }

  /** Tells the other replicas that `tenant` was deleted or its limits changed. */
  async announce(change: TenantChange): Promise<void> {
    await this.leases.notify(change).catch((err: unknown) => this.logger?.warn({ err }, 'could not announce a tenant change'));
  }

  /** Gives up every lease (graceful shutdown: the others take the tenants over at once, not after expiry). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const tenants = [...this.held.keys()];
    this.held.clear();
    await this.leases.release(this.replicaId, tenants).catch(() => {});
    await this.leases.close();
  }

  private holds(tenant: string): boolean {
    const at = this.held.get(tenant);
    if (at === undefined) return false;
    if (performance.now() - at < (this.leaseMs * 3) / 4) return true;
    // Unconfirmed for too long: another replica may take it soon. Stop serving it first.
    this.lose(tenant, 'its lease could not be renewed in time');
    return false;
  }

  private async acquire(tenant: string, forwarded: boolean): Promise<Placement> {
    const asked = performance.now();
    const r = await this.leases.acquire(tenant, this.replicaId, this.url, this.leaseMs);
    // (A forwarded request that lands here is answered by the caller, never sent round again.)
    void forwarded;
    if (!r.ours) return { local: false, url: r.holder.url, replica: r.holder.replica };
    if (!this.sessions.hasSession(tenant)) {
      this.logger?.info({ tenant, replica: this.replicaId }, "took a tenant's lease; rebuilding its session from the store");
      await this.sessions.openTenant(tenant);
    }
    this.held.set(tenant, asked);
    return { local: true };
  }

  private async renew(): Promise<void> {
    const tenants = [...this.held.keys()];
    if (tenants.length === 0) return;
    const asked = performance.now();
    let still: Set<string>;
    try {
      still = await this.leases.renew(this.replicaId, tenants, this.leaseMs);
    } catch (err) {
      this.logger?.warn({ err }, 'could not renew leases; the sessions stop when their leases would run out');
      for (const t of tenants) this.holds(t);
      return;
    }
    for (const t of tenants) {
      if (still.has(t)) {
        if (this.held.has(t)) this.held.set(t, asked);
      } else {
        this.lose(t, 'another replica holds its lease');
      }
    }
  }

  private lose(tenant: string, why: string): void {
    if (!this.held.delete(tenant)) return;
    this.logger?.warn({ tenant, why }, 'no longer serving a tenant');
    this.sessions.dropSession(tenant).catch((err: unknown) => this.logger?.error({ err, tenant }, 'dropping a session failed'));
  }

  private onTenantChange(c: TenantChange): void {
    if (c.what === 'deleted') {
      this.held.delete(c.tenant);
      this.sessions.dropSession(c.tenant).catch(() => {});
    } else {
      this.sessions.reloadTenant(c.tenant).catch((err: unknown) => this.logger?.warn({ err, tenant: c.tenant }, 'reloading a tenant failed'));
    }
  }
}
