// Symbol lookup through the link order (path and body forms), any UTF-8 name, all-or-nothing
// lookups, and reexports.

import t from 'tap';
import { addWat, apiError, build, call, createDylib, eventually, invoke, json } from './helper.ts';
import { constFunctions } from './wasmBytes.ts';

interface Sym {
  name: string;
  dylib: string;
  kind: string;
  state: string;
  flags: string[];
  address?: string;
  lazy?: boolean;
  target?: { dylib: string; name: string; compiled: boolean; tier?: string };
  value?: { type: string; value: unknown; bits: string };
}

const ODD_NAMES = ['', 'a b', 'a/b', 'nul\u0000byte', 'ünï€', '%2F', '?x#y'];

t.test('GET /dylibs/:dylib/symbols/:symbol resolves a lazy stub without compiling its body', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "f") (result i32) i32.const 1))');
  const res = await call(app, 'GET', '/dylibs/main/symbols/f');
  t.equal(res.statusCode, 200);
  const s = json<Sym>(res);
  t.equal(s.name, 'f');
  t.equal(s.dylib, 'main');
  t.equal(s.kind, 'function');
  t.match(s.address, /^0x[0-9a-fA-F]+$/, 'resolved: it has an address');
  t.equal(s.lazy, true);
  t.equal(s.target?.compiled, false, 'the body is not compiled by a lookup');

  await invoke(app, 'main', 'f');
  t.equal(json<Sym>(await call(app, 'GET', '/dylibs/main/symbols/f')).target?.compiled, true, 'compiled after the first call');
});

t.test('a lazy body\'s tier: baseline at first call, optimized once hot, in the symbol view and the dump', async (t) => {
  const { app } = await build(t, { reoptimizeThreshold: 3 });
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "f") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))');
  const tier = async () => json<Sym>(await call(app, 'GET', '/dylibs/main/symbols/f')).target?.tier;
  t.equal(await tier(), undefined, 'not compiled: no tier');
  const compiledBy = async () => json<{ compiled: string[] }>(await invoke(app, 'main', 'f', [{ type: 'i32', value: 2 }])).compiled;
  t.same(await compiledBy(), ['f']);
  t.equal(await tier(), 'baseline');
  t.same(await compiledBy(), []);
  t.same(await compiledBy(), [], 'the third entry makes f hot; its optimized tier is compiled beside the call');
  await eventually(t, async () => (await tier()) === 'optimized', 'the symbol view shows the optimized tier once it is swapped in');
  t.match((await call(app, 'GET', '/dump')).body, /"f": .*compiled, optimized/);
  t.match((await call(app, 'GET', '/metrics')).body, /wasmjit_reoptimizations_total 1/);
});

t.test('a symbol is found through the link order and reports where it is defined', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'lib');
  await addWat(app, 'lib', '(module (func (export "helper") (result i32) i32.const 5) (global (export "answer") i32 (i32.const 42)))', { lazy: false });
  await createDylib(app, 'main', ['main', 'lib']);
  const s = json<Sym>(await call(app, 'GET', '/dylibs/main/symbols/helper'));
  t.equal(s.dylib, 'lib');
  const g = json<Sym>(await call(app, 'GET', '/dylibs/main/symbols/answer'));
  t.equal(g.kind, 'global');
  t.same(g.value, { type: 'i32', value: 42, bits: '42' }, "a global's current value");
  const spectest = json<Sym>(await call(app, 'GET', '/dylibs/spectest/symbols/global_i32'));
  t.equal(spectest.value?.value, 666);

  const nf = apiError(t, await call(app, 'GET', '/dylibs/main/symbols/nothing'), 404, 'SymbolsNotFound');
  t.same(nf.symbols, ['nothing']);
  apiError(t, await call(app, 'GET', '/dylibs/ghost/symbols/helper'), 404, 'DylibNotFound');
});

