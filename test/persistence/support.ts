// What the persistence tests share: a fresh SQLite store in a temporary directory, the real
// server started on a store and waited for until recovery is done (/health 200; the server
// listens before it recovers), a clean look at what the store holds once the server is gone,
// and small HTTP helpers that fail with the response when a request the test needs is refused.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type DefinitionRecord } from '../../src/store/Store.ts';
import { type ApiResponse, PROJECT_ROOT, type ServerProcess, type StartOptions, startServerProcess } from '../support/serverProcess.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A store the test owns: its DATABASE_URL, and for SQLite its file. */
export interface TestStore {
  readonly url: string;
  readonly file?: string;
}

/** A SQLite store file in a directory of its own, removed when the test ends. */
export async function sqliteStore(t: Teardown): Promise<TestStore & { readonly file: string; readonly dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'jit-persist-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'jit.sqlite');
  return { url: `sqlite:${file}`, file, dir };
}

/** The server did not become healthy (recovery failed, hung, or the process died). */
export class NotHealthy extends Error {
  override readonly name = 'NotHealthy';
}

/**
 * Starts the server on `store` (plus `env`) and waits until /health answers 200, i.e. recovery
 * is done. Stopped (SIGTERM, then SIGKILL) when the test ends.
 */
export async function startOn(
  t: Teardown,
  store: TestStore,
  opts: { env?: Readonly<Record<string, string>>; healthyWithinMs?: number } & Omit<StartOptions, 'env'> = {},
): Promise<ServerProcess> {
  const server = await startServerProcess(t, { ...opts, env: { DATABASE_URL: store.url, ...opts.env } });
  await waitHealthy(server, opts.healthyWithinMs ?? 60_000);
  return server;
}

export async function waitHealthy(server: ServerProcess, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  let last: ApiResponse | undefined;
  while (Date.now() < deadline) {
    if (server.exitStatus) throw new NotHealthy(`the server exited (${JSON.stringify(server.exitStatus)}) before it was healthy:\n${server.transcript()}`);
    last = await server.get('/health').catch(() => undefined);
    if (last?.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new NotHealthy(`/health did not answer 200 within ${withinMs} ms (last: ${last?.status} ${last?.text}):\n${server.transcript()}`);
}

/** SIGKILL, and wait until the process is gone. */
export async function kill9(server: ServerProcess): Promise<void> {
  server.signal('SIGKILL');
  await server.exited;
}

/** What the store holds for a tenant, read once the server is gone (every record, removed ones too). */
export async function storedDefinitions(store: TestStore, tenant = 'default'): Promise<DefinitionRecord[]> {
  const s = await openStore(store.url, { codeCacheBytes: 1 << 20 });
  try {
    return await s.loadDefinitions(tenant);
  } finally {
    await s.close();
  }
}

/** A request the test needs to succeed was refused. */
export class Refused extends Error {
  override readonly name = 'Refused';
}

/** Sends a request and returns its response if its status is 2xx, else throws Refused with the response. */
export async function ok<T = unknown>(p: Promise<ApiResponse<T>>, what: string): Promise<ApiResponse<T>> {
  const res = await p;
  if (res.status < 200 || res.status >= 300) throw new Refused(`${what}: ${res.status} ${res.text.slice(0, 500)}`);
  return res;
}

export const seg = encodeURIComponent;

/** The parts of GET /dylibs/:name a durability check compares (addresses and states change with use). */
export interface DylibShape {
  readonly name: string;
  readonly linkOrder: readonly string[];
  readonly modules: readonly { readonly id: string; readonly name?: string; readonly lazy: boolean }[];
  readonly symbols: readonly SymbolShape[];
}

export interface SymbolShape {
  readonly name: string;
  readonly dylib: string;
  readonly kind: string;
  readonly flags: readonly string[];
  readonly type?: unknown;
  readonly lazy?: boolean;
  readonly target?: { readonly dylib: string; readonly name: string };
}

interface DylibJson {
  name: string;
  linkOrder: string[];
  modules: { id: string; name?: string; lazy: boolean }[];
  symbols: (SymbolShape & { target?: { dylib: string; name: string; compiled?: boolean; tier?: string } })[];
}

/** GET /dylibs/:name reduced to what must survive a restart, symbols sorted by name; undefined on 404. */
export async function dylibShape(server: ServerProcess, name: string): Promise<DylibShape | undefined> {
  const res = await server.get<DylibJson>(`/dylibs/${seg(name)}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Refused(`GET /dylibs/${name}: ${res.status} ${res.text.slice(0, 300)}`);
  return shapeOf(res.json);
}

export function shapeOf(d: DylibJson): DylibShape {
  return {
    name: d.name,
    linkOrder: d.linkOrder,
    modules: d.modules.map((m) => ({ id: m.id, lazy: m.lazy, ...(m.name === undefined ? {} : { name: m.name }) })),
    symbols: d.symbols
      .map((s) => ({
        name: s.name,
        dylib: s.dylib,
        kind: s.kind,
        flags: [...s.flags].sort(),
        ...(s.type === undefined ? {} : { type: s.type }),
        ...(s.lazy ? { lazy: true } : {}),
        ...(s.target ? { target: { dylib: s.target.dylib, name: s.target.name } } : {}),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

/** Every dylib the server lists (implementation dylibs included), by name. */
export async function allDylibs(server: ServerProcess): Promise<Map<string, DylibShape>> {
  const res = await ok(server.get<{ dylibs: DylibJson[] }>('/dylibs'), 'GET /dylibs');
  return new Map(res.json.dylibs.map((d) => [d.name, shapeOf(d)]));
}

/** The error code of an error response, or `ok` for a 2xx. */
export function outcome(res: ApiResponse): string {
  if (res.status >= 200 && res.status < 300) return 'ok';
  return `${res.status} ${(res.json as { error?: { code?: string } } | undefined)?.error?.code ?? '?'}`;
}

export interface Exited {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout and stderr together: the JSON log lines and anything else. */
  readonly output: string;
}

/**
 * Runs the server on `store` as npm start does and waits for it to exit by itself (a start that
 * must fail); killed and reported as such if it is still running after `withinMs`.
 */
export async function runUntilExit(store: TestStore, env: Readonly<Record<string, string>> = {}, withinMs = 60_000): Promise<Exited> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_OPTIONS' && !k.startsWith('TAP')) childEnv[k] = v;
  Object.assign(childEnv, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DATABASE_URL: store.url }, env);
  const child = spawn(process.execPath, [join('src', 'server.ts')], { cwd: PROJECT_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const timer = setTimeout(() => {
    output += `\n(still running after ${withinMs} ms: killed)`;
    child.kill('SIGKILL');
  }, withinMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { code, signal, output };
}
