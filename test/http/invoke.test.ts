// Invoking functions (symbol in the path and in the body): value forms, the invoke result,
// laziness as seen by callers, imports, and every failure an invoke can report.

import t from 'tap';
import { addWat, apiError, build, call, createDylib, invoke, json } from './helper.ts';

interface Result {
  type: string;
  value: unknown;
  bits: string | null;
}
interface InvokeResult {
  results: Result[];
  compiled: string[];
  output: string[];
  timing: { compileMs: number; runMs: number };
}

const MATH = `(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "addi64") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add)
  (func (export "idf32") (param f32) (result f32) local.get 0)
  (func (export "idf64") (param f64) (result f64) local.get 0)
  (func (export "negf64") (param f64) (result f64) local.get 0 f64.neg)
  (func (export "pair") (result i32 i64) i32.const -1 i64.const 2)
  (func (export "square") (param i32) (result i32) local.get 0 local.get 0 i32.mul)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func (export "boom") unreachable)
  (func $rec (export "rec") (param i32) (result i32) local.get 0 i32.const 1 i32.add call $rec)
  (func (export "spin") (loop br 0))
  (global (export "g") i32 (i32.const 1)))`;

async function setup(t: Parameters<typeof build>[0], overrides: Parameters<typeof build>[1] = {}) {
  const ctx = await build(t, overrides);
  await createDylib(ctx.app, 'main');
  await addWat(ctx.app, 'main', MATH);
  return ctx;
}

t.test('both forms call the function and return the invoke result', async (t) => {
  const { app } = await setup(t);
  const byPath = await invoke(app, 'main', 'add', [2, 3]);
  t.equal(byPath.statusCode, 200);
  const r = json<InvokeResult>(byPath);
  t.same(r.results, [{ type: 'i32', value: 5, bits: '5' }]);
  t.ok(Array.isArray(r.compiled));
  t.same(r.output, []);
  t.type(r.timing.compileMs, 'number');
  t.type(r.timing.runMs, 'number');
  t.ok(r.timing.compileMs >= 0 && r.timing.runMs >= 0);

  const byBody = await call(app, 'POST', '/dylibs/main/invoke', { symbol: 'add', args: [-7, { type: 'i32', value: '4294967295' }] });
  t.equal(byBody.statusCode, 200);
  t.same(json<InvokeResult>(byBody).results, [{ type: 'i32', value: -8, bits: '4294967288' }], 'mixed plain and typed arguments');
});

t.test('value forms: i64 strings, f32 rounding, -0, NaN payloads, multiple results', async (t) => {
  const { app } = await setup(t);
  const results = async (symbol: string, args: unknown[]) => json<InvokeResult>(await invoke(app, 'main', symbol, args)).results;

  t.same(await results('addi64', ['9223372036854775807', 1]), [
    { type: 'i64', value: '-9223372036854775808', bits: '9223372036854775808' },
  ]);
  t.same(await results('addi64', [{ type: 'i64', value: '18446744073709551615' }, '0']), [
    { type: 'i64', value: '-1', bits: '18446744073709551615' },
  ]);
  t.same(await results('idf32', [0.1]), [{ type: 'f32', value: Math.fround(0.1), bits: String(0x3dcc_cccd) }]);
  t.same(await results('idf32', ['-0']), [{ type: 'f32', value: '-0', bits: String(0x8000_0000) }]);
  t.same(await results('idf64', ['Infinity']), [{ type: 'f64', value: 'Infinity', bits: String(0x7ff0_0000_0000_0000n) }]);
  t.same(await results('negf64', [0]), [{ type: 'f64', value: '-0', bits: String(0x8000_0000_0000_0000n) }]);

  const f32nan = String(0x7fc0_0001);
  t.same(await results('idf32', [{ type: 'f32', value: f32nan }]), [{ type: 'f32', value: 'NaN', bits: f32nan }], 'f32 NaN payload kept');
  const f64nan = String(0x7ff8_0000_0000_0001n);
  t.same(await results('idf64', [{ type: 'f64', value: f64nan }]), [{ type: 'f64', value: 'NaN', bits: f64nan }], 'f64 NaN payload kept');
  t.same(await results('pair', []), [
    { type: 'i32', value: -1, bits: '4294967295' },
    { type: 'i64', value: '2', bits: '2' },
  ]);
});

t.test('lazy: the first call compiles the body, later calls do not', async (t) => {
  const { app } = await setup(t);
  const first = json<InvokeResult>(await invoke(app, 'main', 'square', [9]));
  t.same(first.results[0]?.value, 81);
  t.ok(first.compiled.some((n) => n.includes('square')), `first call compiled the body (${JSON.stringify(first.compiled)})`);
  const second = json<InvokeResult>(await invoke(app, 'main', 'square', [3]));
  t.same(second.results[0]?.value, 9);
  t.same(second.compiled, [], 'nothing compiled the second time');
});

