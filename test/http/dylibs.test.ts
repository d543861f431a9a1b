// Dylib routes: create, list, show, link order, delete, and their errors (API.md "Routes").

import t from 'tap';
import { addWat, apiError, build, call, createDylib, json } from './helper.ts';

interface Dylib {
  name: string;
  linkOrder: string[];
  implOf?: string;
  symbols: { name: string; flags: string[] }[];
  modules: { id: string; name?: string; lazy: boolean }[];
}

t.test('POST /dylibs creates a dylib and returns it', async (t) => {
  const { app } = await build(t);
  const res = await call(app, 'POST', '/dylibs', { name: 'main' });
  t.equal(res.statusCode, 201);
  const d = json<Dylib>(res);
  t.equal(d.name, 'main');
  t.ok(Array.isArray(d.linkOrder));
  t.same(d.symbols, []);
  t.same(d.modules, []);

  const lib = await call(app, 'POST', '/dylibs', { name: 'lib$1.x-y', linkOrder: ['lib$1.x-y', 'main', 'spectest'] });
  t.equal(lib.statusCode, 201);
  t.same(json<Dylib>(lib).linkOrder, ['lib$1.x-y', 'main', 'spectest']);
});

t.test('POST /dylibs errors', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const exists = apiError(t, await call(app, 'POST', '/dylibs', { name: 'main' }), 409, 'DylibExists');
  t.match(exists.message, /main/);

  const missing = apiError(t, await call(app, 'POST', '/dylibs', { name: 'app', linkOrder: ['app', 'nowhere'] }), 404, 'DylibNotFound');
  t.match(missing.message, /nowhere/);
  t.equal((await call(app, 'GET', '/dylibs/app')).statusCode, 404, 'nothing was created');

  // API v2: 1 to 255 bytes of UTF-8, no control characters, not ending in ".impl".
  for (const name of ['', 'tab\there', 'nul\u0000', 'del\u007f', 'x'.repeat(256), 'é'.repeat(128), 'lib.impl', 7]) {
    const bad = apiError(t, await call(app, 'POST', '/dylibs', { name }), 400, 'BadRequest');
    t.same(bad.paths, ['body/name'], `name ${JSON.stringify(name)} is rejected at body/name`);
  }
  t.equal((await call(app, 'POST', '/dylibs', { name: 'x'.repeat(255) })).statusCode, 201, '255 bytes is fine');
  t.equal((await call(app, 'POST', '/dylibs', { name: 'é'.repeat(127) + 'x' })).statusCode, 201, '255 bytes of UTF-8 is fine');

  const badOrder = apiError(t, await call(app, 'POST', '/dylibs', { name: 'ok', linkOrder: ['fine', 'not\nfine'] }), 400, 'BadRequest');
  t.same(badOrder.paths, ['body/linkOrder/1']);
  apiError(t, await call(app, 'POST', '/dylibs'), 400, 'BadRequest');
  apiError(t, await call(app, 'POST', '/dylibs', '{"name":', { 'content-type': 'application/json' }), 400, 'BadRequest');
});

t.test('GET /dylibs lists every dylib, spectest and implementation dylibs included', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "f") (result i32) i32.const 1))', { lazy: true });
  const res = await call(app, 'GET', '/dylibs');
  t.equal(res.statusCode, 200);
  const { dylibs } = json<{ dylibs: Dylib[] }>(res);
  const names = dylibs.map((d) => d.name);
  t.ok(names.includes('main'));
  t.ok(names.includes('spectest'), 'the built-in spectest dylib');
  t.ok(names.includes('main.impl'), 'the lazy layer created the implementation dylib');
  t.equal(dylibs.find((d) => d.name === 'main.impl')?.implOf, 'main');
  t.equal(dylibs.find((d) => d.name === 'main')?.implOf, undefined);
});

t.test('GET /dylibs/:dylib shows symbols and modules', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const added = await addWat(app, 'main', '(module (func (export "f")) (global (export "g") i32 (i32.const 3)))', { name: 'first' });
  const res = await call(app, 'GET', '/dylibs/main');
  t.equal(res.statusCode, 200);
  const d = json<Dylib>(res);
  t.same(d.symbols.map((s) => s.name).sort(), ['f', 'g']);
  t.same(d.modules, [{ id: added.module.id, name: 'first', lazy: true }]);
  apiError(t, await call(app, 'GET', '/dylibs/ghost'), 404, 'DylibNotFound');
  apiError(t, await call(app, 'GET', '/dylibs/tab%09bad'), 400, 'BadRequest');
});

