// The tenants' sessions: one TenantSession (an ExecutionSession, a LazyJIT, an executor) per
// tenant, each with the tenant's own limits over the server's defaults. It recovers every
// tenant from the store at start (reporting its progress for /health), creates and deletes
// tenants (in the store first, so a tenant exists only once it is durable), and stops the
// executors of idle tenants: one idle for SESSION_IDLE_MS, or the least recently used beyond
// MAX_LIVE_SESSIONS. A stopped executor keeps nothing but its link log; the tenant's next
// request starts a fresh one that replays it, so its definitions stay and its runtime state is
// what instantiating the modules again produces, as after a restart.

import type { Logger } from 'pino';
import type { Config, JITConfig } from '../config.ts';
import type { ExecutorHostPool } from '../executor/ExecutorHostPool.ts';
import type { AppMetrics } from '../metrics/AppMetrics.ts';
import { LazyJIT } from '../jit/LazyJIT.ts';
import { TenantNotFound } from '../store/errors.ts';
import type { Store, TenantLimits, TenantRecord } from '../store/Store.ts';
import { recoverTenant, type RecoveryCounts } from './recovery.ts';
import { TenantSession, type SessionLimits } from './TenantSession.ts';

export const DEFAULT_TENANT = 'default';

/** Recovery logs its progress every this many definitions (dylibs, modules and reexports). */
const PROGRESS_LOG_EVERY = 1000;

export type RecoveryState =
  | { readonly status: 'recovering'; readonly tenantsDone: number; readonly tenants: number; readonly current?: string; readonly definitions: RecoveryCounts }
  | { readonly status: 'ok'; readonly tenants: number; readonly ms: number }
  | { readonly status: 'failed'; readonly error: string };

export interface TenantUsage {
  readonly dylibs: number;
  readonly modules: number;
  readonly codeBytes: number;
  /** Whether the tenant's executor is running (false: stopped while idle, or not yet needed). */
  readonly live: boolean;
}

export interface SessionsOptions {
  readonly config: Config;
  readonly store: Store;
  readonly hosts?: ExecutorHostPool | undefined;
  readonly logger?: Logger | undefined;
  /**
   * 'all' (one process owns every tenant): every tenant's session is recovered at start.
   * 'onDemand' (one of several replicas): a session is opened, and rebuilt from the store, when
   * this replica takes the tenant's lease (src/replicas/), and dropped when it loses it.
   */
  readonly mode?: 'all' | 'onDemand';
  /** Where compiles and module adds are counted. */
  readonly metrics?: AppMetrics | undefined;
}

export class Sessions {
  private readonly config: Config;
  private readonly store: Store;
  private readonly hosts: ExecutorHostPool | undefined;
  private readonly logger: Logger | undefined;
  private readonly sessions = new Map<string, TenantSession>();
  private readonly tenants = new Map<string, TenantRecord>();
  /** Last request time of each tenant whose executor runs, oldest first (a Map keeps insertion order). */
  private readonly live = new Map<string, number>();
  /** The key set last in `live`, so the tenant touched last can be touched again in place. */
  private newest: string | undefined;
  private recovery: RecoveryState = { status: 'recovering', tenantsDone: 0, tenants: 0, definitions: { dylibs: 0, modules: 0, reexports: 0 } };
  private readonly idleTimer: NodeJS.Timeout;
  private readonly mode: 'all' | 'onDemand';
  private readonly metrics: AppMetrics | undefined;
  /** Sessions being opened (replicas: a lease just taken), so concurrent requests share one. */
  private readonly opening = new Map<string, Promise<TenantSession>>();

  constructor(opts: SessionsOptions) {
    this.mode = opts.mode ?? 'all';
    this.metrics = opts.metrics;
    this.config = opts.config;
    this.store = opts.store;
    this.hosts = opts.hosts;
    this.logger = opts.logger;
    this.idleTimer = setInterval(() => this.stopIdle(), Math.min(60_000, Math.max(1000, this.config.sessionIdleMs / 4)));
    this.idleTimer.unref();
  }

  get state(): RecoveryState {
    return this.recovery;
  }

