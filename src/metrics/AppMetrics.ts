// The service's Prometheus metrics: what an operator needs to run it. Events are counted when
// they happen, at the cost of a counter or a histogram bucket (requests, invokes by outcome,
// compiles by tier, module adds by mode, limits hit); everything else is read at scrape time from
// a snapshot of the service (per tenant: how close it is to its limits, its executor's heap and
// queue; in total: definitions, restarts, the code cache). Names follow Prometheus' conventions
// (base units, `_total` counters, no `_total` on gauges); `promtool check metrics` runs on the
// exposition in the tests. Node's process metrics are included (event-loop lag shows whether
// anything ever blocks the server) except the three prom-client names that break the convention.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One tenant's session, as the scrape sees it. */
export interface TenantSnapshot {
  readonly tenant: string;
  /** Whether its executor runs (stopped while idle). */
  readonly live: boolean;
  readonly memoryPages: number | undefined;
  readonly memoryLimitPages: number;
  readonly tableElements: number | undefined;
  readonly tableLimitElements: number;
  readonly codeBytes: number;
  readonly codeLimitBytes: number;
  readonly executorHeapBytes: number | undefined;
  readonly invokesInFlight: number;
  readonly invokesQueued: number;
}

export interface ServiceSnapshot {
  readonly tenants: readonly TenantSnapshot[];
  readonly dylibs: number;
  readonly modules: number;
  readonly symbolsByState: Readonly<Record<string, number>>;
  /** Counters kept by the sessions, summed (monotonic while the tenants live). */
  readonly executorRestarts: number;
  readonly codeCacheHits: number;
  readonly codeCacheMisses: number;
  readonly reoptimizations: number;
  readonly traps: number;
  readonly stackOverflows: number;
  readonly timeouts: number;
  readonly failedMaterializations: number;
  readonly executorHosts: number;
}

export type CompileKind = 'globals' | 'bodies' | 'whole' | 'optimized';

/** The compile kinds as operators think of them: the baseline tier, the optimized tier, setup. */
const TIER: Readonly<Record<CompileKind, string>> = { globals: 'globals', bodies: 'baseline', whole: 'eager', optimized: 'optimized' };

