// Builds the real server (src/server.ts's buildServer: same fastify options, same app) around
// a service for the HTTP tests, and small helpers for talking to it with inject().
// makeService is the one place that chooses the service: the real one, so these tests check
// the JIT's behaviour over HTTP against API.md.

import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { type Logger, pino } from 'pino';
import type { Test } from 'tap';
import { type Config, loadConfig } from '../../src/config.ts';
import { buildServer } from '../../src/server.ts';
import { createService } from '../../src/service/createService.ts';
import type { JITService } from '../../src/service/JITService.ts';
import type { Service } from '../../src/service/Service.ts';

/** The server's defaults, quiet, with a store that keeps nothing (tests that need one say so). */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), logLevel: 'silent', databaseUrl: 'memory:', ...overrides };
}

/** The real service, recovered (from an empty memory: store, unless the config says otherwise). */
export async function makeService(config: Config): Promise<Service> {
  const service = await createService(config, undefined, { inProcessExecutors: true });
  await service.recover();
  return service;
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly service: Service;
  readonly config: Config;
  /** The `default` tenant's session (open mode). */
  readonly session: JITService;
}

export async function build(
  t: Test,
  overrides: Partial<Config> = {},
  service?: Service,
  logger: Logger = pino({ level: 'silent' }),
): Promise<TestApp> {
  const config = testConfig(overrides);
  const svc = service ?? (await makeService(config));
  const app = await buildServer({ config, service: svc, logger });
  t.teardown(() => app.close()); // closing the app closes the service
  await app.ready();
  return { app, service: svc, config, session: svc.sessions.session('default') };
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A JSON request; `payload` is sent as JSON unless it is a string or Buffer with its own Content-Type. */
export function call(
  app: FastifyInstance,
  method: Method,
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T;
}

/** The error object of an API error response, asserting the envelope's shape on the way. */
export function apiError(t: Test, res: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  t.equal(res.statusCode, status, `status ${status} (body: ${res.body.slice(0, 300)})`);
  t.match(res.headers['content-type'], /^application\/json/);
  const body = json<{ error: Record<string, unknown> }>(res);
  t.same(Object.keys(body), ['error'], 'only "error" at the top level');
  t.equal(body.error.code, code);
  t.type(body.error.message, 'string');
  t.ok((body.error.message as string).length > 0, 'a non-empty message');
  return body.error;
}

/**
 * Waits until `check` holds (re-optimization runs beside the program, so a client sees its
 * result some time after the call that set it off); fails the test after `timeoutMs`.
 */
export async function eventually(t: Test, check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) {
      t.pass(what);
      return;
    }
    if (Date.now() > deadline) {
      t.fail(`${what}: still not so after ${timeoutMs} ms`);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function createDylib(app: FastifyInstance, name: string, linkOrder?: string[]): Promise<void> {
  const res = await call(app, 'POST', '/dylibs', linkOrder ? { name, linkOrder } : { name });
  if (res.statusCode !== 201) throw new Error(`creating ${name}: ${res.statusCode} ${res.body}`);
}

export async function addWat(app: FastifyInstance, dylib: string, wat: string, opts: Record<string, unknown> = {}) {
  const res = await call(app, 'POST', `/dylibs/${encodeURIComponent(dylib)}/modules`, { wat, ...opts });
  if (res.statusCode !== 201) throw new Error(`adding a module to ${dylib}: ${res.statusCode} ${res.body}`);
  return json<{
    module: { id: string; name?: string; lazy: boolean };
    symbols: Record<string, unknown>[];
    unresolvedImports: { module: string; name: string }[];
  }>(res);
}

export async function invoke(app: FastifyInstance, dylib: string, symbol: string, args: unknown[] = [], extra: Record<string, unknown> = {}) {
  return call(app, 'POST', `/dylibs/${encodeURIComponent(dylib)}/symbols/${encodeURIComponent(symbol)}/invoke`, { args, ...extra });
}
