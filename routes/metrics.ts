// GET /metrics in Prometheus text format, and the metrics registry behind it: the service's
// own counters and gauges (read once per scrape from JITService.metrics()), HTTP request
// counts and latencies, invoke latency by outcome, and Node's process metrics (event-loop lag
// among them, which shows whether user code ever blocks the server).

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import type { ServiceMetrics } from '../src/service/JITService.ts';
import type { RouteDeps } from './deps.ts';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type CounterKey = Exclude<keyof ServiceMetrics, 'dylibs' | 'modules' | 'symbolsByState'>;

// Service counters, with how each is exposed: Prometheus counts seconds, the service ms.
const SERVICE_COUNTERS: readonly { key: CounterKey; name: string; help: string; scale: number }[] = [
  { key: 'compiles', name: 'wasmjit_compiles_total', help: 'Function bodies, partitions and eager modules compiled.', scale: 1 },
  { key: 'reoptimizations', name: 'wasmjit_reoptimizations_total', help: 'Hot functions re-optimized with their callees.', scale: 1 },
  { key: 'compileMs', name: 'wasmjit_compile_seconds_total', help: 'Time spent compiling.', scale: 1e-3 },
  { key: 'failedMaterializations', name: 'wasmjit_failed_materializations_total', help: 'Materializations that failed.', scale: 1 },
  { key: 'invokes', name: 'wasmjit_invokes_total', help: 'Invokes started.', scale: 1 },
  { key: 'invokeRunMs', name: 'wasmjit_invoke_run_seconds_total', help: 'Time spent running wasm code in invokes.', scale: 1e-3 },
  { key: 'traps', name: 'wasmjit_traps_total', help: 'Invokes that trapped.', scale: 1 },
  { key: 'stackOverflows', name: 'wasmjit_stack_overflows_total', help: 'Invokes that exhausted the call stack.', scale: 1 },
  { key: 'timeouts', name: 'wasmjit_timeouts_total', help: 'Invokes stopped at their time limit.', scale: 1 },
  { key: 'codeCacheHits', name: 'wasmjit_code_cache_hits_total', help: 'Optimizing compiles found in the code cache (binaryen skipped).', scale: 1 },
  { key: 'codeCacheMisses', name: 'wasmjit_code_cache_misses_total', help: 'Optimizing compiles not in the code cache (binaryen ran).', scale: 1 },
];

export class AppMetrics {
  readonly registry = new Registry();
  readonly #read: () => ServiceMetrics;
  readonly #dylibs: Gauge;
  readonly #modules: Gauge;
  readonly #symbols: Gauge<'state'>;
  readonly #counters: readonly { spec: (typeof SERVICE_COUNTERS)[number]; counter: Counter }[];
  readonly #requests: Counter<'method' | 'route' | 'status_code'>;
  readonly #requestSeconds: Histogram<'method' | 'route'>;
  readonly #invokeSeconds: Histogram<'outcome'>;

  /** `read`: the service's counters and gauges, summed over tenants, read once per scrape. */
  constructor(read: () => ServiceMetrics) {
    this.#read = read;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#dylibs = new Gauge({ name: 'wasmjit_dylibs', help: 'Dylibs in the session.', registers });
    this.#modules = new Gauge({ name: 'wasmjit_modules', help: 'Modules added.', registers });
    this.#symbols = new Gauge({ name: 'wasmjit_symbols', help: 'Symbols defined, by state.', labelNames: ['state'], registers });
    this.#counters = SERVICE_COUNTERS.map((spec) => ({
      spec,
      counter: new Counter({ name: spec.name, help: spec.help, registers }),
    }));
    this.#requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.#requestSeconds = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency.',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#invokeSeconds = new Histogram({
      name: 'wasmjit_invoke_duration_seconds',
      help: 'Invoke latency as the HTTP layer sees it (compile and run), by outcome: ok or the error code.',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** `route` is the route pattern (e.g. /dylibs/:dylib), never the raw URL, to bound label cardinality. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.#requests.inc({ method, route, status_code: String(statusCode) });
    this.#requestSeconds.observe({ method, route }, seconds);
  }

  observeInvoke(outcome: string, seconds: number): void {
    this.#invokeSeconds.observe({ outcome }, seconds);
  }

  /** The exposition text, with the service's numbers read once for this scrape. */
  async scrape(): Promise<string> {
    const s = this.#read();
    this.#dylibs.set(s.dylibs);
    this.#modules.set(s.modules);
    for (const [state, n] of Object.entries(s.symbolsByState)) this.#symbols.set({ state }, n);
    for (const { spec, counter } of this.#counters) {
      // The service keeps the running totals; mirror them (a counter can only be re-based by reset).
      counter.reset();
      counter.inc(s[spec.key] * spec.scale);
    }
    return this.registry.metrics();
  }
}

export const metricsRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Prometheus metrics',
        tags: ['operations'],
        produces: ['text/plain'],
        response: { 200: z.string().describe('Prometheus text exposition format.') },
      },
    },
    async (_request, reply) => {
      const text = await metrics.scrape();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};
