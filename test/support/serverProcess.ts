// Runs the production entry point as a child process, the way `npm start` does (this Node binary
// running src/server.ts from the project root, or `npm start` itself), for tests that must see
// what happens to the process: a crash, an abort, an exit code, a signal. Gives the test the
// server's URL, a small HTTP/JSON client on a keep-alive agent, the log lines the server wrote,
// a way to signal it and a promise of its exit. Every process started here is killed when the
// test ends (t.teardown) or, failing that, when the test process exits, so a failed test never
// leaves a server running.

import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { delimiter, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './freePort.ts';
import { type HttpReply, type RequestBody, sendRequest } from './httpRequest.ts';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/** A pino JSON log line as the server wrote it. */
export type LogLine = Readonly<Record<string, unknown>> & { readonly msg?: string; readonly level?: number };

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /**
   * Settings for the server's environment, on top of the defaults (PORT=0, HOST=127.0.0.1,
   * DATABASE_URL=memory:, LOG_LEVEL=info). With a LOG_LEVEL above info the server does not say
   * where it listens, so it gets a free port and the start waits for /health instead.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** `node`: process.execPath running src/server.ts (default); `npm`: `npm start`, with node_modules/.bin first on PATH as npm test has it. */
  readonly via?: 'node' | 'npm';
  /** How long to wait for "Server listening at ..." (default 60 s: the machine is shared). */
  readonly startTimeoutMs?: number;
}

/** Registers cleanup the way tap's Test does; structural, so this file does not depend on tap. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

export type ApiResponse<T = unknown> = HttpReply<T>;
export type { RequestBody };

/** The server did not come up: it exited, or never said it was listening. */
export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
}

/** Servers whose process (group) has not closed yet: what the exit hook kills. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The last resort when a test process ends without running its teardowns (an uncaught error,
  // process.exit): kill every server still running, synchronously.
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  // Not `child.exitCode`: `npm start` can exit before the node process it started.
  if (child.pid === undefined || !live.has(child)) return;
  try {
    // Each server runs in a process group of its own, so `npm start`'s shell and node go too.
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Where `npm start` keeps Node's compile cache unless NODE_COMPILE_CACHE says otherwise
 * (package.json): servers started with `node src/server.ts` get the same, as `npm start` gives it.
 */
export const NPM_START_COMPILE_CACHE = join(PROJECT_ROOT, 'node_modules', '.cache', 'node-compile');

/** The test process's environment without what tap adds for its own children (its --import hooks in NODE_OPTIONS). */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key === 'NODE_OPTIONS' || key.startsWith('TAP') || key.startsWith('_TAPJS') || key.startsWith('TS_NODE')) continue;
    env[key] = value;
  }
  return env;
}

const LISTENING = /^Server listening at (http:\/\/[^\s]+)$/;
/** The levels at which fastify's "Server listening at" line is written. */
const LOGS_LISTENING = new Set(['info', 'debug', 'trace']);


function answersHealth(base: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const req = httpRequest(`${base}/health`, { agent: false }, (res) => {
      res.resume();
      resolvePromise(res.statusCode === 200);
    });
    req.on('error', () => resolvePromise(false));
    req.end();
  });
}

