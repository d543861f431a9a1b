// The compile cache npm start keeps (NODE_COMPILE_CACHE, package.json): the server writes it as
// soon as it listens, so a server killed with SIGKILL (no exit handlers run) still leaves it, and
// the next start takes every source it loads from it, stripped and compiled, instead of loading
// Node's TypeScript stripper. Node reports each cache read and write on stderr under
// NODE_DEBUG_NATIVE=COMPILE_CACHE, which is what these tests read.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { NPM_START_COMPILE_CACHE, PROJECT_ROOT, startServerProcess } from '../support/serverProcess.ts';

const SRC = pathToFileURL(join(PROJECT_ROOT, 'src')).href;

/** The project's sources (file URLs under src/) a start stripped itself, and those it took from the cache. */
function typeScriptLoads(stderr: string): { stripped: Set<string>; fromCache: Set<string> } {
  const stripped = new Set<string>();
  const fromCache = new Set<string>();
  for (const line of stderr.split('\n')) {
    const saved = /saving transpilation cache for StrippedTypeScript (\S+)/.exec(line)?.[1];
    if (saved?.startsWith(SRC)) stripped.add(saved);
    const hit = /retrieving transpile cache for StrippedTypeScript (\S+?)\.\.\.success/.exec(line)?.[1];
    if (hit?.startsWith(SRC)) fromCache.add(hit);
  }
  return { stripped, fromCache };
}

t.test('a start after one killed with SIGKILL takes the sources it loads from the compile cache', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jit-compile-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { NODE_COMPILE_CACHE: dir, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' };

  const first = await startServerProcess(t, { env });
  t.equal((await first.get('/health')).status, 200);
  const cold = typeScriptLoads(first.stderr);
  first.signal('SIGKILL');
  t.same(await first.exited, { code: null, signal: 'SIGKILL' }, 'the first server died without running any exit handler');
  t.ok(cold.stripped.has(`${SRC}/server.ts`), 'the first start, with an empty cache, stripped src/server.ts itself');
  t.ok(cold.stripped.size > 20, `and the rest of the sources it loads (${cold.stripped.size} files)`);

  const second = await startServerProcess(t, { env });
  t.equal((await second.get('/health')).status, 200);
  const warm = typeScriptLoads(second.stderr);
  const missed = [...cold.stripped].filter((url) => !warm.fromCache.has(url));
  t.same(missed, [], 'every source the first start loaded before listening came from the cache');
  t.same([...warm.stripped].filter((url) => cold.stripped.has(url)), [], 'none of them was stripped again');
});

t.test('npm start keeps the cache under node_modules/.cache unless NODE_COMPILE_CACHE says otherwise', async (t) => {
  const server = await startServerProcess(t, { via: 'npm', env: { NODE_DEBUG_NATIVE: 'COMPILE_CACHE' } });
  t.equal((await server.get('/health')).status, 200);
  t.match(server.stderr, `reading cache from ${NPM_START_COMPILE_CACHE}/`, 'npm start gives Node its compile cache directory');
  const { fromCache, stripped } = typeScriptLoads(server.stderr);
  t.ok(fromCache.size + stripped.size > 20, `and the server loads its sources through it (${fromCache.size} read, ${stripped.size} stripped)`);
});
