// The servers the HTTP sections run as child processes: the JIT's real server, started the way
// `npm start` starts it (this Node running src/server.ts from the project root, PORT=0,
// DATABASE_URL=memory:, npm start's compile cache; test/support/serverProcess.ts, which the
// process tests use too), and the bare fastify route that HTTP throughput is compared with (with
// the same compile cache, so that neither side pays for TypeScript stripping the other skips).

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NPM_START_COMPILE_CACHE, type ServerProcess, startServerProcess } from '../test/support/serverProcess.ts';

export type { ServerProcess };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class BenchServerError extends Error {
  override name = 'BenchServerError';
}

/**
 * The JIT server with the default configuration apart from `env`. At LOG_LEVEL info (the
 * default) it logs where it listens; above that the helper picks a free port and waits for
 * /health.
 */
export function startJitServer(env: Readonly<Record<string, string>> = {}): Promise<ServerProcess> {
  return startServerProcess(undefined, { env });
}

export interface BareServer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * bench/bare-server.ts (or another script of bench/ that prints `listening <url>` the same way:
 * hop-server.ts) on a free port; resolves once it says where it listens.
 */
export async function startBareServer(env: Readonly<Record<string, string>> = {}, script = 'bare-server.ts'): Promise<BareServer> {
  const child: ChildProcess = spawn(process.execPath, [path.join('bench', script)], {
    cwd: root,
    env: { NODE_COMPILE_CACHE: NPM_START_COMPILE_CACHE, ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new BenchServerError(`bench/${script} did not listen within 30 s: ${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new BenchServerError(`bench/${script} exited ${code} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening http:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    port,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
