// Configuration from the environment, validated once at start. A bad value stops the server
// with a message naming the variable, what it must be and what it was, rather than failing
// later in some request.

import { z } from 'zod';

const MiB = 1024 * 1024;

const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^[0-9]+$/, 'must be a non-negative decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const EnvSchema = z
  .object({
    PORT: int(0, 65535).default(8080),
    HOST: z.string().min(1).default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BODY_LIMIT_BYTES: int(1).default(32 * MiB),
    CALL_TIMEOUT_MS: int(1).default(5000),
    MAX_CALL_TIMEOUT_MS: int(1).default(30_000),
    // 65536 pages is wasm32's own limit; 16384 pages = 1 GiB.
    MEMORY_LIMIT_PAGES: int(1, 65536).default(16384),
    // All memories of the session together; 65536 pages = 4 GiB.
    SESSION_MEMORY_LIMIT_PAGES: int(1).default(65536),
    SESSION_CODE_LIMIT_BYTES: int(1).default(256 * MiB),
    // The executor thread's V8 heap: its JavaScript objects, not linear memories (whose buffers
    // live outside that heap, which is why this cannot bound them).
    EXECUTOR_HEAP_LIMIT_MB: int(16).default(4096),
    // This used to set the executor's heap limit under a name that promised a cap on linear
    // memory; refused rather than ignored, so nobody believes it still limits anything.
    SESSION_MEMORY_LIMIT_MB: z
      .undefined({
        error: 'is no longer read: set SESSION_MEMORY_LIMIT_PAGES (all linear memories of a session) or EXECUTOR_HEAP_LIMIT_MB (the executor thread\'s heap)',
      })
      .optional(),
    MAX_MODULE_BYTES: int(1).default(32 * MiB),
    MAX_FUNCTIONS_PER_MODULE: int(1).default(100_000),
    // V8's own limit on a table's size.
    TABLE_LIMIT_ELEMENTS: int(1, 10_000_000).default(10_000_000),
    // All tables of the session together; unset: derived from EXECUTOR_HEAP_LIMIT_MB (below).
    SESSION_TABLE_LIMIT_ELEMENTS: int(1).optional(),
    REOPTIMIZE_THRESHOLD: int(0).default(1000),
    REOPTIMIZE_MAX_FUNCTIONS: int(1, 10_000).default(32),
    // How much code a first call compiles beyond the function called (see src/jit/partition.ts).
    PARTITION_BUDGET_BYTES: int(0).default(MiB),
    // The durable store (src/store/Store.ts): sqlite:<path>, postgres://... or memory:.
    DATABASE_URL: z.string().min(1).default('sqlite:data/jit.sqlite'),
    CODE_CACHE_BYTES: int(0).default(512 * MiB),
    // Set: every route but /health needs a key or this token. Unset: one tenant, no auth.
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    // A tenant's executor stops after this long without a request, or when more than
    // MAX_LIVE_SESSIONS executors run (least recently used first); its definitions stay.
    SESSION_IDLE_MS: int(1000).default(10 * 60_000),
    MAX_LIVE_SESSIONS: int(1).default(200),
    // Child processes the executors live in (each holds the executor threads of several tenants).
    // 0: executor threads in the server's own process, one hop shorter per call, but a V8 abort
    // in any of them (heap exhaustion) ends the server (README "Running the service for several users").
    EXECUTOR_PROCESSES: int(0, 64).default(2),
    // Per-tenant defaults for the limits a tenant may be given (API.md "Tenants and keys").
    MAX_DYLIBS: int(1).default(10_000),
    MAX_MODULES: int(1).default(10_000),
    // 0: no rate limit.
    REQUESTS_PER_SECOND: int(0).default(0),
    // Failed authentications allowed per client address and minute (429 beyond).
    AUTH_FAILURES_PER_MINUTE: int(1).default(30),
    // Several replicas on one PostgreSQL (src/replicas/): where the others reach this one, its
    // name in the lease table (default: its URL), and how long a tenant's lease lasts unrenewed.
    REPLICA_URL: z.url({ protocol: /^https?$/ }).optional(),
    REPLICA_ID: z.string().min(1).optional(),
    LEASE_MS: int(1000).default(8000),
  })
  .refine((env) => env.CALL_TIMEOUT_MS <= env.MAX_CALL_TIMEOUT_MS, {
    path: ['CALL_TIMEOUT_MS'],
    message: 'must not exceed MAX_CALL_TIMEOUT_MS',
  });

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest request body accepted; larger ones are refused with PayloadTooLarge. */
  readonly bodyLimitBytes: number;
  /** A call's time limit when the request names none. */
  readonly callTimeoutMs: number;
  /** The most a request's timeoutMs can ask for. */
  readonly maxCallTimeoutMs: number;
  /** Most pages any one memory may have (ResourceExhausted beyond). */
  readonly memoryLimitPages: number;
  /** Most pages all memories of the session may hold together (ResourceExhausted at add, -1 from memory.grow). */
  readonly sessionMemoryLimitPages: number;
  /** Most bytes of compiled wasm the session may hold (ResourceExhausted beyond). */
  readonly sessionCodeLimitBytes: number;
  /** Heap limit of the executor thread, in MB (JavaScript objects only, not linear memory). */
  readonly executorHeapLimitMb: number;
  /** Largest module (WAT text or wasm binary) accepted, in bytes. */
  readonly maxModuleBytes: number;
  /** Most functions one module may define. */
  readonly maxFunctionsPerModule: number;
  /** Most elements any one table may have (ResourceExhausted beyond; table.grow returns -1). */
  readonly tableLimitElements: number;
  /** Most elements all tables of the session may hold together (ResourceExhausted at add, -1 from table.grow). */
  readonly sessionTableLimitElements: number;
  /** Calls after which a lazily compiled function is re-optimized with its callees; 0 turns it off. */
  readonly reoptimizeThreshold: number;
  /** Most functions compiled together into one re-optimized function. */
  readonly reoptimizeMaxFunctions: number;
  /** Bytes of function bodies a first call compiles beyond the functions called (0: just those). */
  readonly partitionBudgetBytes: number;
  /** Where definitions, tenants, keys and the code cache are kept. */
  readonly databaseUrl: string;
  readonly codeCacheBytes: number;
  /** With a token, every route but /health needs a key (or the token); without, one open tenant `default`. */
  readonly adminToken: string | undefined;
  readonly sessionIdleMs: number;
  readonly maxLiveSessions: number;
  readonly executorProcesses: number;
  /** Defaults of the per-tenant limits not covered above. */
  readonly maxDylibs: number;
  readonly maxModules: number;
  readonly requestsPerSecond: number;
  readonly authFailuresPerMinute: number;
  /** Set with a postgres:// DATABASE_URL: this process is one of several replicas (src/replicas/). */
  readonly replicaUrl: string | undefined;
  readonly replicaId: string | undefined;
  readonly leaseMs: number;
}