  /**
   * Defines every tenant's dylibs, modules and reexports again from the store. Open mode (no
   * ADMIN_TOKEN) makes sure the one tenant, `default`, exists.
   */
  async recover(): Promise<void> {
    const started = performance.now();
    try {
      let list = await this.store.listTenants();
      if (this.mode === 'onDemand') {
        // Replicas: sessions are rebuilt when their leases are taken, not at start.
        if (this.config.adminToken === undefined && !list.some((t) => t.name === DEFAULT_TENANT)) {
          await this.store.createTenant({ name: DEFAULT_TENANT, limits: {}, createdAt: new Date().toISOString() }).catch(() => {});
        }
        this.recovery = { status: 'ok', tenants: 0, ms: performance.now() - started };
        return;
      }
      if (this.config.adminToken === undefined && !list.some((t) => t.name === DEFAULT_TENANT)) {
        const record = { name: DEFAULT_TENANT, limits: {}, createdAt: new Date().toISOString() };
        await this.store.createTenant(record);
        list = [...list, record];
      }
      const definitions: RecoveryCounts = { dylibs: 0, modules: 0, reexports: 0 };
      let done = 0;
      this.logger?.info({ tenants: list.length }, 'recovering the tenants from the store');
      // A line every PROGRESS_LOG_EVERY definitions, so a long recovery shows it is moving.
      let nextLogAt = PROGRESS_LOG_EVERY;
      for (const t of list) {
        this.recovery = { status: 'recovering', tenantsDone: done, tenants: list.length, current: t.name, definitions: { ...definitions } };
        const session = await this.open(t);
        const counts = await recoverTenant(session, this.store, (c) => {
          const sum = { dylibs: definitions.dylibs + c.dylibs, modules: definitions.modules + c.modules, reexports: definitions.reexports + c.reexports };
          this.recovery = { status: 'recovering', tenantsDone: done, tenants: list.length, current: t.name, definitions: sum };
          const total = sum.dylibs + sum.modules + sum.reexports;
          if (total >= nextLogAt) {
            nextLogAt = total + PROGRESS_LOG_EVERY;
            this.logger?.info({ tenant: t.name, ...sum, tenantsDone: done, tenants: list.length }, 'recovering');
          }
        });
        definitions.dylibs += counts.dylibs;
        definitions.modules += counts.modules;
        definitions.reexports += counts.reexports;
        done++;
        this.logger?.info({ tenant: t.name, ...counts, tenantsDone: done, tenants: list.length }, 'recovered a tenant');
      }
      const ms = performance.now() - started;
      this.recovery = { status: 'ok', tenants: list.length, ms };
      this.logger?.info({ tenants: list.length, ...definitions, ms: Math.round(ms) }, 'recovery done');
    } catch (err) {
      this.recovery = { status: 'failed', error: err instanceof Error ? err.message : String(err) };
      throw err;
    }
  }

  hasSession(tenant: string): boolean {
    return this.sessions.has(tenant);
  }

  /** Opens `tenant`'s session and rebuilds it from the store (replicas: its lease was just taken). */
  openTenant(tenant: string): Promise<TenantSession> {
    const existing = this.sessions.get(tenant);
    if (existing) return Promise.resolve(existing);
    let p = this.opening.get(tenant);
    if (!p) {
      p = (async () => {
        const record = await this.store.getTenant(tenant);
        if (!record) throw new TenantNotFound(tenant);
        const session = await this.open(record);
        await recoverTenant(session, this.store);
        return session;
      })().finally(() => this.opening.delete(tenant));
      this.opening.set(tenant, p);
    }
    return p;
  }

  /** Closes `tenant`'s session here (replicas: another replica holds it now, or it was deleted). */
  async dropSession(tenant: string): Promise<void> {
    const s = this.sessions.get(tenant);
    this.sessions.delete(tenant);
    this.live.delete(tenant);
    if (this.mode === 'onDemand') this.tenants.delete(tenant);
    await s?.close();
  }

  /** Reads a tenant's limits again (another replica changed them). */
  async reloadTenant(tenant: string): Promise<void> {
    const record = await this.store.getTenant(tenant);
    const session = this.sessions.get(tenant);
    if (!record || !session) return;
    this.tenants.set(tenant, record);
    const eff = this.effectiveLimits(record.limits);
    session.limits = this.sessionLimits(record.limits, eff);
    session.jit.setLimits({ sessionCodeLimitBytes: eff.codeBytes, sessionMemoryLimitPages: eff.memoryPages, callTimeoutMs: eff.callTimeoutMs });
  }

