// The service run: the real server (`node src/server.ts`) as a child process, found through
// the address it logs, and a Target that drives it over HTTP as a user would: dylibs created
// by name, modules added lazily as binaries, exports invoked in the body form, memory read and
// written as base64, globals read through their symbol. Names are percent-encoded in paths.

import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Setup, Target } from './target.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export class ServiceError extends Error {
  override name = 'ServiceError';
}

export interface RunningServer {
  readonly child: ChildProcess;
  readonly port: number;
  /** The first few log lines at level error or above, for a failure's message. */
  readonly loggedErrors: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts the server on a free port (PORT=0) and resolves once it logged where it listens.
 * The call time limit is raised to 120 s: today one SQLite call compiles for over 30 s on this
 * machine, far past the default 5 s. DATABASE_URL=memory: keeps a durable store, where the
 * server has one, from carrying compiled code from one run into the next.
 */
export async function startServer(extraEnv: Record<string, string> = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, ['src/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      CALL_TIMEOUT_MS: '120000',
      MAX_CALL_TIMEOUT_MS: '120000',
      DATABASE_URL: 'memory:',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const errors: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ServiceError(`the server logged no address within 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new ServiceError(`the server exited ${code} before listening: ${stderr}`));
    });
    // Every line is read, also after the address: an unread pipe would stall the server's logging.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { level?: number; msg?: string };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if ((entry.level ?? 0) >= 50 && errors.length < 5) errors.push(line.slice(0, 500));
      const m = /^Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(entry.msg ?? '');
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    child,
    port,
    loggedErrors: errors,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface Reply {
  status: number;
  body: string;
}

interface InvokeReply {
  results: { type: string; value: unknown }[];
  compiled: string[];
  timing: { compileMs: number; runMs: number };
}

/** What the server reported over a run. */
export interface ServiceStats {
  requests: number;
  /** Function bodies compiled during invokes (baseline: optimized tiers are compiled beside the program, outside any invoke). */
  compiled: number;
  /** Functions given their optimized tier by the end of the run (the server's re-optimization counter, read by the caller). */
  optimized: number;
  /** The invoke that took longest, as the client timed it. */
  slowest: { symbol: string; ms: number; compiled: number } | null;
  compileMs: number;
  runMs: number;
}

const seg = (name: string) => encodeURIComponent(name);

/**
 * The server's count of re-optimized functions (`wasmjit_reoptimizations_total` in /metrics).
 * Re-optimization runs beside the program, so an invoke's `compiled` list does not show it.
 */
export async function reoptimizations(port: number): Promise<number> {
  const target = new ServiceTarget(port);
  try {
    const r = await target.request('GET', '/metrics');
    const m = /^wasmjit_reoptimizations_total (\d+)$/m.exec(r.body);
    if (r.status !== 200 || !m?.[1]) throw new ServiceError(`GET /metrics: HTTP ${r.status}, no wasmjit_reoptimizations_total`);
    return Number(m[1]);
  } finally {
    target.close();
  }
}

export class ServiceTarget implements Target {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #port: number;
  readonly stats: ServiceStats = { requests: 0, compiled: 0, optimized: 0, slowest: null, compileMs: 0, runMs: 0 };

  constructor(port: number) {
    this.#port = port;
  }

  close(): void {
    this.#agent.destroy();
  }

  request(method: string, urlPath: string, body?: Uint8Array | string, contentType = 'application/json'): Promise<Reply> {
    this.stats.requests++;
    return new Promise((resolve, reject) => {
      const headers = body === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(body) };
      const req = http.request({ host: '127.0.0.1', port: this.#port, method, path: urlPath, agent: this.#agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  async #ok(method: string, urlPath: string, body?: Uint8Array | string, contentType?: string): Promise<string> {
    const r = await this.request(method, urlPath, body, contentType);
    if (r.status < 200 || r.status >= 300) throw new ServiceError(`${method} ${urlPath}: HTTP ${r.status} ${r.body.slice(0, 600)}`);
    return r.body;
  }

  async createDylib(name: string, linkOrder?: readonly string[]): Promise<void> {
    await this.#ok('POST', '/dylibs', JSON.stringify(linkOrder ? { name, linkOrder } : { name }));
  }

  async deleteDylib(name: string): Promise<void> {
    await this.#ok('DELETE', `/dylibs/${seg(name)}`);
  }

  async addModule(dylib: string, name: string, bytes: Uint8Array | string): Promise<void> {
    const type = typeof bytes === 'string' ? 'text/plain' : 'application/wasm';
    await this.#ok('POST', `/dylibs/${seg(dylib)}/modules?lazy=true&name=${seg(name)}`, bytes, type);
  }

  /** Creates the dylibs and adds the modules, in order. */
  async setUp(setup: Setup): Promise<void> {
    for (const d of setup.dylibs) await this.createDylib(d.name, d.linkOrder);
    for (const m of setup.modules) await this.addModule(m.dylib, m.name, m.bytes);
  }

  async invoke(dylib: string, symbol: string, args: readonly number[] = []): Promise<number | undefined> {
    const t0 = performance.now();
    const r = JSON.parse(await this.#ok('POST', `/dylibs/${seg(dylib)}/invoke`, JSON.stringify({ symbol, args }))) as InvokeReply;
    const ms = performance.now() - t0;
    if (!this.stats.slowest || ms > this.stats.slowest.ms) this.stats.slowest = { symbol: `${dylib}.${symbol}`, ms, compiled: r.compiled.length };
    this.stats.compiled += r.compiled.length;
    this.stats.compileMs += r.timing.compileMs;
    this.stats.runMs += r.timing.runMs;
    const v = r.results[0]?.value;
    return typeof v === 'number' ? v : undefined;
  }

  async readMemory(dylib: string, memory: string, offset: number, length: number): Promise<Uint8Array> {
    const r = JSON.parse(await this.#ok('GET', `/dylibs/${seg(dylib)}/memories/${seg(memory)}?offset=${offset}&length=${length}`)) as { base64: string };
    return new Uint8Array(Buffer.from(r.base64, 'base64'));
  }

  async writeMemory(dylib: string, memory: string, offset: number, bytes: Uint8Array): Promise<void> {
    await this.#ok('PUT', `/dylibs/${seg(dylib)}/memories/${seg(memory)}`, JSON.stringify({ offset, base64: Buffer.from(bytes).toString('base64') }));
  }

  async readGlobal(dylib: string, name: string): Promise<number> {
    const r = JSON.parse(await this.#ok('GET', `/dylibs/${seg(dylib)}/symbols/${seg(name)}`)) as { value?: { value?: unknown } };
    const v = r.value?.value;
    if (typeof v !== 'number') throw new ServiceError(`${dylib}.${name} has no i32 value: ${JSON.stringify(r).slice(0, 300)}`);
    return v;
  }
}
