// A throwaway PostgreSQL cluster for tests: Debian's initdb and pg_ctl into a temporary
// directory, listening on 127.0.0.1 at a free port with its unix socket in that directory, as
// the `postgres` user when the tests run as root (PostgreSQL refuses to run as root). It never
// uses a cluster Debian's service scripts may have started. One per test file; the test that
// starts it stops and removes it at its end.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

const INSTALL_HINT =
  "install Debian's PostgreSQL server (apt-get install -y postgresql): the postgres store tests run initdb and pg_ctl " +
  'from /usr/lib/postgresql/<version>/bin';

export interface PostgresCluster {
  readonly port: number;
  /** A URL for a new, empty database of this cluster. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown: connections are closed). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => Promise<void>): void;
}

/** The newest installed server's bin directory (Debian installs each version under `root`). */
export function findPostgresBin(root = '/usr/lib/postgresql'): string {
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) throw new Error(`PostgreSQL is not installed: ${INSTALL_HINT}.`);
  return join(root, newest, 'bin');
}

export async function startPostgres(t: Teardown): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'jit-pg-'));
  const data = join(dir, 'data');
  let running = false;
  t.teardown(async () => {
    if (running) await pgCtl(['stop', '-D', data, '-m', 'immediate', '-w']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  // As root: the directory belongs to postgres, and every command runs as postgres.
  let asPostgres: (file: string, args: string[]) => [string, string[]] = (file, args) => [file, args];
  if (asRoot) {
    await chown(dir, await idOf('-u'), await idOf('-g'));
    asPostgres = (await hasCommand('runuser'))
      ? (file, args) => ['runuser', ['-u', 'postgres', '--', file, ...args]]
      : (file, args) => ['su', ['postgres', '-s', '/bin/sh', '-c', [file, ...args].map(shellQuote).join(' ')]];
  }
  const exec = async (file: string, args: string[]) => {
    const [cmd, argv] = asPostgres(file, args);
    try {
      return await run(cmd, argv, { cwd: dir, timeout: 120_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  };
  const pgCtl = (args: string[]) => exec(join(bin, 'pg_ctl'), args);

  await exec(join(bin, 'initdb'), ['-D', data, '-U', 'jit', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const start = async () => {
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
    await pgCtl(['start', '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', opts]);
    running = true;
  };
  await start();

  const base = `postgres://jit@127.0.0.1:${port}`;
  let databases = 0;
  return {
    port,
    async createDatabase() {
      const name = `store_test_${++databases}`;
      const client = new pg.Client({ connectionString: `${base}/postgres` });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `${base}/${name}`;
    },
    async stop() {
      await pgCtl(['stop', '-D', data, '-m', 'fast', '-w']);
      running = false;
    },
    start,
  };
}

async function idOf(flag: '-u' | '-g'): Promise<number> {
  try {
    return Number((await run('id', [flag, 'postgres'])).stdout.trim());
  } catch {
    throw new Error(`running as root, the tests start PostgreSQL as the postgres user, which does not exist: ${INSTALL_HINT}`);
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function hasCommand(name: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
