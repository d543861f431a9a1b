// An HTTP client for one base URL (the load balancer, or one replica directly), speaking API.md's
// JSON with a bearer credential. Each request may carry its own X-Request-Id, which the server
// takes as its request id (and a replica forwards unchanged), so a test can find one request in
// every replica's log.

import { Agent } from 'node:http';
import { type HttpReply, sendRequest } from '../support/httpRequest.ts';

export type Reply<T = unknown> = HttpReply<T>;

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
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.bearer !== undefined) headers['authorization'] = `Bearer ${opts.bearer}`;
    if (opts.requestId !== undefined) headers['x-request-id'] = opts.requestId;
    return sendRequest<T>(method, `${this.url}${path}`, { agent: this.#agent, headers, body: opts.json === undefined ? undefined : { json: opts.json } });
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
