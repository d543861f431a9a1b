// Where executors run their workers when they must not share the server's process: at most
// `maxHosts` child processes ("executor hosts"), each holding the worker threads of several
// sessions. V8 may abort a whole process when one of its workers runs out of heap
// (nodejs/node#47224); in a host that ends only the sessions on that host, whose executors
// restart on another (or a new) host and replay their link logs. One pool per server process.
//
// Placement: each new connection goes to the least loaded host, where a host not started yet
// counts as empty, so sessions spread over all `maxHosts` processes before any two share one.
// Hosts start lazily and a dead one is replaced only when a connection needs a place.

import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionFactory, ConnectionOptions, ExecutorConnection } from './ExecutorConnection.ts';
import { ExecutorHost } from './ExecutorHost.ts';
import { ExecutorHostPoolClosed } from './hostErrors.ts';

export interface ExecutorHostPoolOptions {
  /** Most host processes at once. Default: the machine's parallelism, at most 4. */
  readonly maxHosts?: number;
  /** Node flags added to every host's (after the hygiene below). */
  readonly execArgv?: readonly string[];
  /**
   * Node's compile cache for the hosts (their own modules; workers get theirs per connection).
   * Default: $NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache. false: none.
   */
  readonly compileCacheDir?: string | false;
  /** Lines of a host's stderr kept for the error reporting its death. Default 40. */
  readonly stderrLines?: number;
  /** Copy hosts' stderr to this process's stderr (prefixed with the host's pid). Default true. */
  readonly echoStderr?: boolean;
  /** How long close() lets a host exit on its own before killing it. Default 2000 ms. */
  readonly closeGraceMs?: number;
}

export interface HostInfo {
  readonly pid: number | undefined;
  /** Live connections (sessions) on the host. */
  readonly sessions: number;
}

export class ExecutorHostPool implements ConnectionFactory {
  readonly maxHosts: number;
  private readonly execArgv: readonly string[];
  private readonly env: Readonly<Record<string, string>>;
  private readonly stderrLines: number;
  private readonly echoStderr: boolean;
  private readonly closeGraceMs: number;
  private readonly hosts = new Set<ExecutorHost>();
  private closed = false;
  private hostsStarted = 0;

  constructor(opts: ExecutorHostPoolOptions = {}) {
    this.maxHosts = Math.max(1, Math.floor(opts.maxHosts ?? Math.min(4, availableParallelism())));
    this.execArgv = [...hostExecArgv(process.execArgv), ...(opts.execArgv ?? [])];
    const cache =
      opts.compileCacheDir === false
        ? undefined
        : (opts.compileCacheDir ?? process.env['NODE_COMPILE_CACHE'] ?? join(tmpdir(), 'node-compile-cache'));
    this.env = hostEnv(process.env, cache);
    this.stderrLines = opts.stderrLines ?? 40;
    this.echoStderr = opts.echoStderr ?? true;
    this.closeGraceMs = opts.closeGraceMs ?? 2000;
  }

  open(opts: ConnectionOptions): ExecutorConnection {
    if (this.closed) return new RefusedConnection(opts, new ExecutorHostPoolClosed());
    return this.place().open(opts);
  }

  /** The hosts running now. */
  hostInfo(): HostInfo[] {
    return [...this.hosts].map((h) => ({ pid: h.pid, sessions: h.load }));
  }

  /** Host processes started so far, replacements included. */
  get startedHosts(): number {
    return this.hostsStarted;
  }

  /** Stops every host; executors still using the pool become unusable (ExecutorHostPoolClosed). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.hosts].map((h) => h.close(new ExecutorHostPoolClosed(), this.closeGraceMs)));
  }

  private place(): ExecutorHost {
    let best: ExecutorHost | null = null;
    for (const h of this.hosts) {
      if (!h.isAlive) continue;
      if (best === null || h.load < best.load) best = h;
    }
    if (best !== null && (best.load === 0 || this.liveHosts() >= this.maxHosts)) return best;
    return this.startHost();
  }

  private liveHosts(): number {
    let n = 0;
    for (const h of this.hosts) if (h.isAlive) n++;
    return n;
  }

  private startHost(): ExecutorHost {
    this.hostsStarted++;
    const host = new ExecutorHost({
      execArgv: this.execArgv,
      env: this.env,
      stderrLines: this.stderrLines,
      echoStderr: this.echoStderr,
      onEnd: (h) => this.hosts.delete(h),
    });
    this.hosts.add(host);
    return host;
  }
}

/**
 * The flags a host inherits from this process: not module hooks (--import, --require, --loader:
 * a test runner's instrumentation, or a TypeScript loader Node 24's type stripping does not
 * need) and not the inspector (its port is taken by this process).
 */
export function hostExecArgv(argv: readonly string[]): string[] {
  const dropWithValue = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (dropWithValue.has(arg)) {
      i++;
      continue;
    }
    const name = arg.split('=', 1)[0] ?? arg;
    if (dropWithValue.has(name) || name.startsWith('--inspect') || name === '--debug-port') continue;
    out.push(arg);
  }
  return out;
}

/**
 * The environment of a host: this process's, without NODE_OPTIONS (the same hooks as above come
 * in that way too; flags a host needs go in ExecutorHostPoolOptions.execArgv), with the compile cache.
 */
export function hostEnv(env: NodeJS.ProcessEnv, compileCacheDir: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== 'NODE_OPTIONS' && k !== 'NODE_COMPILE_CACHE') out[k] = v;
  if (compileCacheDir !== undefined) out['NODE_COMPILE_CACHE'] = compileCacheDir;
  return out;
}

/** What a closed pool hands out: a connection whose worker "dies" at once, with the reason. */
class RefusedConnection implements ExecutorConnection {
  readonly startedAt = performance.now();
  readonly pid = undefined;
  readonly isDisposed = false;
  constructor(opts: ConnectionOptions, reason: Error) {
    queueMicrotask(() => opts.onDeath(reason));
  }
  postOp(): void {}
  postRequest(): void {}
  answer(): void {}
  dispose(): Promise<void> {
    return Promise.resolve();
  }
}