t.test('dylib names are any UTF-8 name a toolchain writes as an import module, percent-encoded in paths', async (t) => {
  const { app } = await build(t);
  const names = ['./lz4_wasm_bg.js', 'not wasm', '__wbindgen_placeholder__', 'wasi_snapshot_preview1', 'модуль', '.hidden', '-x', 'a/b?c#d%e'];
  for (const name of names) {
    const res = await call(app, 'POST', '/dylibs', { name });
    t.equal(res.statusCode, 201, `create ${JSON.stringify(name)}`);
    t.equal(json<Dylib>(res).name, name);
    const shown = await call(app, 'GET', `/dylibs/${encodeURIComponent(name)}`);
    t.equal(shown.statusCode, 200, `GET ${JSON.stringify(name)}`);
    t.equal(json<Dylib>(shown).name, name);
  }
  // A module importing from such a dylib links against it.
  await addWat(app, './lz4_wasm_bg.js', '(module (func (export "__wbg_log") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))');
  await createDylib(app, 'main');
  const added = await addWat(
    app,
    'main',
    '(module (import "./lz4_wasm_bg.js" "__wbg_log" (func $log (param i32) (result i32))) (func (export "f") (result i32) (call $log (i32.const 41))))',
  );
  t.same(added.unresolvedImports, [], 'the import resolves');
  const r = await call(app, 'POST', '/dylibs/main/invoke', { symbol: 'f', args: [] });
  t.equal(json<{ results: { value: number }[] }>(r).results[0]?.value, 42);
  t.equal((await call(app, 'DELETE', `/dylibs/${encodeURIComponent('not wasm')}`)).statusCode, 204);
});

t.test('GET /dylibs/:dylib lists what the dylib exports; ?hidden=true lists every symbol', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func $private (result i32) (i32.const 7)) (func (export "f") (result i32) (call $private)))');
  const shown = json<Dylib>(await call(app, 'GET', '/dylibs/main'));
  t.same(shown.symbols.map((s) => s.name), ['f'], 'only the export');
  const all = json<Dylib>(await call(app, 'GET', '/dylibs/main?hidden=true'));
  const hidden = all.symbols.filter((s) => !s.flags.includes('Exported'));
  t.ok(hidden.length > 0, 'the private function\'s stub is listed with ?hidden=true');
  t.ok(all.symbols.some((s) => s.name === 'f'));
  const listed = json<{ dylibs: Dylib[] }>(await call(app, 'GET', '/dylibs')).dylibs.find((d) => d.name === 'main');
  t.same(listed?.symbols.map((s) => s.name), ['f'], 'GET /dylibs shows exports only too');
  apiError(t, await call(app, 'GET', '/dylibs/main?hidden=maybe'), 400, 'BadRequest');

  // Private stays private: no lookup, symbol view, invoke or import reaches it.
  for (const { name } of hidden) {
    const path = `/dylibs/main/symbols/${encodeURIComponent(name)}`;
    apiError(t, await call(app, 'GET', path), 404, 'SymbolsNotFound');
    apiError(t, await call(app, 'POST', `${path}/invoke`, { args: [] }), 404, 'SymbolsNotFound');
    apiError(t, await call(app, 'POST', '/dylibs/main/invoke', { symbol: name, args: [] }), 404, 'SymbolsNotFound');
    apiError(t, await call(app, 'POST', '/dylibs/main/lookup', { symbols: [name] }), 404, 'SymbolsNotFound');
    const importer = await addWat(app, 'main', `(module (import "env" ${JSON.stringify(name)} (func (result i32))))`);
    t.same(importer.unresolvedImports, [{ module: 'env', name }], 'an import of a private symbol resolves nowhere');
  }
  t.equal(json<{ results: { value: number }[] }>(await call(app, 'POST', '/dylibs/main/invoke', { symbol: 'f', args: [] })).results[0]?.value, 7);
});

t.test('PUT /dylibs/:dylib/link-order replaces the link order', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await createDylib(app, 'lib');
  const res = await call(app, 'PUT', '/dylibs/main/link-order', { linkOrder: ['main', 'lib', 'spectest'] });
  t.equal(res.statusCode, 200);
  t.same(json<Dylib>(res).linkOrder, ['main', 'lib', 'spectest']);
  t.same(json<Dylib>(await call(app, 'GET', '/dylibs/main')).linkOrder, ['main', 'lib', 'spectest']);

  apiError(t, await call(app, 'PUT', '/dylibs/ghost/link-order', { linkOrder: [] }), 404, 'DylibNotFound');
  apiError(t, await call(app, 'PUT', '/dylibs/main/link-order', { linkOrder: ['main', 'ghost'] }), 404, 'DylibNotFound');
  t.same(json<Dylib>(await call(app, 'GET', '/dylibs/main')).linkOrder, ['main', 'lib', 'spectest'], 'unchanged by the failure');
  const bad = apiError(t, await call(app, 'PUT', '/dylibs/main/link-order', { linkOrder: 'main' }), 400, 'BadRequest');
  t.same(bad.paths, ['body/linkOrder']);
});

t.test('DELETE /dylibs/:dylib removes it, its symbols and its impl dylib', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "f")))', { lazy: true });
  const res = await call(app, 'DELETE', '/dylibs/main');
  t.equal(res.statusCode, 204);
  t.equal(res.body, '');
  apiError(t, await call(app, 'GET', '/dylibs/main'), 404, 'DylibNotFound');
  apiError(t, await call(app, 'GET', '/dylibs/main.impl'), 404, 'DylibNotFound');
  apiError(t, await call(app, 'DELETE', '/dylibs/main'), 404, 'DylibNotFound');
  await createDylib(app, 'main');
  t.same(json<Dylib>(await call(app, 'GET', '/dylibs/main')).symbols, [], 'a new dylib of that name starts empty');
});