export class AppMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status_code'>;
  readonly #requestSeconds: Histogram<'method' | 'route'>;
  readonly #invokeSeconds: Histogram<'outcome'>;
  readonly #compileSeconds: Histogram<'tier'>;
  readonly #addSeconds: Histogram<'mode'>;
  readonly #addFailures: Counter<'mode' | 'code'>;
  readonly #limitsHit: Counter<'limit'>;
  readonly #source: () => ServiceSnapshot;
  /** The snapshot of the scrape in progress: taken by its first collector, read by all. */
  #snapshot: ServiceSnapshot | undefined;

  constructor(snapshot: () => ServiceSnapshot) {
    this.#source = snapshot;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters (`_total`), which promtool rightly refuses.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    this.#requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by route pattern and status.', labelNames: ['method', 'route', 'status_code'], registers });
    this.#requestSeconds = new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request latency, by route pattern.', labelNames: ['method', 'route'], buckets: LATENCY_BUCKETS, registers });
    this.#invokeSeconds = new Histogram({
      name: 'wasmjit_invoke_duration_seconds',
      help: 'Invokes as the client sees them (looking up, compiling, running), by outcome: ok or the error code.',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#compileSeconds = new Histogram({
      name: 'wasmjit_compile_duration_seconds',
      help: 'Compiling and linking one piece, by tier: baseline (a first call), optimized (a hot function), eager (a whole module), globals (a module add).',
      labelNames: ['tier'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#addSeconds = new Histogram({ name: 'wasmjit_module_add_duration_seconds', help: 'Module adds that succeeded, by mode (lazy or eager).', labelNames: ['mode'], buckets: LATENCY_BUCKETS, registers });
    this.#addFailures = new Counter({ name: 'wasmjit_module_add_failures_total', help: 'Module adds refused, by mode and error code.', labelNames: ['mode', 'code'], registers });
    this.#limitsHit = new Counter({ name: 'wasmjit_limit_exceeded_total', help: 'Requests refused with ResourceExhausted, by the limit they hit (details.limit).', labelNames: ['limit'], registers });

    // Read once per scrape: every gauge below sets itself from the same snapshot.
    const snap = (): ServiceSnapshot => (this.#snapshot ??= this.#source());
    const gauge = (name: string, help: string, set: (g: Gauge, s: ServiceSnapshot) => void, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          set(this, snap());
        },
      });
    const perTenant = (name: string, help: string, value: (t: TenantSnapshot) => number | undefined) =>
      gauge(name, help, (g, s) => {
        for (const t of s.tenants) {
          const v = value(t);
          if (v !== undefined) g.set({ tenant: t.tenant }, v);
        }
      }, ['tenant']);
    gauge('wasmjit_tenants', 'Tenants with a session in this process.', (g, s) => g.set(s.tenants.length));
    gauge('wasmjit_live_sessions', 'Tenant sessions whose executor runs (the others stopped while idle).', (g, s) => g.set(s.tenants.filter((t) => t.live).length));
    gauge('wasmjit_executor_hosts', 'Executor host processes running.', (g, s) => g.set(s.executorHosts));
    gauge('wasmjit_dylibs', 'Dylibs defined now, implementation dylibs and spectest included.', (g, s) => g.set(s.dylibs));
    gauge('wasmjit_modules', 'Modules currently added (not removed).', (g, s) => g.set(s.modules));
    gauge('wasmjit_symbols', 'Symbols defined now, by state.', (g, s) => {
      for (const [state, n] of Object.entries(s.symbolsByState)) g.set({ state }, n);
    }, ['state']);
    gauge('wasmjit_invokes_in_flight', 'Invokes running in executors now.', (g, s) => g.set(s.tenants.reduce((n, t) => n + t.invokesInFlight, 0)));
    gauge('wasmjit_invokes_queued', 'Invokes waiting behind a running one in their executor.', (g, s) => g.set(s.tenants.reduce((n, t) => n + t.invokesQueued, 0)));
    perTenant('wasmjit_session_memory_pages', "Pages all of a session's linear memories hold (reported by its executor).", (t) => t.memoryPages);
    perTenant('wasmjit_session_memory_limit_pages', "The session's memory budget (SESSION_MEMORY_LIMIT_PAGES or the tenant's memoryPages).", (t) => t.memoryLimitPages);
    perTenant('wasmjit_session_table_elements', "Elements all of a session's tables hold.", (t) => t.tableElements);
    perTenant('wasmjit_session_table_limit_elements', "The session's table budget (SESSION_TABLE_LIMIT_ELEMENTS).", (t) => t.tableLimitElements);
    perTenant('wasmjit_session_code_bytes', 'Bytes of compiled wasm a session holds.', (t) => t.codeBytes);
    perTenant('wasmjit_session_code_limit_bytes', "The session's code budget (SESSION_CODE_LIMIT_BYTES or the tenant's codeBytes).", (t) => t.codeLimitBytes);
    perTenant('wasmjit_executor_heap_used_bytes', "V8 heap a session's executor uses (its limit is EXECUTOR_HEAP_LIMIT_MB).", (t) => t.executorHeapBytes);

    const total = (name: string, help: string, value: (s: ServiceSnapshot) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          // The sessions keep the running totals; this mirrors them.
          this.reset();
          this.inc(value(snap()));
        },
      });
    total('wasmjit_executor_restarts_total', 'Executor restarts (a call past its time limit, heap exhaustion, a host that died).', (s) => s.executorRestarts);
    total('wasmjit_code_cache_hits_total', "Optimizing compiles answered from the code cache.", (s) => s.codeCacheHits);
    total('wasmjit_code_cache_misses_total', 'Optimizing compiles that ran binaryen (and were cached).', (s) => s.codeCacheMisses);
    total('wasmjit_reoptimizations_total', 'Hot functions given an optimized tier.', (s) => s.reoptimizations);
    total('wasmjit_traps_total', 'Invokes that trapped.', (s) => s.traps);
    total('wasmjit_stack_overflows_total', 'Invokes that exhausted the call stack.', (s) => s.stackOverflows);
    total('wasmjit_timeouts_total', 'Invokes stopped at their time limit.', (s) => s.timeouts);
    total('wasmjit_failed_materializations_total', 'Lookups and invokes that failed to materialize a symbol.', (s) => s.failedMaterializations);
  }

  /** `route` is the route pattern (e.g. /dylibs/:dylib), never the raw URL, to bound label cardinality. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.#requests.inc({ method, route, status_code: String(statusCode) });
    this.#requestSeconds.observe({ method, route }, seconds);
  }

  observeInvoke(outcome: string, seconds: number): void {
    this.#invokeSeconds.observe({ outcome }, seconds);
  }

  observeCompile(kind: CompileKind, seconds: number): void {
    this.#compileSeconds.observe({ tier: TIER[kind] }, seconds);
  }

  observeAdd(lazy: boolean, seconds: number, failedWith?: string): void {
    const mode = lazy ? 'lazy' : 'eager';
    if (failedWith === undefined) this.#addSeconds.observe({ mode }, seconds);
    else this.#addFailures.inc({ mode, code: failedWith });
  }

  limitExceeded(limit: string): void {
    this.#limitsHit.inc({ limit });
  }

  async scrape(): Promise<string> {
    this.#snapshot = undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.#snapshot = undefined;
    }
  }
}
