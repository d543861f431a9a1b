// Operational routes and cross-cutting behaviour: health, OpenAPI docs, Prometheus metrics,
// the session dump, unknown routes, request ids, internal errors and what gets logged.

import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { createService } from '../../src/service/createService.ts';
import { LARGE_ADD_BYTES } from '../../src/service/TenantSession.ts';
import { addWat, apiError, build, call, createDylib, invoke, json, makeService, testConfig } from './helper.ts';

t.test('GET /health', async (t) => {
  const { app } = await build(t);
  const res = await call(app, 'GET', '/health');
  t.equal(res.statusCode, 200);
  t.same(json(res), { status: 'ok' });
});

t.test('OpenAPI at /docs/json documents every route; UI at /docs', async (t) => {
  const { app } = await build(t);
  const res = await call(app, 'GET', '/docs/json');
  t.equal(res.statusCode, 200);
  const doc = json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(res);
  t.match(doc.openapi, /^3\./);
  const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  for (const route of [
    'GET /health',
    'POST /dylibs',
    'GET /dylibs',
    'GET /dylibs/{dylib}',
    'PUT /dylibs/{dylib}/link-order',
    'DELETE /dylibs/{dylib}',
    'POST /dylibs/{dylib}/modules',
    'POST /dylibs/{dylib}/reexports',
    'GET /dylibs/{dylib}/symbols/{symbol}',
    'POST /dylibs/{dylib}/lookup',
    'POST /dylibs/{dylib}/symbols/{symbol}/invoke',
    'POST /dylibs/{dylib}/invoke',
    'GET /dylibs/{dylib}/memories/{symbol}',
    'PUT /dylibs/{dylib}/memories/{symbol}',
    'GET /dump',
    'GET /metrics',
  ]) {
    t.ok(routes.includes(route), `documents ${route}`);
  }
  t.notOk(routes.some((r) => r.includes('/docs')), 'the docs routes themselves are hidden');
  const ui = await call(app, 'GET', '/docs');
  t.ok([200, 302].includes(ui.statusCode), 'the UI is served');
});

t.test('GET /metrics: Prometheus text with service and HTTP metrics', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "f") (result i32) i32.const 1) (func (export "t") unreachable))');
  await invoke(app, 'main', 'f');
  await invoke(app, 'main', 't');
  const res = await call(app, 'GET', '/metrics');
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain/);
  const text = res.body;
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  t.ok(value(/^wasmjit_dylibs (\S+)$/m) >= 2, 'dylibs gauge (main and spectest at least)');
  t.ok(value(/^wasmjit_traps_total (\S+)$/m) >= 1, 'traps counter');
  t.match(text, /^wasmjit_symbols\{state="Ready"\} \d+/m);
  t.match(text, /^# TYPE wasmjit_compile_duration_seconds histogram$/m);
  t.ok(value(/^wasmjit_compile_duration_seconds_count\{tier="baseline"\} (\S+)$/m) >= 1, 'first calls compiled a baseline');
  t.match(text, /^wasmjit_timeouts_total \S+$/m);
  t.equal(value(/^wasmjit_invoke_duration_seconds_count\{outcome="ok"\} (\S+)$/m), 1);
  t.equal(value(/^wasmjit_invoke_duration_seconds_count\{outcome="Trap"\} (\S+)$/m), 1);
  t.match(text, /^http_requests_total\{method="POST",route="\/dylibs\/:dylib\/symbols\/:symbol\/invoke",status_code="200"\} 1$/m);
  t.match(text, /^process_cpu_user_seconds_total /m, 'process metrics');
});

t.test('GET /dump: text by default, JSON on request', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main', ['main', 'spectest']);
  await addWat(app, 'main', '(module (func (export "unique_fn_name") (result i32) i32.const 1))');

  const before = await call(app, 'GET', '/dump');
  t.equal(before.statusCode, 200);
  t.match(before.headers['content-type'], /^text\/plain/);
  t.match(before.body, /main/);
  t.match(before.body, /main\.impl/);
  t.match(before.body, /spectest/);
  const linesOf = (text: string) => text.split('\n').filter((l) => l.includes('unique_fn_name'));
  t.ok(linesOf(before.body).some((l) => l.includes('<not resolved>')), 'unresolved symbols say so');

  const sym = json<{ address: string; state: string; flags: string[] }>(await call(app, 'GET', '/dylibs/main/symbols/unique_fn_name'));
  const after = await call(app, 'GET', '/dump?format=text');
  const line = linesOf(after.body).find((l) => l.toLowerCase().includes(sym.address.toLowerCase())) ?? '';
  t.ok(line, `a line shows the symbol with its address ${sym.address}`);
  t.ok(line.includes(sym.state), `and its state ${sym.state}`);
  for (const f of sym.flags) t.ok(line.includes(f), `and flag ${f}`);

  const j = await call(app, 'GET', '/dump?format=json');
  t.equal(j.statusCode, 200);
  t.match(j.headers['content-type'], /^application\/json/);
  const dump = json<{ dylibs: { name: string; linkOrder: string[]; symbols: { name: string; address?: string }[] }[] }>(j);
  const main = dump.dylibs.find((d) => d.name === 'main');
  t.same(main?.linkOrder, ['main', 'spectest']);
  t.equal(main?.symbols.find((s) => s.name === 'unique_fn_name')?.address, sym.address);
  t.ok(dump.dylibs.some((d) => d.name === 'main.impl'));

  const bad = apiError(t, await call(app, 'GET', '/dump?format=xml'), 400, 'BadRequest');
  t.same(bad.paths, ['querystring/format']);
});

