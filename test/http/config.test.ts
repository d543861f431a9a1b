// Configuration from the environment (src/config.ts): defaults, parsing, and clear failures.

import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';

t.test('defaults', async (t) => {
  t.same(loadConfig({}), {
    port: 8080,
    host: '127.0.0.1',
    logLevel: 'info',
    bodyLimitBytes: 32 * 1024 * 1024,
    callTimeoutMs: 5000,
    maxCallTimeoutMs: 30_000,
    memoryLimitPages: 16384,
    sessionMemoryLimitPages: 65536,
    sessionCodeLimitBytes: 256 * 1024 * 1024,
    executorHeapLimitMb: 4096,
    maxModuleBytes: 32 * 1024 * 1024,
    maxFunctionsPerModule: 100_000,
    tableLimitElements: 10_000_000,
    sessionTableLimitElements: 33_554_432,
    reoptimizeThreshold: 1000,
    reoptimizeMaxFunctions: 32,
    partitionBudgetBytes: 1024 * 1024,
    databaseUrl: 'sqlite:data/jit.sqlite',
    codeCacheBytes: 512 * 1024 * 1024,
    adminToken: undefined,
    sessionIdleMs: 600_000,
    maxLiveSessions: 200,
    executorProcesses: 2,
    maxDylibs: 10_000,
    maxModules: 10_000,
    requestsPerSecond: 0,
    authFailuresPerMinute: 30,
    replicaUrl: undefined,
    replicaId: undefined,
    leaseMs: 8000,
  });
});

t.test('secrets never appear in a message', async (t) => {
  const err = t.throws(() => loadConfig({ ADMIN_TOKEN: 'short-secret' })) as Error;
  t.match(err.message, /ADMIN_TOKEN must be at least 16 characters/);
  t.notMatch(err.message, /short-secret/, 'the token is not echoed');
});

t.test('values from the environment; empty means unset', async (t) => {
  const c = loadConfig({
    PORT: '0',
    HOST: '0.0.0.0',
    LOG_LEVEL: 'debug',
    BODY_LIMIT_BYTES: '1024',
    CALL_TIMEOUT_MS: '100',
    MAX_CALL_TIMEOUT_MS: '200',
    MEMORY_LIMIT_PAGES: '65536',
    SESSION_MEMORY_LIMIT_PAGES: '64',
    SESSION_CODE_LIMIT_BYTES: '100000',
    EXECUTOR_HEAP_LIMIT_MB: '512',
    MAX_MODULE_BYTES: '2048',
    MAX_FUNCTIONS_PER_MODULE: '10',
    TABLE_LIMIT_ELEMENTS: '64',
    SESSION_TABLE_LIMIT_ELEMENTS: '1000',
    REOPTIMIZE_THRESHOLD: '0',
    REOPTIMIZE_MAX_FUNCTIONS: '4',
    UNRELATED: 'ignored',
  });
  t.match(c, {
    port: 0,
    host: '0.0.0.0',
    logLevel: 'debug',
    bodyLimitBytes: 1024,
    callTimeoutMs: 100,
    maxCallTimeoutMs: 200,
    memoryLimitPages: 65536,
    sessionMemoryLimitPages: 64,
    sessionCodeLimitBytes: 100_000,
    executorHeapLimitMb: 512,
    maxModuleBytes: 2048,
    maxFunctionsPerModule: 10,
    tableLimitElements: 64,
    sessionTableLimitElements: 1000,
    reoptimizeThreshold: 0,
    reoptimizeMaxFunctions: 4,
  });
  t.equal(loadConfig({ PORT: '' }).port, 8080);
});

t.test('invalid values fail with a message naming each variable and value', async (t) => {
  const err = t.throws(() =>
    loadConfig({ PORT: '70000', LOG_LEVEL: 'loud', BODY_LIMIT_BYTES: '1e6', MEMORY_LIMIT_PAGES: '65537' }),
  ) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /^Invalid configuration: /);
  t.match(err.message, /PORT must be at most 65535 \(got "70000"\)/);
  t.match(err.message, /LOG_LEVEL .*\(got "loud"\)/);
  t.match(err.message, /BODY_LIMIT_BYTES must be a non-negative decimal integer \(got "1e6"\)/);
  t.match(err.message, /MEMORY_LIMIT_PAGES must be at most 65536/);
  t.equal(err.problems.length, 4);

  const order = t.throws(() => loadConfig({ CALL_TIMEOUT_MS: '40000' })) as ConfigError;
  t.match(order.message, /CALL_TIMEOUT_MS must not exceed MAX_CALL_TIMEOUT_MS/);
  t.throws(() => loadConfig({ CALL_TIMEOUT_MS: '0' }), ConfigError);
});

t.test('session limits: bad values, and the retired SESSION_MEMORY_LIMIT_MB, are refused', async (t) => {
  const err = t.throws(() =>
    loadConfig({ SESSION_MEMORY_LIMIT_PAGES: '0', SESSION_CODE_LIMIT_BYTES: '-5', EXECUTOR_HEAP_LIMIT_MB: '8', SESSION_TABLE_LIMIT_ELEMENTS: '0' }),
  ) as ConfigError;
  t.match(err.message, /SESSION_MEMORY_LIMIT_PAGES must be at least 1 \(got "0"\)/);
  t.match(err.message, /SESSION_CODE_LIMIT_BYTES must be a non-negative decimal integer \(got "-5"\)/);
  t.match(err.message, /EXECUTOR_HEAP_LIMIT_MB must be at least 16 \(got "8"\)/);
  t.match(err.message, /SESSION_TABLE_LIMIT_ELEMENTS must be at least 1 \(got "0"\)/);
  t.equal(err.problems.length, 4);

  // It used to set the executor's heap, which never bounded linear memory: a deployment that
  // still sets it must learn that, not run with a limit it does not have.
  const retired = t.throws(() => loadConfig({ SESSION_MEMORY_LIMIT_MB: '64' })) as ConfigError;
  t.match(retired.message, /SESSION_MEMORY_LIMIT_MB is no longer read: set SESSION_MEMORY_LIMIT_PAGES .* or EXECUTOR_HEAP_LIMIT_MB .*\(got "64"\)/);
  t.equal(loadConfig({ SESSION_MEMORY_LIMIT_MB: '' }).sessionMemoryLimitPages, 65536, 'empty still means unset');
});

t.test('the session table budget defaults to a quarter of the executor heap at 32 bytes an element', async (t) => {
  t.equal(loadConfig({ EXECUTOR_HEAP_LIMIT_MB: '64' }).sessionTableLimitElements, 524_288, '16 MiB of 32-byte elements');
  t.equal(loadConfig({ EXECUTOR_HEAP_LIMIT_MB: '512' }).sessionTableLimitElements, 4_194_304);
  t.equal(loadConfig({ EXECUTOR_HEAP_LIMIT_MB: '64', SESSION_TABLE_LIMIT_ELEMENTS: '7' }).sessionTableLimitElements, 7, 'set, it is taken as it is');
  t.equal(loadConfig({ EXECUTOR_HEAP_LIMIT_MB: '64', SESSION_TABLE_LIMIT_ELEMENTS: '' }).sessionTableLimitElements, 524_288, 'empty means unset');
});
