// An HTTP client for one base URL (the load balancer, or one replica directly), speaking API.md's
// JSON with a bearer credential. Each request may carry its own X-Request-Id, which the server
// takes as its request id (and a replica forwards unchanged), so a test can find one request in
// every replica's log.

import { Agent, request as httpRequest } from 'node:http';

export interface Reply<T = unknown> {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** The parsed body when the response is JSON, else undefined. */
  readonly json: T;
}

export interface RequestOptions {
  readonly json?: unknown;
  /** `Authorization: Bearer <bearer>`. */
  readonly bearer?: string;
  readonly requestId?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request the test needed to succeed did not. */
export class UnexpectedReply extends Error {
  override readonly name = 'UnexpectedReply';
  constructor(what: string, reply: Reply) {
    super(`${what}: ${reply.status} ${reply.text.slice(0, 500)}`);
  }
}

export class Endpoint {
  readonly name: string;
  readonly url: string;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(name: string, url: string) {
    this.name = name;
    this.url = url;
  }

  request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.bearer !== undefined) headers['authorization'] = `Bearer ${opts.bearer}`;
    if (opts.requestId !== undefined) headers['x-request-id'] = opts.requestId;
    let payload: Buffer | undefined;
    if (opts.json !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.json));
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.byteLength;
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${this.url}${path}`, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          if (/^application\/json/.test(res.headers['content-type'] ?? '')) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** The request, which must answer `status`; its JSON body. */
  async expect<T = unknown>(status: number, method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const reply = await this.request<T>(method, path, opts);
    if (reply.status !== status) throw new UnexpectedReply(`${method} ${this.name}${path}`, reply);
    return reply.json;
  }

  close(): void {
    this.#agent.destroy();
  }
}
