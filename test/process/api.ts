// Small API.md helpers for the process tests: create a dylib, add a module, invoke, and check an
// error response's envelope, all over real HTTP against a ServerProcess.

import type { Test } from 'tap';
import type { ApiResponse, ServerProcess } from '../support/serverProcess.ts';

/** A dylib or symbol name as a path segment. */
export const seg = encodeURIComponent;

export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string } & Readonly<Record<string, unknown>>;
}

export interface ResultValue {
  readonly type: string;
  readonly value: unknown;
  readonly bits: string | null;
}

export interface InvokeResult {
  readonly results: readonly ResultValue[];
  readonly compiled: readonly string[];
  readonly output: readonly string[];
}

export interface AddResult {
  readonly module: { readonly id: string };
  readonly symbols: readonly { readonly name: string; readonly kind: string }[];
  readonly unresolvedImports?: readonly { readonly module: string; readonly name: string }[];
}

/** A request the test needed to succeed did not. */
export class UnexpectedResponse extends Error {
  override readonly name = 'UnexpectedResponse';
  constructor(what: string, res: ApiResponse) {
    super(`${what}: ${res.status} ${res.text.slice(0, 500)}`);
  }
}

export async function createDylib(server: ServerProcess, name: string): Promise<void> {
  const res = await server.post('/dylibs', { name });
  if (res.status !== 201) throw new UnexpectedResponse(`creating dylib ${name}`, res);
}

/** Adds a binary module (lazy unless `query` says otherwise) and returns the add's response. */
export async function addWasm(server: ServerProcess, dylib: string, bytes: Uint8Array, query = ''): Promise<AddResult> {
  const res = await server.request<AddResult>('POST', `/dylibs/${seg(dylib)}/modules${query}`, { wasm: bytes });
  if (res.status !== 201) throw new UnexpectedResponse(`adding a module to ${dylib}`, res);
  return res.json;
}

export function invoke(
  server: ServerProcess,
  dylib: string,
  symbol: string,
  args: readonly unknown[] = [],
  timeoutMs?: number,
): Promise<ApiResponse<InvokeResult & ApiErrorBody>> {
  return server.post(`/dylibs/${seg(dylib)}/invoke`, { symbol, args, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

/** Asserts API.md's error envelope with this status and code; returns the error object. */
export function expectError(t: Test, res: ApiResponse, status: number, code: string): ApiErrorBody['error'] | undefined {
  t.equal(res.status, status, `status ${status} (body: ${res.text.slice(0, 300)})`);
  const body = res.json as ApiErrorBody | undefined;
  t.equal(body?.error?.code, code, `error code ${code}`);
  t.ok(typeof body?.error?.message === 'string' && body.error.message.length > 0, 'a message');
  return body?.error;
}

/** GET /health answers 200 {"status":"ok"}. */
export async function expectHealthy(t: Test, server: ServerProcess): Promise<void> {
  const res = await server.get<{ status: string }>('/health');
  t.equal(res.status, 200, 'GET /health answers 200');
  t.same(res.json, { status: 'ok' });
}
