// One HTTP request from a test to a server it started: a body as the API takes it (JSON, a wasm
// binary, WAT text), the answer read whole and its JSON parsed. The tests' clients (ServerProcess,
// the tenants' Client, the replicas' Endpoint) add their own headers and agents over it.

import { type Agent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';

export interface HttpReply<T = unknown> {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** The parsed body when the response is JSON and not empty, else undefined. */
  readonly json: T;
}

export type RequestBody =
  | { readonly json: unknown }
  | { readonly wasm: Uint8Array }
  | { readonly text: string };

export interface SendRequest {
  readonly agent: Agent;
  readonly body?: RequestBody | undefined;
  /** Sent as given; a body's content-type is added unless one is here. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** A response said it was JSON and was not: the server broke the API's envelope. */
export class UnparsableJsonReply extends Error {
  override readonly name = 'UnparsableJsonReply';
}

function payloadOf(body: RequestBody): { payload: Buffer; contentType: string } {
  if ('json' in body) return { payload: Buffer.from(JSON.stringify(body.json)), contentType: 'application/json' };
  if ('wasm' in body) return { payload: Buffer.from(body.wasm.buffer, body.wasm.byteOffset, body.wasm.byteLength), contentType: 'application/wasm' };
  return { payload: Buffer.from(body.text), contentType: 'text/plain' };
}

/** `method url`; resolves with any status, rejects on a transport error or a JSON body that does not parse. */
export function sendRequest<T = unknown>(method: string, url: string, opts: SendRequest): Promise<HttpReply<T>> {
  const headers: Record<string, string | number> = { ...opts.headers };
  let payload: Buffer | undefined;
  if (opts.body !== undefined) {
    const p = payloadOf(opts.body);
    payload = p.payload;
    headers['content-type'] ??= p.contentType;
    headers['content-length'] = payload.byteLength;
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        if (text.length > 0 && /^application\/json/.test(res.headers['content-type'] ?? '')) {
          try {
            json = JSON.parse(text);
          } catch (err) {
            reject(new UnparsableJsonReply(`${method} ${url}: the JSON response does not parse: ${String(err)}: ${text.slice(0, 200)}`));
            return;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
