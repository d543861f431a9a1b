// The invoke routes' hand-written checks and writer (routes/invokeWire.ts) against zod, whose
// place they take on the hot path: on many generated inputs, whatever a fast check accepts zod
// accepts with the same value, whatever the writer writes is byte for byte zod's JSON, and a
// request the fast path passes on is answered exactly as zod answered it before (same status,
// code, message and issues), over HTTP.

import t, { type Test } from 'tap';
import { z } from 'zod';
import { DylibParams, SymbolParams } from '../../schemas/common.ts';
import { InvokeBody, InvokeByNameBody, InvokeResult } from '../../schemas/invoke.ts';
import {
  fastDylibParams,
  fastInvokeBody,
  fastInvokeByNameBody,
  fastSymbolParams,
  writeInvokeResult,
} from '../../routes/invokeWire.ts';
import { Prng } from '../fuzz/prng.ts';
import { addWat, build, call, createDylib } from './helper.ts';

const rng = new Prng(0x13_1307);
const pick = <T>(xs: readonly T[]): T => xs[rng.below(xs.length)] as T;

const STRINGS = ['', 'a', 'main', 'add', 'x'.repeat(85), 'x'.repeat(86), 'é'.repeat(127), 'é'.repeat(128), '😀'.repeat(63), '😀'.repeat(64),
  'tab\there', 'nul\u0000', 'del\u007f', 'line\n', ' spaced ', 'a/b', '\ud800', '.impl', 'm.impl'];
const NUMBERS = [0, 1, -1, 2, 1.5, -0, 1e3, 5000, 2 ** 31, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e21, -1e21, Number.MAX_VALUE, Number.MIN_VALUE];

function scalar(): unknown {
  switch (rng.below(6)) {
    case 0: return pick(STRINGS);
    case 1: return pick(NUMBERS);
    case 2: return pick([null, true, false]);
    case 3: return undefined;
    case 4: return pick([[], [1, 2], ['1', { type: 'i32', value: '4' }], [null], [[1]]]);
    default: return pick([{}, { type: 'i64', value: '1' }, { args: [] }]);
  }
}

/** A value of the type the key wants (not always a valid one). */
function typical(key: string): unknown {
  if (key === 'args') return pick([[], [1, 2], ['5', { type: 'f32', value: '0' }, null]]);
  if (key === 'timeoutMs') return pick(NUMBERS);
  return pick(STRINGS);
}

/**
 * An object with some of the keys the schemas know, some values of the right type, and noise;
 * through JSON, as a body arrives (path parameters arrive as strings, so those mostly are).
 */
function candidate(keys: readonly string[], params: boolean): unknown {
  if (rng.below(12) === 0) return scalar();
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (rng.below(params ? 12 : 5) === 0) continue;
    out[k] = rng.below(3) !== 0 ? typical(k) : scalar();
  }
  if (rng.below(4) === 0) out['extra'] = scalar();
  const json = JSON.stringify(out);
  return json === undefined ? undefined : JSON.parse(json);
}

function agreesWithZod(t: Test, name: string, fast: (d: unknown) => unknown, schema: z.ZodType, keys: readonly string[], params = false): void {
  let accepted = 0;
  let passedOn = 0;
  for (let i = 0; i < 20_000; i++) {
    const data = candidate(keys, params);
    const value = fast(data);
    if (value === undefined) {
      passedOn++;
      continue;
    }
    accepted++;
    const z = schema.safeParse(data);
    if (!z.success) {
      t.fail(`${name}: fast path accepted what zod refuses: ${JSON.stringify(data)}`);
      return;
    }
    if (JSON.stringify(Object.entries(value as object)) !== JSON.stringify(Object.entries(z.data as object))) {
      t.fail(`${name}: fast path value ${JSON.stringify(value)} differs from zod's ${JSON.stringify(z.data)}`);
      return;
    }
  }
  // Both sides of the generator are exercised: a generator that never reaches one would prove nothing.
  t.ok(accepted > 1000 && passedOn > 1000, `${name}: ${accepted} accepted as zod does, ${passedOn} passed on to zod`);
}

t.test('each fast check accepts only what zod accepts, with the same value', async (t) => {
  agreesWithZod(t, 'SymbolParams', fastSymbolParams, SymbolParams, ['dylib', 'symbol'], true);
  agreesWithZod(t, 'DylibParams', fastDylibParams, DylibParams, ['dylib'], true);
  agreesWithZod(t, 'InvokeBody', fastInvokeBody, InvokeBody, ['args', 'timeoutMs']);
  agreesWithZod(t, 'InvokeByNameBody', fastInvokeByNameBody, InvokeByNameBody, ['symbol', 'args', 'timeoutMs']);
});

t.test('the common bodies and names take the fast path', async (t) => {
  t.strictSame(fastInvokeBody({ args: [2, 3] }), { args: [2, 3] });
  t.strictSame(fastInvokeBody({}), { args: [] });
  t.strictSame(fastInvokeBody({ args: [], timeoutMs: 100, other: 1 }), { args: [], timeoutMs: 100 });
  t.strictSame(fastInvokeByNameBody({ symbol: '', args: ['1'] }), { symbol: '', args: ['1'] });
  t.strictSame(fastSymbolParams({ dylib: 'main', symbol: 'add' }), { dylib: 'main', symbol: 'add' });
  t.equal(fastInvokeBody({ args: 5 }), undefined);
  t.equal(fastInvokeBody({ timeoutMs: 0 }), undefined);
  t.equal(fastInvokeByNameBody({ args: [] }), undefined);
  t.equal(fastSymbolParams({ dylib: 'a\u0001', symbol: 'x' }), undefined);
});