t.test('names of any UTF-8 string, by path (percent-encoded) and by body', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const added = await call(app, 'POST', '/dylibs/main/modules', constFunctions(ODD_NAMES), { 'content-type': 'application/wasm' });
  t.equal(added.statusCode, 201, added.body);
  t.same(json<{ symbols: Sym[] }>(added).symbols.map((s) => s.name).sort(), [...ODD_NAMES].sort(), 'every name kept exactly');
  for (const [i, name] of ODD_NAMES.entries()) {
    const byBody = await call(app, 'POST', '/dylibs/main/lookup', { symbols: [name] });
    t.equal(byBody.statusCode, 200, `lookup ${JSON.stringify(name)}`);
    t.equal(json<{ symbols: Sym[] }>(byBody).symbols[0]?.name, name);
    const called = await call(app, 'POST', '/dylibs/main/invoke', { symbol: name, args: [] });
    t.equal(json<{ results: { value: number }[] }>(called).results[0]?.value, i, `invoke ${JSON.stringify(name)} by body`);
    if (name !== '') {
      const byPath = await call(app, 'GET', `/dylibs/main/symbols/${encodeURIComponent(name)}`);
      t.equal(json<Sym>(byPath).name, name, `GET ${JSON.stringify(name)} by path`);
    }
  }
});

t.test('POST /dylibs/:dylib/lookup is all or nothing', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "f")) (func (export "g")))');
  const ok = await call(app, 'POST', '/dylibs/main/lookup', { symbols: ['g', 'f'] });
  t.equal(ok.statusCode, 200);
  const syms = json<{ symbols: Sym[] }>(ok).symbols;
  t.same(syms.map((s) => s.name), ['g', 'f'], 'in the order asked');
  for (const s of syms) t.match(s.address, /^0x/);

  const e = apiError(t, await call(app, 'POST', '/dylibs/main/lookup', { symbols: ['f', 'x', 'y'] }), 404, 'SymbolsNotFound');
  t.same(e.symbols, ['x', 'y'], 'names exactly the missing ones');
  apiError(t, await call(app, 'POST', '/dylibs/main/lookup', { symbols: 'f' }), 400, 'BadRequest');
  apiError(t, await call(app, 'POST', '/dylibs/ghost/lookup', { symbols: ['f'] }), 404, 'DylibNotFound');
});

t.test('reexports: names, aliases, lazy; DuplicateDefinition', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'lib');
  await addWat(app, 'lib', '(module (func (export "one") (result i32) i32.const 1) (func (export "two") (result i32) i32.const 2))');
  await createDylib(app, 'main');

  const list = await call(app, 'POST', '/dylibs/main/reexports', { from: 'lib', symbols: ['one'] });
  t.equal(list.statusCode, 201);
  const [one] = json<{ symbols: Sym[] }>(list).symbols;
  t.equal(one?.name, 'one');
  t.equal(one?.dylib, 'main');
  t.same({ dylib: one?.target?.dylib, name: one?.target?.name }, { dylib: 'lib', name: 'one' });

  const alias = await call(app, 'POST', '/dylibs/main/reexports', { from: 'lib', symbols: { deux: 'two' }, lazy: true });
  t.equal(alias.statusCode, 201);
  const [deux] = json<{ symbols: Sym[] }>(alias).symbols;
  t.equal(deux?.name, 'deux');
  t.equal(deux?.lazy, true);
  t.equal(deux?.target?.name, 'two');

  t.equal(json<{ results: { value: number }[] }>(await invoke(app, 'main', 'one')).results[0]?.value, 1);
  t.equal(json<{ results: { value: number }[] }>(await invoke(app, 'main', 'deux')).results[0]?.value, 2);

  const dup = apiError(t, await call(app, 'POST', '/dylibs/main/reexports', { from: 'lib', symbols: ['two', 'one'] }), 409, 'DuplicateDefinition');
  t.same(dup.symbols, ['one']);
  apiError(t, await call(app, 'GET', '/dylibs/main/symbols/two'), 404, 'SymbolsNotFound');
  apiError(t, await call(app, 'POST', '/dylibs/main/reexports', { from: 'ghost', symbols: ['x'] }), 404, 'DylibNotFound');
  apiError(t, await call(app, 'POST', '/dylibs/ghost/reexports', { from: 'lib', symbols: ['one'] }), 404, 'DylibNotFound');
  apiError(t, await call(app, 'POST', '/dylibs/main/reexports', { from: 'lib', symbols: 5 }), 400, 'BadRequest');
});