t.test('imports: spectest output, env through the link order, another dylib by module name', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'lib');
  await addWat(app, 'lib', '(module (func (export "helper") (param i32) (result i32) local.get 0 i32.const 100 i32.add))');
  await createDylib(app, 'main', ['main', 'lib']);
  await addWat(
    app,
    'main',
    `(module
      (import "spectest" "print_i32" (func $print (param i32)))
      (import "env" "helper" (func $helper (param i32) (result i32)))
      (import "lib" "helper" (func $direct (param i32) (result i32)))
      (func (export "run") (param i32) (result i32)
        local.get 0 call $print
        local.get 0 call $helper call $direct))`,
  );
  const r = json<InvokeResult>(await invoke(app, 'main', 'run', [42]));
  t.same(r.results[0]?.value, 242);
  t.equal(r.output.length, 1, 'one line printed');
  t.match(r.output[0], /42/);
});

t.test('TypeMismatch: wrong count, wrong types, not a function', async (t) => {
  const { app } = await setup(t);
  apiError(t, await invoke(app, 'main', 'add', [1]), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'add', [1, 2, 3]), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'add', [1, 'two']), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'add', [1, 2.5]), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'add', [1, 2 ** 32]), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'addi64', ['12x', '1']), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'add', [1, { type: 'i64', value: '2' }]), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'idf32', [true]), 400, 'TypeMismatch');
  apiError(t, await invoke(app, 'main', 'g', []), 400, 'TypeMismatch');
});

t.test('Trap, StackOverflow', async (t) => {
  const { app } = await setup(t);
  const div = apiError(t, await invoke(app, 'main', 'div', [1, 0]), 422, 'Trap');
  t.match(div.trap, /divide by zero/i);
  t.ok(Array.isArray(div.stack));
  const boom = apiError(t, await invoke(app, 'main', 'boom', []), 422, 'Trap');
  t.match(boom.trap, /unreachable/i);
  apiError(t, await invoke(app, 'main', 'rec', [0]), 422, 'StackOverflow');
  t.same(json<InvokeResult>(await invoke(app, 'main', 'div', [7, 2])).results[0]?.value, 3, 'the session still works');
});

t.test('ExecutionTimeout: the call is stopped and the server stays responsive', async (t) => {
  const { app } = await setup(t, { callTimeoutMs: 200, maxCallTimeoutMs: 400 });
  let started = Date.now();
  apiError(t, await invoke(app, 'main', 'spin', [], { timeoutMs: 50 }), 422, 'ExecutionTimeout');
  t.ok(Date.now() - started < 5000);

  started = Date.now();
  apiError(t, await invoke(app, 'main', 'spin', []), 422, 'ExecutionTimeout');
  t.ok(Date.now() - started < 5000, "the server's default limit applies");

  started = Date.now();
  const clamped = apiError(t, await invoke(app, 'main', 'spin', [], { timeoutMs: 60_000 }), 422, 'ExecutionTimeout');
  t.ok(Date.now() - started < 5000, 'a larger timeoutMs is capped at the server maximum');
  if (typeof clamped.timeoutMs === 'number') t.ok(clamped.timeoutMs <= 400);

  t.equal((await call(app, 'GET', '/health')).statusCode, 200);
  t.same(json<InvokeResult>(await invoke(app, 'main', 'add', [1, 1])).results[0]?.value, 2);
});

t.test('FailedToMaterialize: an import that resolves nowhere, every time', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(
    app,
    'main',
    '(module (import "env" "missing_fn" (func $m (result i32))) (func (export "callsMissing") (result i32) call $m))',
  );
  for (const attempt of [1, 2]) {
    const e = apiError(t, await invoke(app, 'main', 'callsMissing'), 424, 'FailedToMaterialize');
    t.ok(Array.isArray(e.symbols), `attempt ${attempt}: details name the symbols`);
    t.match(JSON.stringify(e), /missing_fn/, 'the cause names the missing import');
  }
});

t.test('SymbolsNotFound, DylibNotFound, bad bodies', async (t) => {
  const { app } = await setup(t);
  const nf = apiError(t, await invoke(app, 'main', 'nope'), 404, 'SymbolsNotFound');
  t.same(nf.symbols, ['nope']);
  apiError(t, await call(app, 'POST', '/dylibs/main/invoke', { symbol: 'nope' }), 404, 'SymbolsNotFound');
  apiError(t, await invoke(app, 'ghost', 'add', [1, 2]), 404, 'DylibNotFound');
  const noSymbol = apiError(t, await call(app, 'POST', '/dylibs/main/invoke', { args: [] }), 400, 'BadRequest');
  t.same(noSymbol.paths, ['body/symbol']);
  const args = apiError(t, await call(app, 'POST', '/dylibs/main/symbols/add/invoke', { args: 5 }), 400, 'BadRequest');
  t.same(args.paths, ['body/args']);
  const timeout = apiError(t, await call(app, 'POST', '/dylibs/main/symbols/add/invoke', { args: [1, 2], timeoutMs: -1 }), 400, 'BadRequest');
  t.same(timeout.paths, ['body/timeoutMs']);
});