  /** The session of `tenant` (TenantNotFound); counts as the tenant's activity. */
  session(tenant: string): TenantSession {
    const s = this.sessions.get(tenant);
    if (!s) throw new TenantNotFound(tenant);
    this.touch(tenant);
    return s;
  }

  /** Every session, for metrics and dumps across tenants. */
  all(): IterableIterator<TenantSession> {
    return this.sessions.values();
  }

  /** Tells other replicas about a tenant deleted or changed (set by the replica router). */
  announce: (change: { tenant: string; what: 'deleted' | 'changed' }) => Promise<void> = async () => {};

  /** Every tenant, as the store has them (replicas: whichever replica serves them). */
  async listTenants(): Promise<TenantRecord[]> {
    return this.mode === 'all' ? [...this.tenants.values()] : this.store.listTenants();
  }

  /** A tenant as the store has it (TenantNotFound). */
  async findTenant(name: string): Promise<TenantRecord> {
    const t = this.mode === 'all' ? this.tenants.get(name) : await this.store.getTenant(name);
    if (!t) throw new TenantNotFound(name);
    return t;
  }

  /** A tenant whose session is here (TenantNotFound otherwise). */
  getTenant(name: string): TenantRecord {
    const t = this.tenants.get(name);
    if (!t) throw new TenantNotFound(name);
    return t;
  }

  /** What a tenant uses, where its session lives here; replicas report a tenant served elsewhere as not live. */
  usage(name: string): TenantUsage {
    const s = this.sessions.get(name);
    if (!s) return { dylibs: 0, modules: 0, codeBytes: 0, live: false };
    const dylibs = s.jit.session.getJITDylibs().filter((d) => !s.jit.implOf(d) && d.name !== 'spectest').length;
    return { dylibs, modules: s.jit.moduleCount, codeBytes: s.jit.codeBudget.usedBytes, live: s.jit.executor.isRunning };
  }

  /** The limits in force for a tenant: its own, else the server's. */
  effectiveLimits(limits: TenantLimits): Required<TenantLimits> {
    const c = this.config;
    return {
      memoryPages: limits.memoryPages ?? c.sessionMemoryLimitPages,
      codeBytes: limits.codeBytes ?? c.sessionCodeLimitBytes,
      callTimeoutMs: Math.min(limits.callTimeoutMs ?? c.callTimeoutMs, c.maxCallTimeoutMs),
      dylibs: limits.dylibs ?? c.maxDylibs,
      modules: limits.modules ?? c.maxModules,
      requestsPerSecond: limits.requestsPerSecond ?? c.requestsPerSecond,
    };
  }

  /** Creates a tenant: durable first (TenantExists), then its (empty) session. */
  async createTenant(name: string, limits: TenantLimits): Promise<TenantRecord> {
    const record: TenantRecord = { name, limits, createdAt: new Date().toISOString() };
    await this.store.createTenant(record);
    if (this.mode === 'all') await this.open(record);
    return record;
  }

  /** Replaces a tenant's limits. Memory pages take effect when its executor next starts. */
  async updateTenant(name: string, limits: TenantLimits): Promise<TenantRecord> {
    const record = await this.store.updateTenantLimits(name, limits);
    const session = this.sessions.get(name);
    if (session) {
      this.tenants.set(name, record);
      const eff = this.effectiveLimits(record.limits);
      session.limits = this.sessionLimits(record.limits, eff);
      session.jit.setLimits({ sessionCodeLimitBytes: eff.codeBytes, sessionMemoryLimitPages: eff.memoryPages, callTimeoutMs: eff.callTimeoutMs });
    }
    await this.announce({ tenant: name, what: 'changed' });
    return record;
  }

  /** Deletes a tenant with its keys and definitions: the store first, then its session. */
  async deleteTenant(name: string): Promise<void> {
    await this.store.deleteTenant(name);
    const session = this.sessions.get(name);
    this.sessions.delete(name);
    this.tenants.delete(name);
    this.live.delete(name);
    await session?.close();
    await this.announce({ tenant: name, what: 'deleted' });
  }