function resultValue(): unknown {
  const r: Record<string, unknown> = {
    type: rng.below(20) === 0 ? 'i31' : pick(['i32', 'i64', 'f32', 'f64', 'v128', 'funcref', 'externref']),
    value: pick<unknown>([0, -1, 5, 0.1, 1e300, -0, 'NaN', '-0', '18446744073709551615', null, 'quote"back\\slash\u2028', '\ud83d', NaN, Infinity, undefined, true]),
    bits: pick<unknown>(['5', null, '0', 'é', undefined, 5]),
  };
  if (rng.below(10) === 0) r['extra'] = 1;
  return r;
}

function invokeResult(): unknown {
  const list = () => (rng.below(15) === 0 ? pick<unknown>([undefined, 'x', [1]]) : Array.from({ length: rng.below(3) }, () => pick(STRINGS)));
  const ms = () => pick<unknown>([0, 0.123, 12.5, 1e-7, NaN, Infinity, '1', undefined]);
  const out: Record<string, unknown> = {
    results: rng.below(20) === 0 ? null : Array.from({ length: rng.below(4) }, resultValue),
    compiled: list(),
    output: list(),
    timing: rng.below(20) === 0 ? null : { compileMs: ms(), runMs: ms() },
  };
  if (rng.below(10) === 0) out['extra'] = 'x';
  return out;
}

t.test('the result writer writes what zod and JSON.stringify write, and nothing zod refuses', async (t) => {
  let written = 0;
  let passedOn = 0;
  for (let i = 0; i < 20_000; i++) {
    const data = invokeResult();
    const fast = writeInvokeResult(data);
    const z = InvokeResult.safeEncode(data as InvokeResult);
    if (fast === undefined) {
      passedOn++;
      continue;
    }
    written++;
    if (!z.success) {
      t.fail(`the writer wrote what zod refuses: ${JSON.stringify(data)}`);
      return;
    }
    if (fast !== JSON.stringify(z.data)) {
      t.fail(`the writer wrote ${fast}, zod and JSON.stringify ${JSON.stringify(z.data)}`);
      return;
    }
  }
  t.ok(written > 1000 && passedOn > 1000, `${written} written as zod does, ${passedOn} passed on to zod`);
});

t.test('over HTTP, refused requests get zod\'s issues and message; good ones get the written result', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))');
  const cases: { url: string; body: unknown; schema: z.ZodType; path: string }[] = [
    { url: '/dylibs/main/symbols/add/invoke', body: { args: 5 }, schema: InvokeBody, path: 'body' },
    { url: '/dylibs/main/symbols/add/invoke', body: { args: [1, 2], timeoutMs: 1.5 }, schema: InvokeBody, path: 'body' },
    { url: '/dylibs/main/symbols/add/invoke', body: { args: 'x', timeoutMs: -1 }, schema: InvokeBody, path: 'body' },
    { url: '/dylibs/main/symbols/add/invoke', body: [1, 2], schema: InvokeBody, path: 'body' },
    { url: '/dylibs/main/invoke', body: { args: [] }, schema: InvokeByNameBody, path: 'body' },
    { url: '/dylibs/main/invoke', body: { symbol: 7, timeoutMs: 2 ** 53 }, schema: InvokeByNameBody, path: 'body' },
  ];
  for (const c of cases) {
    const res = await call(app, 'POST', c.url, c.body);
    t.equal(res.statusCode, 400, JSON.stringify(c.body));
    const error = (res.json() as { error: { code: string; message: string; paths: string[]; issues: { path: string; message: string }[] } }).error;
    const parsed = c.schema.safeParse(c.body);
    t.notOk(parsed.success);
    const zodIssues = parsed.error?.issues ?? [];
    t.equal(error.code, 'BadRequest');
    t.same(
      error.issues.map((i) => i.message),
      zodIssues.map((i) => i.message),
      `zod's messages for ${JSON.stringify(c.body)}`,
    );
    t.same(error.paths, zodIssues.map((i) => [c.path, ...i.path.map(String)].join('/')));
    t.match(error.message, /^Invalid request: body(\/\w+)?: .+\.$/);
  }
  const tooLong = await call(app, 'POST', `/dylibs/${'x'.repeat(256)}/symbols/add/invoke`, { args: [] });
  t.equal(tooLong.statusCode, 400);
  t.same((tooLong.json() as { error: { paths: string[] } }).error.paths, ['params/dylib']);

  const ok = await call(app, 'POST', '/dylibs/main/symbols/add/invoke', { args: [2, 3] });
  t.equal(ok.statusCode, 200);
  const body = ok.json() as InvokeResult;
  t.equal(ok.body, JSON.stringify(InvokeResult.encode(body)), 'the body is what zod would have written');
  t.same(body.results, [{ type: 'i32', value: 5, bits: '5' }]);
});
