// POST /dylibs/:dylib/modules in all three body forms, laziness as API.md describes it, and
// every error a module add can produce.

import t from 'tap';
import { addWat, apiError, build, call, createDylib, json } from './helper.ts';

// (module (func (export "answer") (result i32) i32.const 42)), assembled by hand.
const ANSWER_WASM = Buffer.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x07, 0x0a, 0x01, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x00, 0x00, // export "answer" func 0
  0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // code: i32.const 42
]);

const TWO_FUNCS = `(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "neg") (param i32) (result i32) i32.const 0 local.get 0 i32.sub)
  (global (export "g") i32 (i32.const 7))
  (memory (export "mem") 1))`;

interface Sym {
  name: string;
  dylib: string;
  kind: string;
  flags: string[];
  state: string;
  lazy?: boolean;
  target?: { dylib: string; name: string; compiled: boolean };
  type?: { params: string[]; results: string[] };
}

t.test('the hand-assembled binary is valid wasm', async (t) => {
  t.ok(WebAssembly.validate(ANSWER_WASM));
});

t.test('JSON WAT, lazy by default: functions become lazy reexports of bodies in <dylib>.impl', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const res = await call(app, 'POST', '/dylibs/main/modules', { wat: TWO_FUNCS, name: 'math' });
  t.equal(res.statusCode, 201);
  const body = json<{ module: { id: string; name?: string; lazy: boolean }; symbols: Sym[] }>(res);
  t.type(body.module.id, 'string');
  t.equal(body.module.name, 'math');
  t.equal(body.module.lazy, true);
  const byName = new Map(body.symbols.map((s) => [s.name, s]));
  t.same([...byName.keys()].sort(), ['add', 'g', 'mem', 'neg'], 'one symbol per export');
  const add = byName.get('add') as Sym;
  t.equal(add.dylib, 'main');
  t.equal(add.kind, 'function');
  t.ok(add.flags.includes('Callable') && add.flags.includes('Exported'));
  t.equal(add.lazy, true);
  t.same(add.target, { dylib: 'main.impl', name: 'add', compiled: false }, 'nothing compiled yet');
  t.same(add.type, { params: ['i32', 'i32'], results: ['i32'] });
  t.equal(byName.get('g')?.kind, 'global');
  t.equal(byName.get('mem')?.kind, 'memory');
  t.notOk(byName.get('g')?.lazy, 'only functions are lazy');

  const impl = json<{ implOf: string; linkOrder: string[] }>(await call(app, 'GET', '/dylibs/main.impl'));
  t.equal(impl.implOf, 'main');
  t.same(impl.linkOrder, json<{ linkOrder: string[] }>(await call(app, 'GET', '/dylibs/main')).linkOrder, "link order copied from the target's");
});

t.test('lazy: false defines plain function symbols', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const added = await addWat(app, 'main', TWO_FUNCS, { lazy: false, optimize: 0 });
  t.equal(added.module.lazy, false);
  for (const s of added.symbols as unknown as Sym[]) {
    t.notOk(s.lazy, `${s.name} is not a lazy reexport`);
    t.equal(s.dylib, 'main');
  }
  const r = await call(app, 'POST', '/dylibs/main/invoke', { symbol: 'add', args: [2, 3] });
  t.equal(r.statusCode, 200);
  t.equal(json<{ results: { value: number }[] }>(r).results[0]?.value, 5);
});

t.test('JSON base64 wasm', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const res = await call(app, 'POST', '/dylibs/main/modules', { wasm: ANSWER_WASM.toString('base64'), lazy: false });
  t.equal(res.statusCode, 201);
  t.same(json<{ symbols: Sym[] }>(res).symbols.map((s) => s.name), ['answer']);
  const r = await call(app, 'POST', '/dylibs/main/symbols/answer/invoke', { args: [] });
  t.same(json<{ results: unknown[] }>(r).results, [{ type: 'i32', value: 42, bits: '42' }]);
});

t.test('raw bodies: application/wasm and text/plain, options in the query string', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const bin = await call(app, 'POST', '/dylibs/main/modules?lazy=false&optimize=0&name=bin', ANSWER_WASM, {
    'content-type': 'application/wasm',
  });
  t.equal(bin.statusCode, 201, bin.body);
  t.same(json<{ module: unknown }>(bin).module, { id: json<{ module: { id: string } }>(bin).module.id, name: 'bin', lazy: false });

  const text = await call(app, 'POST', '/dylibs/main/modules?name=text', '(module (func (export "seven") (result i32) i32.const 7))', {
    'content-type': 'text/plain; charset=utf-8',
  });
  t.equal(text.statusCode, 201, text.body);
  const tb = json<{ module: { name: string; lazy: boolean }; symbols: Sym[] }>(text);
  t.equal(tb.module.name, 'text');
  t.equal(tb.module.lazy, true, 'lazy by default for raw bodies too');
  t.equal(tb.symbols[0]?.lazy, true);
  const r = await call(app, 'POST', '/dylibs/main/invoke', { symbol: 'seven' });
  t.equal(json<{ results: { value: number }[] }>(r).results[0]?.value, 7);

  apiError(t, await call(app, 'POST', '/dylibs/main/modules?lazy=maybe', '(module)', { 'content-type': 'text/plain' }), 400, 'BadRequest');
  const opt = apiError(t, await call(app, 'POST', '/dylibs/main/modules?optimize=9', '(module)', { 'content-type': 'text/plain' }), 400, 'BadRequest');
  t.same(opt.paths, ['querystring/optimize']);
});

