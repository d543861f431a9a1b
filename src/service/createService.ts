// Builds the service the server runs from the validated config: the durable store, the pool of
// executor host processes, the tenants' sessions (recovered from the store by `recover()`,
// which the server runs once it listens), authentication and the key admin.

import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { ExecutorHostPool } from '../executor/ExecutorHostPool.ts';
import { ReplicaRouter } from '../replicas/ReplicaRouter.ts';
import { openStore, type Store } from '../store/Store.ts';
import { Authenticator } from '../tenants/Authenticator.ts';
import { Keys } from '../tenants/Keys.ts';
import { AppMetrics, type ServiceSnapshot, type TenantSnapshot } from '../metrics/AppMetrics.ts';
import type { HealthState, Service } from './Service.ts';
import { DEFAULT_TENANT, Sessions } from './Sessions.ts';

export interface CreateServiceOptions {
  /** Executors in this process's own threads rather than in host processes (tests that need no isolation). */
  readonly inProcessExecutors?: boolean;
}

export async function createService(config: Config, logger?: Logger, opts: CreateServiceOptions = {}): Promise<Service & { recover(): Promise<void> }> {
  const store = await openStore(config.databaseUrl, {
    codeCacheBytes: config.codeCacheBytes,
    onWarning: (message, err) => logger?.warn({ err }, message),
  });
  const hosts = opts.inProcessExecutors ? undefined : new ExecutorHostPool({ maxHosts: config.executorProcesses });
  const replicated = store.kind === 'postgres' && config.replicaUrl !== undefined;
  let sessions: Sessions;
  const metrics = new AppMetrics(() => snapshot(sessions, hosts));
  sessions = new Sessions({ config, store, hosts, logger, metrics, mode: replicated ? 'onDemand' : 'all' });
  let replicas: ReplicaRouter | undefined;
  if (replicated) {
    replicas = new ReplicaRouter({
      databaseUrl: config.databaseUrl,
      replicaId: config.replicaId ?? (config.replicaUrl as string),
      url: config.replicaUrl as string,
      leaseMs: config.leaseMs,
      sessions,
      logger,
    });
    await replicas.start();
    const router = replicas;
    sessions.announce = (change) => router.announce(change);
  }
  const auth = new Authenticator({
    store,
    adminToken: config.adminToken,
    defaultTenant: DEFAULT_TENANT,
    failuresPerMinute: config.authFailuresPerMinute,
  });
  const keys = new Keys(store, async (tenant) => (await store.getTenant(tenant)) !== undefined);
  return {
    sessions,
    auth,
    keys,
    store,
    replicas,
    recover: () => sessions.recover(),
    health: () => health(sessions, store),
    metrics,
    async close() {
      await replicas?.close();
      await sessions.close();
      await hosts?.close();
      await store.close();
    },
  };
}

async function health(sessions: Sessions, store: Store): Promise<HealthState> {
  const recovery = sessions.state;
  if (recovery.status === 'recovering') return { status: 'recovering', recovery };
  if (recovery.status === 'failed') return { status: 'unavailable', reason: `recovery failed: ${recovery.error}` };
  try {
    await store.getTenant(DEFAULT_TENANT);
    return { status: 'ok' };
  } catch (err) {
    return { status: 'unavailable', reason: `the store is unreachable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function snapshot(sessions: Sessions, hosts: ExecutorHostPool | undefined): ServiceSnapshot {
  const tenants: TenantSnapshot[] = [];
  const symbolsByState: Record<string, number> = { NeverSearched: 0, Materializing: 0, Resolved: 0, Emitted: 0, Ready: 0 };
  let dylibs = 0;
  let modules = 0;
  let executorRestarts = 0;
  let codeCacheHits = 0;
  let codeCacheMisses = 0;
  let reoptimizations = 0;
  let traps = 0;
  let stackOverflows = 0;
  let timeouts = 0;
  let failedMaterializations = 0;
  for (const s of sessions.all()) {
    const jit = s.jit;
    const stats = jit.executor.stats();
    const m = s.metrics();
    tenants.push({
      tenant: s.tenant,
      live: jit.executor.isRunning,
      memoryPages: stats.usage?.memoryPages,
      memoryLimitPages: jit.config.sessionMemoryLimitPages,
      tableElements: stats.usage?.tableElements,
      tableLimitElements: jit.config.sessionTableLimitElements,
      codeBytes: jit.codeBudget.usedBytes,
      codeLimitBytes: jit.codeBudget.limitBytes ?? Number.MAX_SAFE_INTEGER,
      executorHeapBytes: stats.usage?.heapUsedBytes,
      invokesInFlight: stats.inFlight,
      invokesQueued: stats.queued,
    });
    dylibs += m.dylibs;
    modules += m.modules;
    for (const [state, n] of Object.entries(m.symbolsByState) as [string, number][]) symbolsByState[state] = (symbolsByState[state] ?? 0) + n;
    executorRestarts += stats.restarts;
    codeCacheHits += jit.codeCache.hits;
    codeCacheMisses += jit.codeCache.misses;
    reoptimizations += m.reoptimizations;
    traps += m.traps;
    stackOverflows += m.stackOverflows;
    timeouts += m.timeouts;
    failedMaterializations += m.failedMaterializations;
  }
  return {
    tenants,
    dylibs,
    modules,
    symbolsByState,
    executorRestarts,
    codeCacheHits,
    codeCacheMisses,
    reoptimizations,
    traps,
    stackOverflows,
    timeouts,
    failedMaterializations,
    executorHosts: hosts?.startedHosts ?? 0,
  };
}
