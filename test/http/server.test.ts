// The real server over real HTTP: startServer listening on port 0 and talked to with fetch,
// graceful close with a request in flight, and the process entry point's SIGTERM handling.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { startServer } from '../../src/server.ts';
import type { InvokeResult } from '../../src/service/JITService.ts';
import { makeService, testConfig } from './helper.ts';

// (module (func (export "answer") (result i32) i32.const 42))
const ANSWER_WASM = Buffer.from('AGFzbQEAAAABBQFgAAF/AwIBAAcKAQZhbnN3ZXIAAAoGAQQAQSoL', 'base64');

/**
 * /health once recovery is done. Listening comes first (API.md): until then /health answers 503
 * "recovering", which a loaded machine shows for a while even on an empty store.
 */
async function healthy(t: Test, url: string): Promise<Response> {
  let health = await fetch(`${url}/health`);
  for (let i = 0; health.status === 503 && i < 200; i++) {
    t.match(await health.json(), { status: 'recovering' }, 'a 503 from /health says it is recovering');
    await new Promise((resolve) => setTimeout(resolve, 50));
    health = await fetch(`${url}/health`);
  }
  return health;
}

function baseUrl(server: FastifyInstance): string {
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  return `http://127.0.0.1:${address.port}`;
}

t.test('startServer listens on port 0 and serves the API over HTTP', async (t) => {
  const config = testConfig({ port: 0, host: '127.0.0.1' });
  const service = await makeService(config);
  const server = await startServer({ config, service, logger: pino({ level: 'silent' }) });
  t.teardown(() => server.close());
  const url = baseUrl(server);

  const health = await healthy(t, url);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });

  const created = await fetch(`${url}/dylibs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'main' }),
  });
  t.equal(created.status, 201);

  const added = await fetch(`${url}/dylibs/main/modules?lazy=false`, {
    method: 'POST',
    headers: { 'content-type': 'application/wasm' },
    body: ANSWER_WASM,
  });
  t.equal(added.status, 201);

  const called = await fetch(`${url}/dylibs/main/symbols/answer/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ args: [] }),
  });
  const body = await called.text();
  t.equal(called.status, 200, body);
  t.same((JSON.parse(body) as InvokeResult).results, [{ type: 'i32', value: 42, bits: '42' }]);

  const missing = await fetch(`${url}/dylibs/ghost`);
  t.equal(missing.status, 404);
  t.equal(((await missing.json()) as { error: { code: string } }).error.code, 'DylibNotFound');
});

t.test('close() lets an in-flight request finish, then closes the service', async (t) => {
  const config = testConfig({ port: 0 });
  // The real service, with lookups made slow so a request is in flight when the server closes.
  const service = await makeService(config);
  const session = service.sessions.session('default');
  const lookup = session.lookup.bind(session);
  session.lookup = async (dylib, names) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return lookup(dylib, names);
  };
  let closed = false;
  const close = service.close.bind(service);
  service.close = async () => {
    closed = true;
    await close();
  };
  const server = await startServer({ config, service, logger: pino({ level: 'silent' }) });
  const url = baseUrl(server);
  const inFlight = fetch(`${url}/dylibs/spectest/lookup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ symbols: ['print'] }),
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closing = server.close();
  const res = await inFlight;
  t.equal(res.status, 200, 'the in-flight request was answered');
  t.equal(((await res.json()) as { symbols: unknown[] }).symbols.length, 1);
  await closing;
  t.ok(closed, 'the service was closed');
  await t.rejects(fetch(`${url}/health`), 'no longer accepting connections');
});

t.test('the process serves until SIGTERM, then exits 0', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/serve.ts', import.meta.url));
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
  });
  const url = await listening;
  t.equal((await healthy(t, url)).status, 200);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0, 'exit code 0');
  t.match(out, /shutting down/);
});

t.test('a bad configuration stops the process with a clear message', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/serve.ts', import.meta.url));
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, PORT: 'eighty' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 1);
  t.match(err, /Invalid configuration: PORT .*"eighty"/);
});
