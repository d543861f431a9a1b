// HAProxy in front of server processes, for tests: Debian's `haproxy` started in the foreground
// with a configuration written into a temporary directory, listening on 127.0.0.1 at a free port,
// with an admin socket in that directory through which a test reads what HAProxy thinks of each
// server (UP, DOWN). The test that starts it stops it (and removes the directory) at its end.
// Without haproxy installed this throws, saying what to install: the tests that need it fail,
// they are never skipped.

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './freePort.ts';

export const HAPROXY_INSTALL_HINT = "install Debian's HAProxy (apt-get install -y haproxy): the replica tests put it in front of the replicas";

export class HaproxyNotInstalled extends Error {
  override readonly name = 'HaproxyNotInstalled';
}

export class HaproxyStartError extends Error {
  override readonly name = 'HaproxyStartError';
}

export interface Backend {
  /** HAProxy's name for the server (its stats and logs use it). */
  readonly name: string;
  readonly port: number;
}

export interface HaproxyOptions {
  readonly servers: readonly Backend[];
  /** The backend's balance line (default `roundrobin`). */
  readonly balance?: string;
  /** Extra lines for the backend section (e.g. `hash-type consistent`). */
  readonly backendLines?: readonly string[];
}

/** The server states HAProxy reports on its admin socket ("UP", "DOWN", "MAINT", "UP 1/2"...). */
export type ServerStates = ReadonlyMap<string, string>;

export interface Haproxy {
  readonly url: string;
  readonly port: number;
  /** The configuration HAProxy was started with (for failure messages). */
  readonly config: string;
  /** Each backend server's state as HAProxy's health checks see it. */
  serverStates(): Promise<ServerStates>;
  /** Resolves once every server is UP (or rejects after `timeoutMs`). */
  waitUntilAllUp(timeoutMs?: number): Promise<void>;
  /** What HAProxy wrote to stderr (warnings, alerts). */
  output(): string;
  stop(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => Promise<void>): void;
}

/** The haproxy binary: on PATH, or where Debian puts it (/usr/sbin, which a non-root PATH may lack). */
export function findHaproxy(dirs: readonly string[] = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']): string {
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = join(dir, 'haproxy');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  throw new HaproxyNotInstalled(`HAProxy is not installed: ${HAPROXY_INSTALL_HINT}.`);
}

function configFor(dir: string, port: number, opts: HaproxyOptions): string {
  const servers = opts.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`);
  return [
    'global',
    `  stats socket ${join(dir, 'admin.sock')} mode 600 level admin`,
    '  maxconn 512',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    // A server that refuses the connection (killed): try again, on another server for the last try.
    // HAProxy retries only when nothing of the request was sent, so a POST is never sent twice.
    '  retries 2',
    '  option redispatch',
    '',
    'frontend lb',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    '',
    'backend replicas',
    `  balance ${opts.balance ?? 'roundrobin'}`,
    ...(opts.backendLines ?? []).map((l) => `  ${l}`),
    '  option httpchk',
    '  http-check send meth GET uri /health',
    '  http-check expect status 200',
    // Quick checks: a killed replica leaves the rotation within about a second.
    '  default-server inter 300ms fall 2 rise 2',
    ...servers,
    '',
  ].join('\n');
}

/** Asks the admin socket one command; resolves with its whole answer. */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const conn = connect(socket);
    conn.on('connect', () => conn.end(`${command}\n`));
    conn.on('data', (c: Buffer) => chunks.push(c));
    conn.on('error', reject);
    conn.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function parseStates(csv: string): Map<string, string> {
  const lines = csv.split('\n').filter((l) => l.length > 0);
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const status = header.indexOf('status');
  const states = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const cols = line.split(',');
    const name = cols[sv];
    if (cols[px] !== 'replicas' || name === undefined || name === 'FRONTEND' || name === 'BACKEND') continue;
    states.set(name, cols[status] ?? '');
  }
  return states;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(port, '127.0.0.1');
    conn.on('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.on('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startHaproxy(t: Teardown, opts: HaproxyOptions): Promise<Haproxy> {
  const bin = findHaproxy();
  const dir = await mkdtemp(join(tmpdir(), 'jit-haproxy-'));
  const port = await freePort();
  const config = configFor(dir, port, opts);
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);

  const stderr: string[] = [];
  // -db: stay in the foreground, so the test owns the process and its exit.
  const child: ChildProcess = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('close', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      stderr.push(`spawn failed: ${err.message}\n`);
      exited = true;
      resolve();
    });
  });
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(killed);
    }
    await rm(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  // The process is ours even if the test process ends without its teardowns.
  process.once('exit', () => {
    if (!exited) child.kill('SIGKILL');
  });

  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (exited) throw new HaproxyStartError(`haproxy exited before listening:\n${stderr.join('')}\nconfig:\n${config}`);
    if (Date.now() > deadline) throw new HaproxyStartError(`haproxy did not listen within 15 s:\n${stderr.join('')}`);
    await sleep(50);
  }

  const socket = join(dir, 'admin.sock');
  const serverStates = async () => parseStates(await adminCommand(socket, 'show stat'));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    serverStates,
    async waitUntilAllUp(timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const states = await serverStates();
        if (states.size === opts.servers.length && [...states.values()].every((s) => s === 'UP')) return;
        if (Date.now() > until) throw new HaproxyStartError(`not every server is UP: ${JSON.stringify([...states])}`);
        await sleep(100);
      }
    },
    output: () => stderr.join(''),
    stop,
  };
}
