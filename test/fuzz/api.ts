// The fuzz test's view of the server: fastify inject() with a deadline (a request that never
// answers is a bug to report, not a test that hangs until tap's timeout), and the checks every
// answer must pass whatever was sent: never a 5xx, and every error in API.md's envelope with a
// documented code whose status matches.

import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

/** API.md's error table: code -> status. */
export const DOCUMENTED_CODES: Readonly<Record<string, number>> = {
  BadRequest: 400,
  DylibNotFound: 404,
  SymbolsNotFound: 404,
  DylibExists: 409,
  DuplicateDefinition: 409,
  InvalidModule: 422,
  PayloadTooLarge: 413,
  FailedToMaterialize: 424,
  TypeMismatch: 400,
  Trap: 422,
  StackOverflow: 422,
  ExecutionTimeout: 422,
  ResourceExhausted: 422,
  Unauthorized: 401,
  Forbidden: 403,
};

// A hang detector, not a speed check: the first WAT add waits for the compile thread to load
// binaryen, which took over 30 s on a 2-core machine running a whole CI suite beside it.
const REQUEST_DEADLINE_MS = 120_000;

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  /** The request, shortened, for failure messages. */
  readonly what: string;
}

export class Api {
  readonly app: FastifyInstance;
  constructor(app: FastifyInstance) {
    this.app = app;
  }

  /** `payload` is sent as JSON, unless `raw` (by default: when a content type is given) as it is. */
  async request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}, raw = 'content-type' in headers): Promise<Reply> {
    const what = `${method} ${url}${payload === undefined ? '' : ` ${shorten(typeof payload === 'string' ? payload : JSON.stringify(payload) ?? String(payload))}`}`;
    const body = payload === undefined ? {} : { payload: raw ? (payload as string) : JSON.stringify(payload) };
    const opts: InjectOptions = { method, url, headers: raw || payload === undefined ? headers : { ...headers, 'content-type': 'application/json' }, ...body };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_DEADLINE_MS} ms: ${what}`)), REQUEST_DEADLINE_MS);
    });
    try {
      const res: LightMyRequestResponse = await Promise.race([this.app.inject(opts), deadline]);
      return { status: res.statusCode, body: parseJson(res), text: res.body, what };
    } finally {
      clearTimeout(timer);
    }
  }

  get(url: string) {
    return this.request('GET', url);
  }
  post(url: string, payload: unknown) {
    return this.request('POST', url, payload);
  }
  put(url: string, payload: unknown) {
    return this.request('PUT', url, payload);
  }
  delete(url: string) {
    return this.request('DELETE', url);
  }
}

function parseJson(res: LightMyRequestResponse): unknown {
  if (!/^application\/json/.test(String(res.headers['content-type'] ?? ''))) return undefined;
  try {
    return JSON.parse(res.body);
  } catch {
    return undefined;
  }
}

export function shorten(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;
}

export function errorOf(reply: Reply): { code: string; message: string; [k: string]: unknown } | undefined {
  const body = reply.body as { error?: { code: string; message: string } } | undefined;
  return body?.error;
}

/**
 * What is wrong with an answer whatever the request was: a 5xx, or an error that is not
 * `{"error": {"code", "message", ...}}` with a documented code (or `allowed` extra code) of
 * the answer's status. Returns undefined when the answer is fine.
 */
export function contractViolation(reply: Reply, allowed: Readonly<Record<string, number>> = {}): string | undefined {
  if (reply.status >= 500) return `${reply.status} for ${reply.what}: ${shorten(reply.text)}`;
  if (reply.status < 400) return undefined;
  const body = reply.body as Record<string, unknown> | undefined;
  const error = body?.error as Record<string, unknown> | undefined;
  if (!body || !error || Object.keys(body).length !== 1) return `not an error envelope (${reply.status}) for ${reply.what}: ${shorten(reply.text)}`;
  const code = error.code;
  if (typeof code !== 'string') return `error without a code for ${reply.what}: ${shorten(reply.text)}`;
  const status = DOCUMENTED_CODES[code] ?? allowed[code];
  if (status === undefined) return `undocumented error code ${code} (${reply.status}) for ${reply.what}: ${shorten(reply.text)}`;
  if (status !== reply.status) return `${code} answered with ${reply.status}, API.md says ${status}, for ${reply.what}`;
  if (typeof error.message !== 'string' || error.message.length === 0) return `${code} without a message for ${reply.what}`;
  return undefined;
}
