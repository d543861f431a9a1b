// Helpers for the tenant tests, which run the real server (test/support/serverProcess.ts) with
// ADMIN_TOKEN set: an HTTP client that carries a credential (a tenant key, or the admin token
// with or without X-Tenant) and optionally a source address, and the admin requests that set a
// tenant up (tenants, keys, dylibs, modules). Responses to HEAD requests and empty bodies parse
// to undefined rather than failing.

import { Agent } from 'node:http';
import type { Test } from 'tap';
import { type HttpReply, sendRequest } from '../support/httpRequest.ts';
import { startServerProcess, type ServerProcess } from '../support/serverProcess.ts';

/** The admin token every server in these tests is started with (never a real secret). */
export const ADMIN_TOKEN = 'test-admin-token-7f3a9c2e5b1d';

export type Scope = 'read' | 'write' | 'invoke';

export type Reply<T = unknown> = HttpReply<T>;

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string } & Readonly<Record<string, unknown>>;
}

/** A request the test needed to succeed did not. */
export class SetupFailed extends Error {
  override readonly name = 'SetupFailed';
  constructor(what: string, res: Reply) {
    super(`${what}: ${res.status} ${res.text.slice(0, 400)}`);
  }
}

/** Who a request is sent as. */
export type Credential =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string; readonly xTenant?: string };

export const NOBODY: Credential = { kind: 'none' };
export const ADMIN: Credential = { kind: 'bearer', token: ADMIN_TOKEN };
export const adminIn = (tenant: string): Credential => ({ kind: 'bearer', token: ADMIN_TOKEN, xTenant: tenant });
export const withKey = (key: string): Credential => ({ kind: 'bearer', token: key });

export interface SendOptions {
  readonly json?: unknown;
  /** Extra headers, sent as given. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Source address of the connection (any 127.x.y.z works on loopback). */
  readonly localAddress?: string;
}

/** A client of one server: keep-alive connections, one agent per source address. */
export class Client {
  readonly url: string;
  readonly #agents = new Map<string, Agent>();

  constructor(url: string) {
    this.url = url;
  }

  send<T = unknown>(as: Credential, method: string, path: string, opts: SendOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (as.kind === 'bearer') {
      headers['authorization'] = `Bearer ${as.token}`;
      if (as.xTenant !== undefined) headers['x-tenant'] = as.xTenant;
    }
    const local = opts.localAddress ?? '';
    let agent = this.#agents.get(local);
    if (agent === undefined) {
      agent = new Agent({ keepAlive: true, ...(local ? { localAddress: local } : {}) });
      this.#agents.set(local, agent);
    }
    return sendRequest<T>(method, `${this.url}${path}`, { agent, headers, body: opts.json === undefined ? undefined : { json: opts.json } });
  }

  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }
}

/** The real server with auth on (ADMIN_TOKEN), plus a client; both end with the test. */
export async function startAuthServer(t: Test, env: Readonly<Record<string, string>> = {}): Promise<{ server: ServerProcess; client: Client }> {
  const server = await startServerProcess(t, { env: { ADMIN_TOKEN, ...env } });
  const client = new Client(server.url);
  t.teardown(() => client.close());
  return { server, client };
}

export interface TenantView {
  readonly name: string;
  readonly limits: Readonly<Record<string, number>>;
  readonly effectiveLimits: Readonly<Record<string, number>>;
  readonly usage: { readonly dylibs: number; readonly modules: number; readonly codeBytes: number; readonly live: boolean };
}

export interface NewKey {
  readonly id: string;
  readonly key: string;
  readonly scopes: Scope[];
  readonly name?: string;
}

export async function createTenant(client: Client, name: string, limits?: Readonly<Record<string, number>>): Promise<TenantView> {
  const res = await client.send<TenantView>(ADMIN, 'POST', '/tenants', { json: limits ? { name, limits } : { name } });
  if (res.status !== 201) throw new SetupFailed(`creating tenant ${name}`, res);
  return res.json;
}

export async function getTenant(client: Client, name: string): Promise<TenantView> {
  const res = await client.send<TenantView>(ADMIN, 'GET', `/tenants/${name}`);
  if (res.status !== 200) throw new SetupFailed(`reading tenant ${name}`, res);
  return res.json;
}

export async function createKey(client: Client, tenant: string, scopes?: Scope[], name?: string): Promise<NewKey> {
  const json = { ...(scopes ? { scopes } : {}), ...(name ? { name } : {}) };
  const res = await client.send<NewKey>(ADMIN, 'POST', `/tenants/${tenant}/keys`, { json });
  if (res.status !== 201) throw new SetupFailed(`creating a key of ${tenant}`, res);
  return res.json;
}

export const seg = encodeURIComponent;

export async function createDylib(client: Client, as: Credential, name: string): Promise<void> {
  const res = await client.send(as, 'POST', '/dylibs', { json: { name } });
  if (res.status !== 201) throw new SetupFailed(`creating dylib ${name}`, res);
}

export interface Added {
  readonly module: { readonly id: string };
  readonly symbols: readonly { readonly name: string }[];
}

/** Adds a binary module (as base64 JSON) and returns the add's response. */
export async function addModule(client: Client, as: Credential, dylib: string, wasm: Uint8Array, opts: Readonly<Record<string, unknown>> = {}): Promise<Added> {
  const res = await client.send<Added>(as, 'POST', `/dylibs/${seg(dylib)}/modules`, {
    json: { wasm: Buffer.from(wasm).toString('base64'), ...opts },
  });
  if (res.status !== 201) throw new SetupFailed(`adding a module to ${dylib}`, res);
  return res.json;
}

export interface InvokeReply {
  readonly results: readonly { readonly type: string; readonly value: unknown; readonly bits: string }[];
}

export function invoke(
  client: Client,
  as: Credential,
  dylib: string,
  symbol: string,
  args: readonly unknown[] = [],
  timeoutMs?: number,
): Promise<Reply<InvokeReply & ErrorBody>> {
  return client.send(as, 'POST', `/dylibs/${seg(dylib)}/invoke`, { json: { symbol, args, ...(timeoutMs === undefined ? {} : { timeoutMs }) } });
}

/** The i32 (signed, its plain form) an invoke returned, or a failure naming what came back. */
export async function invokeI32(client: Client, as: Credential, dylib: string, symbol: string, args: readonly unknown[] = []): Promise<number> {
  const res = await invoke(client, as, dylib, symbol, args);
  if (res.status !== 200) throw new SetupFailed(`invoking ${dylib}/${symbol}`, res);
  return Number(res.json.results[0]?.value);
}

/** Asserts API.md's error envelope with this status and code; returns the error object. */
export function expectError(t: Test, res: Reply, status: number, code: string, what = ''): ErrorBody['error'] | undefined {
  const prefix = what ? `${what}: ` : '';
  t.equal(res.status, status, `${prefix}status ${status} (got ${res.status}: ${res.text.slice(0, 300)})`);
  const body = res.json as ErrorBody | undefined;
  t.equal(body?.error?.code, code, `${prefix}error code ${code}`);
  return body?.error;
}

/** Polls `check` until it holds or `timeoutMs` passes; the last value either way. */
export async function waitFor<T>(check: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