/** The settings the JIT itself reads (the rest are the HTTP server's). */
export type JITConfig = Pick<
  Config,
  | 'callTimeoutMs'
  | 'maxCallTimeoutMs'
  | 'memoryLimitPages'
  | 'sessionMemoryLimitPages'
  | 'sessionCodeLimitBytes'
  | 'executorHeapLimitMb'
  | 'maxFunctionsPerModule'
  | 'tableLimitElements'
  | 'sessionTableLimitElements'
  | 'reoptimizeThreshold'
  | 'reoptimizeMaxFunctions'
  | 'partitionBudgetBytes'
>;

/**
 * V8 heap bytes a table element costs the executor, as measured for a funcref table (an
 * externref element costs less): unlike linear memories, tables live in the executor's JS heap.
 */
export const TABLE_ELEMENT_HEAP_BYTES = 32;

/**
 * The default session table budget: a quarter of the executor's heap. V8 aborts the whole
 * process, not just the worker, when one allocation passes the heap limit, and table.grow
 * allocates the new backing store while the old one is still alive, so tables must stay well
 * below the limit rather than merely under it.
 */
export function defaultSessionTableLimitElements(executorHeapLimitMb: number): number {
  return Math.floor((executorHeapLimitMb * MiB) / 4 / TABLE_ELEMENT_HEAP_BYTES);
}

/** The JIT's settings as an empty environment gives them: every default in one place (EnvSchema). */
export function defaultJITConfig(): JITConfig {
  return loadConfig({});
}

/** Variables whose values a message must never show (a token, a URL with a password). */
const SECRETS: ReadonlySet<string> = new Set(['ADMIN_TOKEN', 'DATABASE_URL']);

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}.`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads the configuration from `env` (process.env by default); throws ConfigError. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  // Empty variables count as unset, as shells and compose files often produce them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        const got = SECRETS.has(name) ? undefined : env[name];
        return `${name} ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    callTimeoutMs: e.CALL_TIMEOUT_MS,
    maxCallTimeoutMs: e.MAX_CALL_TIMEOUT_MS,
    memoryLimitPages: e.MEMORY_LIMIT_PAGES,
    sessionMemoryLimitPages: e.SESSION_MEMORY_LIMIT_PAGES,
    sessionCodeLimitBytes: e.SESSION_CODE_LIMIT_BYTES,
    executorHeapLimitMb: e.EXECUTOR_HEAP_LIMIT_MB,
    maxModuleBytes: e.MAX_MODULE_BYTES,
    maxFunctionsPerModule: e.MAX_FUNCTIONS_PER_MODULE,
    tableLimitElements: e.TABLE_LIMIT_ELEMENTS,
    sessionTableLimitElements: e.SESSION_TABLE_LIMIT_ELEMENTS ?? defaultSessionTableLimitElements(e.EXECUTOR_HEAP_LIMIT_MB),
    reoptimizeThreshold: e.REOPTIMIZE_THRESHOLD,
    reoptimizeMaxFunctions: e.REOPTIMIZE_MAX_FUNCTIONS,
    partitionBudgetBytes: e.PARTITION_BUDGET_BYTES,
    databaseUrl: e.DATABASE_URL,
    codeCacheBytes: e.CODE_CACHE_BYTES,
    adminToken: e.ADMIN_TOKEN,
    sessionIdleMs: e.SESSION_IDLE_MS,
    maxLiveSessions: e.MAX_LIVE_SESSIONS,
    executorProcesses: e.EXECUTOR_PROCESSES,
    maxDylibs: e.MAX_DYLIBS,
    maxModules: e.MAX_MODULES,
    requestsPerSecond: e.REQUESTS_PER_SECOND,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    replicaUrl: e.REPLICA_URL,
    replicaId: e.REPLICA_ID ?? e.REPLICA_URL,
    leaseMs: e.LEASE_MS,
  };
}
