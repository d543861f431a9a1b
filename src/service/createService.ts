// Builds the service the server runs from the validated config: the durable store, the pool of
// executor host processes, the tenants' sessions (recovered from the store by `recover()`,
// which the server runs once it listens), authentication and the key admin.

import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { ExecutorHostPool } from '../executor/ExecutorHostPool.ts';
import { openStore, type Store } from '../store/Store.ts';
import { Authenticator } from '../tenants/Authenticator.ts';
import { Keys } from '../tenants/Keys.ts';
import type { ServiceMetrics } from './JITService.ts';
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
  const sessions = new Sessions({ config, store, hosts, logger });
  const auth = new Authenticator({
    store,
    adminToken: config.adminToken,
    defaultTenant: DEFAULT_TENANT,
    failuresPerMinute: config.authFailuresPerMinute,
  });
  const keys = new Keys(store, (tenant) => sessions.listTenants().some((t) => t.name === tenant));
  return {
    sessions,
    auth,
    keys,
    store,
    recover: () => sessions.recover(),
    health: () => health(sessions, store),
    metrics: () => sumMetrics([...sessions.all()].map((s) => s.metrics())),
    async close() {
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

function sumMetrics(all: readonly ServiceMetrics[]): ServiceMetrics {
  const sum = (k: Exclude<keyof ServiceMetrics, 'symbolsByState'>) => all.reduce((n, m) => n + m[k], 0);
  const symbolsByState = { NeverSearched: 0, Materializing: 0, Resolved: 0, Emitted: 0, Ready: 0 };
  for (const m of all) for (const [state, n] of Object.entries(m.symbolsByState)) symbolsByState[state as keyof typeof symbolsByState] += n;
  return {
    dylibs: sum('dylibs'),
    modules: sum('modules'),
    symbolsByState,
    compiles: sum('compiles'),
    reoptimizations: sum('reoptimizations'),
    compileMs: sum('compileMs'),
    failedMaterializations: sum('failedMaterializations'),
    invokes: sum('invokes'),
    invokeRunMs: sum('invokeRunMs'),
    traps: sum('traps'),
    stackOverflows: sum('stackOverflows'),
    timeouts: sum('timeouts'),
    codeCacheHits: sum('codeCacheHits'),
    codeCacheMisses: sum('codeCacheMisses'),
  };
}
