// Per-session limits over HTTP (API.md: ResourceExhausted, 422, "a configured limit was hit"):
// SESSION_MEMORY_LIMIT_PAGES for all linear memories together, SESSION_CODE_LIMIT_BYTES for
// compiled code, TABLE_LIMIT_ELEMENTS for each table, SESSION_TABLE_LIMIT_ELEMENTS for all tables.

import t from 'tap';
import { addWat, apiError, build, call, createDylib, invoke, json } from './helper.ts';

type Result = { results: { type: string; value: number }[] };

const GROWER = (pages: number) => `(module
  (memory (export "mem") ${pages})
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;

t.test('SESSION_MEMORY_LIMIT_PAGES: an add past it is refused, memory.grow past it returns -1', async (t) => {
  const { app } = await build(t, { sessionMemoryLimitPages: 4 });
  await createDylib(app, 'main');
  await addWat(app, 'main', GROWER(3));
  const e = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: '(module (memory (export "more") 2) (func (export "f")))' }), 422, 'ResourceExhausted');
  t.equal(e.limit, 'sessionMemoryPages');
  t.match(e.message, /4-page limit/);
  const dylib = json<{ symbols: { name: string }[]; modules: unknown[] }>(await call(app, 'GET', '/dylibs/main'));
  t.same(dylib.symbols.map((s) => s.name).sort(), ['grow', 'mem'], 'the refused module defined nothing');
  t.equal(dylib.modules.length, 1);

  const grow = async (n: number) => json<Result>(await invoke(app, 'main', 'grow', [n])).results[0]?.value;
  t.equal(await grow(2), -1, '3 + 2 pages is past the limit');
  t.equal(await grow(1), 3, 'the old size');
  t.equal(await grow(1), -1, 'full');
  t.equal(json<{ pages: number }>(await call(app, 'GET', '/dylibs/main/memories/mem?length=0')).pages, 4);

  t.equal((await call(app, 'DELETE', '/dylibs/main')).statusCode, 204);
  await createDylib(app, 'next');
  await addWat(app, 'next', GROWER(4));
  t.pass("a removed dylib's memory goes back to the budget");
});

t.test('SESSION_CODE_LIMIT_BYTES: a compile past it fails the call with ResourceExhausted', async (t) => {
  const { app } = await build(t, { sessionCodeLimitBytes: 300 });
  await createDylib(app, 'main');
  const big = `(module (func (export "big") (result i32) ${'i32.const 1 drop '.repeat(200)} i32.const 7))`;
  await addWat(app, 'main', big, { lazy: false, optimize: 0 });
  const e = apiError(t, await invoke(app, 'main', 'big'), 422, 'ResourceExhausted');
  t.equal(e.limit, 'sessionCodeBytes');
  t.match(e.message, /"big"/);

  await addWat(app, 'main', '(module (func (export "small") (result i32) i32.const 5))');
  const ok = await invoke(app, 'main', 'small');
  t.equal(ok.statusCode, 200, 'code that fits still compiles and runs');
  t.equal(json<Result>(ok).results[0]?.value, 5);
  apiError(t, await invoke(app, 'main', 'big'), 422, 'ResourceExhausted');
});

t.test('TABLE_LIMIT_ELEMENTS: a table starting past it is refused, table.grow past it returns -1', async (t) => {
  const { app } = await build(t, { tableLimitElements: 4 });
  await createDylib(app, 'main');
  const e = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: '(module (table (export "t") 5 funcref))' }), 422, 'ResourceExhausted');
  t.equal(e.limit, 'tableElements');
  await addWat(app, 'main', '(module (table 1 funcref) (func (export "grow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))');
  const grow = async (n: number) => json<Result>(await invoke(app, 'main', 'grow', [n])).results[0]?.value;
  t.equal(await grow(3), 1, 'the old size');
  t.equal(await grow(1), -1, 'past the cap');
});

t.test('SESSION_TABLE_LIMIT_ELEMENTS: an add past it is refused, table.grow past it returns -1', async (t) => {
  const { app } = await build(t, { sessionTableLimitElements: 10 });
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (table 6 funcref) (func (export "grow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))');
  const e = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: '(module (table (export "t") 5 funcref) (func (export "f")))' }), 422, 'ResourceExhausted');
  t.equal(e.limit, 'sessionTableElements');
  t.match(e.message, /10-element limit/);
  const dylib = json<{ symbols: { name: string }[] }>(await call(app, 'GET', '/dylibs/main'));
  t.same(dylib.symbols.map((s) => s.name), ['grow'], 'the refused module defined nothing');
  const grow = async (n: number) => json<Result>(await invoke(app, 'main', 'grow', [n])).results[0]?.value;
  t.equal(await grow(5), -1, '6 + 5 elements is past the limit');
  t.equal(await grow(4), 6, 'the old size');
  t.equal(await grow(1), -1, 'full');
});