export class ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Every JSON line the server wrote to stdout, in order. */
  readonly logs: LogLine[];
  /** Lines on stdout that were not JSON (npm's banner, a V8 fatal error report). */
  readonly otherOutput: string[];
  /** Settles when the process has exited, however that happened. */
  readonly exited: Promise<ProcessExit>;
  readonly #child: ChildProcess;
  readonly #via: 'node' | 'npm';
  readonly #agent = new Agent({ keepAlive: true });
  readonly #stderr: string[];
  readonly #logWaiters: Set<() => void>;
  #exit: ProcessExit | undefined;

  constructor(init: {
    child: ChildProcess;
    via: 'node' | 'npm';
    url: string;
    logs: LogLine[];
    otherOutput: string[];
    stderr: string[];
    logWaiters: Set<() => void>;
    exited: Promise<ProcessExit>;
  }) {
    this.#child = init.child;
    this.#via = init.via;
    this.url = init.url;
    this.port = Number(new URL(init.url).port);
    this.pid = init.child.pid ?? -1;
    this.logs = init.logs;
    this.otherOutput = init.otherOutput;
    this.#stderr = init.stderr;
    this.#logWaiters = init.logWaiters;
    this.exited = init.exited.then((exit) => {
      this.#exit = exit;
      return exit;
    });
  }

  /** What the process wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr.join('');
  }

  /** The exit, once the process has exited (undefined while it runs). */
  get exitStatus(): ProcessExit | undefined {
    return this.#exit;
  }

  /** What the process wrote outside its JSON log (a V8 fatal error report, a crash), for a failure message. */
  unloggedOutput(maxChars = 1500): string {
    const text = [...this.otherOutput, this.stderr].join('\n').trim();
    return text.length > maxChars ? `${text.slice(0, maxChars)}...` : text;
  }

  /** Everything the process wrote, for a failure message. */
  transcript(maxChars = 4000): string {
    const text = [...this.logs.map((l) => JSON.stringify(l)), ...this.otherOutput, this.stderr].join('\n');
    return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
  }

  /** Sends a signal to the server (for `npm start`, to its process group, as a terminal's Ctrl-C does). */
  signal(name: NodeJS.Signals): void {
    if (this.#via === 'npm') killGroup(this.#child, name);
    else this.#child.kill(name);
  }

  /** The first log line (already written or still to come) that `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    return new Promise((resolvePromise, reject) => {
      let seen = 0;
      const check = (): boolean => {
        for (; seen < this.logs.length; seen++) {
          const line = this.logs[seen]!;
          if (match(line)) {
            done();
            resolvePromise(line);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#logWaiters.delete(onLine);
      };
      const onLine = () => {
        check();
      };
      if (!check()) this.#logWaiters.add(onLine);
    });
  }

  /** One HTTP request; `path` is sent as given, so callers percent-encode names. */
  request<T = unknown>(
    method: string,
    path: string,
    body?: RequestBody,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<ApiResponse<T>> {
    return sendRequest<T>(method, `${this.url}${path}`, { agent: this.#agent, body, headers });
  }

  get<T = unknown>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = unknown>(path: string, json: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, { json });
  }

  /**
   * Stops the server: `signal` (SIGTERM by default) and, if it has not exited within
   * `graceMs`, SIGKILL to its whole process group. Safe to call more than once.
   */
  async stop(graceMs = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<ProcessExit> {
    this.#agent.destroy();
    if (this.#exit) return this.#exit;
    this.signal(signal);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolvePromise) => {
      timer = setTimeout(() => {
        killGroup(this.#child, 'SIGKILL');
        resolvePromise();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }
}

/** A server id for messages: "node src/server.ts" or "npm start". */
function commandFor(via: 'node' | 'npm'): { command: string; args: string[] } {
  return via === 'npm' ? { command: 'npm', args: ['start'] } : { command: process.execPath, args: [join('src', 'server.ts')] };
}

/**
 * Starts the server and resolves once it listens. With `t`, the server is stopped when the
 * test ends (SIGTERM, SIGKILL after a grace period).
 */
export async function startServerProcess(t: TeardownHost | undefined, options: StartOptions = {}): Promise<ServerProcess> {
  installExitHook();
  const via = options.via ?? 'node';
  const env: Record<string, string> = {
    // npm start sets it unless it is set (package.json); `node src/server.ts` gets what npm start would give.
    ...(via === 'node' ? { NODE_COMPILE_CACHE: NPM_START_COMPILE_CACHE } : {}),
    ...baseEnv(),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // Nothing of a test's session may be written into the project directory.
    DATABASE_URL: 'memory:',
    ...options.env,
  };
  // Below info, the server does not log that it listens: give it a free port and ask /health.
  const quietPort = LOGS_LISTENING.has(env['LOG_LEVEL'] ?? '') ? undefined : env['PORT'] === '0' ? await freePort() : Number(env['PORT']);
  if (quietPort !== undefined) env['PORT'] = String(quietPort);
  if (via === 'npm') env['PATH'] = [join(PROJECT_ROOT, 'node_modules', '.bin'), env['PATH'] ?? ''].join(delimiter);
  const { command, args } = commandFor(via);
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);

  const logs: LogLine[] = [];
  const otherOutput: string[] = [];
  const stderr: string[] = [];
  const logWaiters = new Set<() => void>();
  const exited = new Promise<ProcessExit>((resolvePromise) => {
    // 'close', not 'exit': by then stdout is drained, so the logs hold every line the process wrote.
    child.once('close', (code, signal) => {
      live.delete(child);
      resolvePromise({ code, signal });
    });
    // spawn itself failed (no such command): report it as an exit.
    child.once('error', (err) => {
      live.delete(child);
      stderr.push(`spawn failed: ${err.message}\n`);
      resolvePromise({ code: null, signal: null });
    });
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) logs.push(parsed as LogLine);
    else otherOutput.push(line);
    for (const waiter of [...logWaiters]) waiter();
  });

  const describe = () =>
    [...logs.map((l) => JSON.stringify(l)), ...otherOutput, stderr.join('')].join('\n').slice(-4000);
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let onLine: (() => void) | undefined;
  let polling = true;
  try {
    const url = await new Promise<string>((resolvePromise, reject) => {
      void exited.then((exit) =>
        reject(new ServerStartError(`${command} ${args.join(' ')} exited (${exit.code ?? exit.signal}) before listening:\n${describe()}`)),
      );
      timer = setTimeout(
        () => reject(new ServerStartError(`${command} ${args.join(' ')} did not listen within ${timeoutMs} ms:\n${describe()}`)),
        timeoutMs,
      );
      if (quietPort === undefined) {
        onLine = () => {
          for (const l of logs) {
            const m = typeof l.msg === 'string' ? LISTENING.exec(l.msg) : null;
            if (m?.[1]) resolvePromise(m[1]);
          }
        };
        logWaiters.add(onLine);
        onLine();
      } else {
        const base = `http://${env['HOST']}:${quietPort}`;
        void (async () => {
          while (polling) {
            if (await answersHealth(base)) return resolvePromise(base);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
      }
    });
    const server = new ServerProcess({ child, via, url, logs, otherOutput, stderr, logWaiters, exited });
    t?.teardown(() => server.stop());
    return server;
  } catch (err) {
    killGroup(child, 'SIGKILL');
    throw err;
  } finally {
    polling = false;
    clearTimeout(timer);
    if (onLine) logWaiters.delete(onLine);
  }
}
