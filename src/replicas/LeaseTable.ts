// Leases on tenants' sessions in PostgreSQL (table session_leases, migration 0002): which replica
// holds a tenant's live session, at which URL it takes requests, until when. Expiry is the
// database's clock, so replicas' clocks need not agree; taking a lease is one atomic upsert that
// succeeds only if the lease is free, expired, or already ours. Also the notification channel
// replicas use to tell each other about tenants deleted or changed (LISTEN/NOTIFY).

import pg from 'pg';
import { StoreUnavailable } from '../store/errors.ts';

export interface Lease {
  readonly replica: string;
  readonly url: string;
}

export const TENANTS_CHANNEL = 'wasmjit_tenants';

export interface TenantChange {
  readonly tenant: string;
  readonly what: 'deleted' | 'changed';
}

export class LeaseTable {
  private readonly pool: pg.Pool;
  private listener: pg.Client | undefined;

  constructor(databaseUrl: string) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 5000 });
    // A connection PostgreSQL dropped while idle is not an error of any request.
    this.pool.on('error', () => {});
  }

  /** Takes (or renews) the lease on `tenant` if it is free, expired or ours; else says who holds it. */
  async acquire(tenant: string, replica: string, url: string, ttlMs: number): Promise<{ ours: true } | { ours: false; holder: Lease }> {
    const taken = await this.q(
      `INSERT INTO session_leases (tenant, replica, url, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (tenant) DO UPDATE SET replica = EXCLUDED.replica, url = EXCLUDED.url, expires_at = EXCLUDED.expires_at
       WHERE session_leases.expires_at < now() OR session_leases.replica = EXCLUDED.replica
       RETURNING replica`,
      [tenant, replica, url, ttlMs],
    );
    if (taken.length > 0) return { ours: true };
    const held = await this.q('SELECT replica, url FROM session_leases WHERE tenant = $1 AND expires_at >= now()', [tenant]);
    const row = held[0];
    // Expired between the two statements: the caller tries again.
    if (!row) return this.acquire(tenant, replica, url, ttlMs);
    return { ours: false, holder: { replica: String(row['replica']), url: String(row['url']) } };
  }

  /** Extends the leases `replica` still holds among `tenants`; returns those it holds. */
  async renew(replica: string, tenants: readonly string[], ttlMs: number): Promise<Set<string>> {
    if (tenants.length === 0) return new Set();
    const rows = await this.q(
      `UPDATE session_leases SET expires_at = now() + $3 * interval '1 millisecond'
       WHERE replica = $1 AND tenant = ANY($2::text[]) AND expires_at >= now() RETURNING tenant`,
      [replica, [...tenants], ttlMs],
    );
    return new Set(rows.map((r) => String(r['tenant'])));
  }

  async release(replica: string, tenants: readonly string[]): Promise<void> {
    if (tenants.length === 0) return;
    await this.q('DELETE FROM session_leases WHERE replica = $1 AND tenant = ANY($2::text[])', [replica, [...tenants]]);
  }

  async notify(change: TenantChange): Promise<void> {
    await this.q('SELECT pg_notify($1, $2)', [TENANTS_CHANNEL, JSON.stringify(change)]);
  }

  /** Calls `onChange` for every tenant change any replica announces; reconnects if the connection drops. */
  async listen(onChange: (c: TenantChange) => void, onError: (err: unknown) => void): Promise<void> {
    const connect = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: this.connectionString });
      client.on('notification', (msg) => {
        if (msg.channel !== TENANTS_CHANNEL || msg.payload === undefined) return;
        try {
          onChange(JSON.parse(msg.payload) as TenantChange);
        } catch (err) {
          onError(err);
        }
      });
      client.on('error', (err) => {
        onError(err);
        this.listener = undefined;
        setTimeout(() => void connect().catch(onError), 1000).unref();
      });
      await client.connect();
      await client.query(`LISTEN ${TENANTS_CHANNEL}`);
      this.listener = client;
    };
    await connect();
  }

  async close(): Promise<void> {
    const l = this.listener;
    this.listener = undefined;
    await Promise.all([l?.end().catch(() => {}), this.pool.end().catch(() => {})]);
  }

  private get connectionString(): string {
    return (this.pool.options as { connectionString?: string }).connectionString ?? '';
  }

  private async q(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      return (await this.pool.query(sql, params)).rows as Record<string, unknown>[];
    } catch (err) {
      throw new StoreUnavailable(`The lease table cannot be reached: ${err instanceof Error ? err.message : String(err)}`, 1);
    }
  }
}