  async close(): Promise<void> {
    clearInterval(this.idleTimer);
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
    this.sessions.clear();
  }

  private async open(t: TenantRecord): Promise<TenantSession> {
    const eff = this.effectiveLimits(t.limits);
    const jit = await LazyJIT.create(this.jitConfig(eff), { host: this.hosts, startExecutor: false, codeCache: this.store });
    jit.session.setErrorReporter((err) => this.logger?.error({ err, tenant: t.name }, 'JIT error with no waiting lookup'));
    const metrics = this.metrics;
    if (metrics) jit.onCompile((e) => metrics.observeCompile(e.kind, e.ms / 1000));
    const session = new TenantSession(t.name, jit, this.store, this.sessionLimits(t.limits, eff), { appMetrics: metrics, logger: this.logger });
    this.sessions.set(t.name, session);
    this.tenants.set(t.name, t);
    return session;
  }

  private jitConfig(eff: Required<TenantLimits>): JITConfig {
    const c = this.config;
    return {
      callTimeoutMs: eff.callTimeoutMs,
      maxCallTimeoutMs: c.maxCallTimeoutMs,
      memoryLimitPages: c.memoryLimitPages,
      sessionMemoryLimitPages: eff.memoryPages,
      sessionCodeLimitBytes: eff.codeBytes,
      executorHeapLimitMb: c.executorHeapLimitMb,
      maxFunctionsPerModule: c.maxFunctionsPerModule,
      tableLimitElements: c.tableLimitElements,
      sessionTableLimitElements: c.sessionTableLimitElements,
      reoptimizeThreshold: c.reoptimizeThreshold,
      reoptimizeMaxFunctions: c.reoptimizeMaxFunctions,
      partitionBudgetBytes: c.partitionBudgetBytes,
    };
  }

  private sessionLimits(limits: TenantLimits, eff: Required<TenantLimits>): SessionLimits {
    // A tenant's own callTimeoutMs is a limit: a request's timeoutMs may lower it, never raise it.
    // Without one, the server's rule holds (the JIT's): up to MAX_CALL_TIMEOUT_MS on request.
    return { dylibs: eff.dylibs, modules: eff.modules, maxCallTimeoutMs: limits.callTimeoutMs === undefined ? undefined : eff.callTimeoutMs };
  }

  private touch(tenant: string): void {
    // Every request touches its tenant. Moving a key to the end of a Map is a delete and a set,
    // and a delete leaves a hole the Map compacts away later: about 4 µs per invoke in a profile.
    // The tenant touched last, if still live, is already at the end: its time is updated in place.
    // (Once stopped or dropped it is absent, and coming back may push another tenant out below.)
    if (tenant === this.newest && this.live.has(tenant)) {
      this.live.set(tenant, Date.now());
      return;
    }
    this.live.delete(tenant);
    this.live.set(tenant, Date.now());
    this.newest = tenant;
    if (this.live.size > this.config.maxLiveSessions) {
      const [oldest] = this.live.keys();
      if (oldest !== undefined && oldest !== tenant) this.stop(oldest, 'beyond MAX_LIVE_SESSIONS');
    }
  }

  /** Stops the executors of tenants idle for SESSION_IDLE_MS. */
  private stopIdle(): void {
    const cutoff = Date.now() - this.config.sessionIdleMs;
    for (const [tenant, at] of this.live) {
      if (at > cutoff) break;
      this.stop(tenant, 'idle');
    }
  }

  private stop(tenant: string, why: string): void {
    this.live.delete(tenant);
    const s = this.sessions.get(tenant);
    if (!s || !s.jit.executor.isRunning) return;
    this.logger?.info({ tenant, why }, "stopping a tenant's executor");
    s.jit.executor
      .suspend()
      .then((stopped) => {
        // Busy (a call outliving SESSION_IDLE_MS, an add): try again once it has been idle that
        // long, or nothing would ever stop it, as the tenant's next request may never come.
        if (!stopped && !this.live.has(tenant) && this.sessions.get(tenant) === s) {
          this.live.set(tenant, Date.now());
          this.newest = tenant;
        }
      })
      .catch((err: unknown) => this.logger?.error({ err, tenant }, 'stopping an executor failed'));
  }
}