t.test('body validation: exactly one of wat/wasm, option ranges, base64', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  apiError(t, await call(app, 'POST', '/dylibs/main/modules', {}), 400, 'BadRequest');
  apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: '(module)', wasm: ANSWER_WASM.toString('base64') }), 400, 'BadRequest');
  const opt = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: '(module)', optimize: 5 }), 400, 'BadRequest');
  t.same(opt.paths, ['body/optimize']);
  const lazy = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: '(module)', lazy: 'yes' }), 400, 'BadRequest');
  t.same(lazy.paths, ['body/lazy']);
  const b64 = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wasm: 'not base64!' }), 400, 'BadRequest');
  t.same(b64.paths, ['body/wasm']);
});

t.test('InvalidModule: unparsable WAT, undecodable binary, invalid module', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  for (const [what, payload] of [
    ['WAT that does not parse', { wat: '(module (func' }],
    ['a binary that does not decode', { wasm: Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x63]).toString('base64') }],
    ['not wasm at all', { wasm: Buffer.from('hello').toString('base64') }],
    ['a module that does not validate', { wat: '(module (func (export "f") (result i32) i64.const 1))' }],
  ] as const) {
    const e = apiError(t, await call(app, 'POST', '/dylibs/main/modules', payload), 422, 'InvalidModule');
    t.ok(Array.isArray(e.diagnostics) && (e.diagnostics as unknown[]).length > 0, `${what}: diagnostics`);
  }
  t.same(json<{ symbols: unknown[] }>(await call(app, 'GET', '/dylibs/main')).symbols, [], 'nothing defined');
});

t.test('DuplicateDefinition: nothing of the request is defined', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "f")))');
  const e = apiError(
    t,
    await call(app, 'POST', '/dylibs/main/modules', { wat: '(module (func (export "g")) (func (export "f")))' }),
    409,
    'DuplicateDefinition',
  );
  t.same(e.symbols, ['f']);
  const names = json<{ symbols: Sym[] }>(await call(app, 'GET', '/dylibs/main')).symbols.map((s) => s.name);
  t.same(names, ['f'], '"g" was not defined either');
});

t.test('a start function that traps fails the add with Trap and defines nothing', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  const e = apiError(
    t,
    await call(app, 'POST', '/dylibs/main/modules', {
      wat: '(module (func $start unreachable) (start $start) (func (export "f")))',
    }),
    422,
    'Trap',
  );
  t.type(e.trap, 'string');
  t.same(json<{ symbols: unknown[] }>(await call(app, 'GET', '/dylibs/main')).symbols, []);
});

t.test('PayloadTooLarge: over the body limit, or a module over MAX_MODULE_BYTES', async (t) => {
  const { app } = await build(t, { bodyLimitBytes: 2048, maxModuleBytes: 512 });
  await createDylib(app, 'main');
  const big = `(module ${';; padding\n'.repeat(300)})`;
  const tooBig = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: big }), 413, 'PayloadTooLarge');
  t.equal(tooBig.limit, 2048);
  apiError(t, await call(app, 'POST', '/dylibs/main/modules', big, { 'content-type': 'text/plain' }), 413, 'PayloadTooLarge');
  apiError(t, await call(app, 'POST', '/dylibs/main/modules', Buffer.alloc(4096), { 'content-type': 'application/wasm' }), 413, 'PayloadTooLarge');
  const overModule = apiError(t, await call(app, 'POST', '/dylibs/main/modules', { wat: `(module ${' '.repeat(600)})` }), 413, 'PayloadTooLarge');
  t.equal(overModule.limit, 512);
  t.equal((await call(app, 'POST', '/dylibs/main/modules', { wat: '(module)' })).statusCode, 201, 'small modules still fit');
});

t.test('unsupported content type; missing dylib', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  apiError(t, await call(app, 'POST', '/dylibs/main/modules', 'x', { 'content-type': 'image/png' }), 415, 'UnsupportedMediaType');
  apiError(t, await call(app, 'POST', '/dylibs/ghost/modules', { wat: '(module)' }), 404, 'DylibNotFound');
});