t.test('unknown routes answer 404 in the error envelope', async (t) => {
  const { app } = await build(t);
  const e = apiError(t, await call(app, 'GET', '/nope'), 404, 'NotFound');
  t.match(e.message, /nope/);
  apiError(t, await call(app, 'PATCH' as 'GET', '/dylibs'), 404, 'NotFound');
});

t.test('URLs fastify refuses before routing answer 400 in the error envelope', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  // A path parameter over the router's limit (16 KiB): the body forms take any length.
  const long = 'x'.repeat(20_000);
  for (const url of [`/dylibs/main/symbols/${long}`, `/dylibs/${long}`]) {
    const e = apiError(t, await call(app, 'GET', url), 400, 'BadRequest');
    t.ok((e.message as string).length < 200, 'the message does not echo the path');
  }
  apiError(t, await call(app, 'POST', `/dylibs/main/symbols/${long}/invoke`, { args: [] }), 400, 'BadRequest');
  // Not valid percent-encoding.
  apiError(t, await call(app, 'GET', '/dylibs/main/symbols/%ZZ'), 400, 'BadRequest');
  apiError(t, await call(app, 'GET', '/dylibs/%E0%A4%A'), 400, 'BadRequest');
});

t.test('request ids: generated, or taken from X-Request-Id', async (t) => {
  const { app } = await build(t);
  const generated = await call(app, 'GET', '/health');
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  const given = await call(app, 'GET', '/health', undefined, { 'x-request-id': 'client-chosen-id' });
  t.equal(given.headers['x-request-id'], 'client-chosen-id');
});

/** The real service with two bugs planted, to see how the app reports bugs. */

t.test('Internal: unexpected errors are 500s, logged at error with the stack', async (t) => {
  const { lines, sink } = captureLogs();
  const config = loadConfig({});
  // The real service, broken on purpose: a bug in listing, and a view that does not match the schema.
  const service = await makeService(testConfig());
  const session = service.sessions.session('default');
  session.listDylibs = () => {
    throw new Error('the dylib table is corrupt');
  };
  session.getDylib = () => ({ name: 'x', linkOrder: 'not a list' }) as unknown as ReturnType<typeof session.getDylib>;
  const { app } = await build(t, {}, service, pino({ level: 'info' }, sink));

  const e = apiError(t, await call(app, 'GET', '/dylibs'), 500, 'Internal');
  t.match(e.message, /dylib table is corrupt/);
  t.notOk('stack' in e, 'no stack in the response');
  const logged = lines.find((l) => l.level === 50);
  t.ok(logged, 'logged at error');
  t.match((logged?.err as { stack?: string } | undefined)?.stack, /dylib table is corrupt/);
  t.type(logged?.reqId, 'string', 'with the request id');

  apiError(t, await call(app, 'GET', '/dylibs/x'), 500, 'Internal');

  const secret = 'TOP_SECRET_MODULE_BODY_MARKER';
  await createDylib(app, 'main');
  await call(app, 'POST', '/dylibs/main/modules', { wat: `(module (func (export "f")) ;; ${secret}\n)` });
  await call(app, 'POST', '/dylibs/main/modules', { wat: `(module (func ${secret}` });
  await call(app, 'POST', '/dylibs/main/modules', `(module ${secret}`, { 'content-type': 'text/plain' });
  await call(app, 'POST', '/dylibs/main/modules', { wat: `(module ;; ${secret}\n)`, optimize: 9 });
  t.notOk(JSON.stringify(lines).includes(secret), 'module bodies never reach the log');
  t.ok(lines.some((l) => l.level === 40), 'malformed requests are logged at warn');
});

t.test('an add of a large module logs each phase it reaches (bytes, functions), a small one does not', async (t) => {
  const { lines, sink } = captureLogs();
  const logger = pino({ level: 'info' }, sink);
  const config = testConfig();
  const service = await createService(config, logger, { inProcessExecutors: true });
  await service.recover();
  const { app } = await build(t, {}, service);
  await createDylib(app, 'big');
  await addWat(app, 'big', '(module (func (export "small") (result i32) i32.const 1))');
  t.notOk(lines.some((l) => String(l.msg).startsWith('add: ')), 'a small add logs no progress');

  // 1.1 MiB: a data segment carries the size, two functions the count.
  const data = 'x'.repeat(LARGE_ADD_BYTES + 100 * 1024);
  const wat = `(module (memory 18) (data (i32.const 0) "${data}")
    (func (export "f") (result i32) i32.const 7) (func (export "g") (result i32) i32.const 8))`;
  const added = await call(app, 'POST', '/dylibs/big/modules', { wat, name: 'huge' });
  t.equal(added.statusCode, 201);
  const progress = lines.filter((l) => String(l.msg).startsWith('add: '));
  t.same(
    progress.map((l) => l.msg),
    ['add: parsed', 'add: validated', 'add: defined', 'add: instantiated', 'add: stored, done'],
    'every phase in order, then the store write',
  );
  for (const l of progress) {
    t.match(l, { tenant: 'default', dylib: 'big', module: 'huge', level: 30 });
    t.ok(Number(l.bytes) > LARGE_ADD_BYTES, 'with the size in bytes');
    t.type(l.ms, 'number');
  }
  t.equal(progress[0]?.functions, undefined, 'functions are not known before validation');
  t.equal(progress[1]?.functions, 2, 'the functions the module defines, from validation on');
  t.same(json<{ results: unknown[] }>(await invoke(app, 'big', 'g')).results, [{ type: 'i32', value: 8, bits: '8' }]);
});

/** A stream for a pino logger, and the JSON lines written to it. */
function captureLogs(): { lines: Record<string, unknown>[]; sink: Writable } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, sink };
}
