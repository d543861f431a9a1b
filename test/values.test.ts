// The JSON <-> WasmValue codec (src/service/values.ts): plain and typed forms, exact bits,
// the edge cases of API.md "Values", and TypeMismatch for wrong counts and types.

import t from 'tap';
import { TypeMismatch } from '../src/core/errors.ts';
import { ArgumentMismatch, decodeArgs, encodeResult } from '../src/service/values.ts';
import type { ValType, WasmValue } from '../src/wasm/types.ts';

// tap matches a thrown error against an object pattern; instanceof is asserted separately below.
const MISMATCH = { code: 'TypeMismatch' };

const one = (json: unknown, type: ValType): WasmValue => {
  const [v] = decodeArgs([json], [type]);
  if (!v) throw new Error('no value');
  return v;
};
const bits = (json: unknown, type: ValType) => one(json, type).bits;

t.test('i32: plain numbers, signed or unsigned readings of 32 bits', async (t) => {
  t.equal(bits(0, 'i32'), '0');
  t.equal(bits(42, 'i32'), '42');
  t.equal(bits(-1, 'i32'), '4294967295');
  t.equal(bits(4294967295, 'i32'), '4294967295');
  t.equal(bits(-2147483648, 'i32'), '2147483648');
  t.equal(bits(2147483647, 'i32'), '2147483647');
  t.equal(bits('-7', 'i32'), '4294967289', 'an integer string is accepted too');
  t.throws(() => bits(4294967296, 'i32'), MISMATCH, 'above 2^32 - 1');
  t.throws(() => bits(-2147483649, 'i32'), MISMATCH, 'below -2^31');
  t.throws(() => bits(1.5, 'i32'), MISMATCH, 'not an integer');
  t.throws(() => bits('abc', 'i32'), MISMATCH);
  t.throws(() => bits(null, 'i32'), MISMATCH);
  t.throws(() => bits(true, 'i32'), MISMATCH);
  t.throws(() => bits([1], 'i32'), MISMATCH);
});

t.test('i64: decimal strings, safe-integer numbers', async (t) => {
  t.equal(bits('0', 'i64'), '0');
  t.equal(bits('-1', 'i64'), '18446744073709551615');
  t.equal(bits('9223372036854775807', 'i64'), '9223372036854775807');
  t.equal(bits('-9223372036854775808', 'i64'), '9223372036854775808');
  t.equal(bits('18446744073709551615', 'i64'), '18446744073709551615', 'unsigned reading');
  t.equal(bits(123, 'i64'), '123', 'a safe-integer number');
  t.equal(bits(-5, 'i64'), '18446744073709551611');
  t.throws(() => bits(2 ** 53, 'i64'), MISMATCH, 'a number that is not a safe integer loses bits');
  t.throws(() => bits('18446744073709551616', 'i64'), MISMATCH, 'over 64 bits');
  t.throws(() => bits('-9223372036854775809', 'i64'), MISMATCH);
  t.throws(() => bits('12abc', 'i64'), MISMATCH, 'a string that is not an i64');
  t.throws(() => bits('1.0', 'i64'), MISMATCH);
  t.throws(() => bits('', 'i64'), MISMATCH);
});

t.test('f32: numbers are rounded to float32 bits; special strings', async (t) => {
  t.equal(bits(1, 'f32'), String(0x3f80_0000));
  t.equal(bits(0.1, 'f32'), String(0x3dcc_cccd), '0.1 rounds to the nearest float32');
  t.equal(bits(-2.5, 'f32'), String(0xc020_0000));
  t.equal(bits(0, 'f32'), '0');
  t.equal(bits('-0', 'f32'), String(0x8000_0000));
  t.equal(bits('NaN', 'f32'), String(0x7fc0_0000));
  t.equal(bits('Infinity', 'f32'), String(0x7f80_0000));
  t.equal(bits('-Infinity', 'f32'), String(0xff80_0000));
  t.equal(bits(1e39, 'f32'), String(0x7f80_0000), 'beyond float32 range rounds to infinity');
  t.equal(bits('0.5', 'f32'), String(0x3f00_0000), 'a decimal string');
  t.throws(() => bits('nan', 'f32'), MISMATCH);
  t.throws(() => bits(null, 'f32'), MISMATCH);
});

t.test('f64: exact bits of numbers and special strings', async (t) => {
  t.equal(bits(1, 'f64'), String(0x3ff0_0000_0000_0000n));
  t.equal(bits(0.1, 'f64'), String(0x3fb9_9999_9999_999an));
  t.equal(bits('-0', 'f64'), String(0x8000_0000_0000_0000n));
  t.equal(bits('NaN', 'f64'), String(0x7ff8_0000_0000_0000n));
  t.equal(bits('Infinity', 'f64'), String(0x7ff0_0000_0000_0000n));
  t.equal(bits('-Infinity', 'f64'), String(0xfff0_0000_0000_0000n));
  t.equal(bits(Number.MIN_VALUE, 'f64'), '1', 'the smallest subnormal');
  t.throws(() => bits('1,5', 'f64'), MISMATCH);
});

t.test('typed form: raw bits as unsigned decimal strings', async (t) => {
  t.equal(bits({ type: 'i32', value: '4294967295' }, 'i32'), '4294967295');
  t.equal(bits({ type: 'i64', value: '18446744073709551615' }, 'i64'), '18446744073709551615');
  t.equal(bits({ type: 'f32', value: '2141192192' }, 'f32'), '2141192192', 'a NaN with a payload (0x7fa00000)');
  t.equal(bits({ type: 'f64', value: '9221120237041090561' }, 'f64'), '9221120237041090561', 'an f64 NaN payload');
  t.equal(bits({ type: 'f32', value: 1065353216 }, 'f32'), '1065353216', 'a safe-integer number is accepted');
  t.throws(() => bits({ type: 'f32', value: '4294967296' }, 'f32'), MISMATCH, 'more than 32 bits');
  t.throws(() => bits({ type: 'f64', value: '-1' }, 'f64'), MISMATCH, 'float bits are unsigned');
  t.throws(() => bits({ type: 'i64', value: '1' }, 'i32'), MISMATCH, 'typed as another type');
  t.throws(() => bits({ type: 'i32' }, 'i32'), MISMATCH, 'no value');
  t.throws(() => bits({ type: 'i32', value: 'x' }, 'i32'), MISMATCH);
});

t.test('v128 and references', async (t) => {
  const hex = '000102030405060708090A0B0C0D0E0F';
  t.equal(bits({ type: 'v128', value: hex }, 'v128'), hex.toLowerCase());
  t.equal(bits(hex, 'v128'), hex.toLowerCase(), 'plain form: the same hex digits');
  t.throws(() => bits({ type: 'v128', value: '00' }, 'v128'), MISMATCH);
  t.equal(bits(null, 'funcref'), null);
  t.equal(bits({ type: 'externref', value: null }, 'externref'), null);
  t.equal(bits({ type: 'externref', value: 'ref:7' }, 'externref'), 'ref:7');
  t.throws(() => bits(1, 'funcref'), MISMATCH);
});

t.test('mixed forms, counts and error details', async (t) => {
  const vs = decodeArgs([1, { type: 'i64', value: '2' }, 'NaN', { type: 'f64', value: '0' }], ['i32', 'i64', 'f32', 'f64']);
  t.same(vs, [
    { type: 'i32', bits: '1' },
    { type: 'i64', bits: '2' },
    { type: 'f32', bits: String(0x7fc0_0000) },
    { type: 'f64', bits: '0' },
  ]);
  t.same(decodeArgs([], []), []);

  const count = t.throws(() => decodeArgs([1], ['i32', 'i32'])) as unknown;
  t.ok(count instanceof TypeMismatch && count instanceof ArgumentMismatch);
  t.match((count as Error).message, /2 arguments.*got 1/);
  t.same((count as ArgumentMismatch).details(), { expected: ['i32', 'i32'] });

  const wrong = t.throws(() => decodeArgs([1, 'x'], ['i32', 'i64'])) as ArgumentMismatch;
  t.equal(wrong.code, 'TypeMismatch');
  t.match(wrong.message, /Argument 1/);
  t.same(wrong.details(), { argument: 1, expected: 'i64' });
  t.throws(() => decodeArgs([1, 2], ['i32']), MISMATCH, 'too many');
});

t.test('encodeResult: plain form plus exact bits', async (t) => {
  t.same(encodeResult({ type: 'i32', bits: '4294967295' }), { type: 'i32', value: -1, bits: '4294967295' });
  t.same(encodeResult({ type: 'i32', bits: '2147483647' }), { type: 'i32', value: 2147483647, bits: '2147483647' });
  t.same(encodeResult({ type: 'i64', bits: '18446744073709551615' }), { type: 'i64', value: '-1', bits: '18446744073709551615' });
  t.same(encodeResult({ type: 'i64', bits: '9007199254740993' }), { type: 'i64', value: '9007199254740993', bits: '9007199254740993' });
  t.same(encodeResult({ type: 'f32', bits: String(0x3dcc_cccd) }), { type: 'f32', value: Math.fround(0.1), bits: String(0x3dcc_cccd) });
  t.same(encodeResult({ type: 'f32', bits: String(0x7fa0_0000) }), { type: 'f32', value: 'NaN', bits: String(0x7fa0_0000) }, 'NaN payload kept in bits');
  t.same(encodeResult({ type: 'f32', bits: String(0x8000_0000) }), { type: 'f32', value: '-0', bits: String(0x8000_0000) });
  t.same(encodeResult({ type: 'f64', bits: String(0xfff0_0000_0000_0000n) }), { type: 'f64', value: '-Infinity', bits: String(0xfff0_0000_0000_0000n) });
  t.same(encodeResult({ type: 'f64', bits: String(0x7ff0_0000_0000_0000n) }), { type: 'f64', value: 'Infinity', bits: String(0x7ff0_0000_0000_0000n) });
  t.same(encodeResult({ type: 'f64', bits: '4614253070214989087' }), { type: 'f64', value: 3.14, bits: '4614253070214989087' });
  t.same(encodeResult({ type: 'v128', bits: '00'.repeat(16) }), { type: 'v128', value: '00'.repeat(16), bits: '00'.repeat(16) });
  t.same(encodeResult({ type: 'funcref', bits: null }), { type: 'funcref', value: null, bits: null });
  t.same(encodeResult({ type: 'externref', bits: 'ref:1' }), { type: 'externref', value: 'ref:1', bits: 'ref:1' });
});

t.test('round trips: typed form is exact, plain form is exact except NaN payloads', async (t) => {
  const samples: [ValType, string][] = [
    ['i32', '0'], ['i32', '2147483648'], ['i32', '4294967295'],
    ['i64', '0'], ['i64', '9223372036854775808'], ['i64', '18446744073709551615'],
    ['f32', '0'], ['f32', String(0x8000_0000)], ['f32', String(0x7f80_0000)], ['f32', String(0x0000_0001)],
    ['f32', String(0x7fc0_0000)], ['f32', String(0xffa0_0001)], ['f32', String(0x3dcc_cccd)],
    ['f64', '0'], ['f64', String(0x8000_0000_0000_0000n)], ['f64', String(0x7ff0_0000_0000_0001n)],
    ['f64', String(0x3fb9_9999_9999_999an)], ['f64', '1'],
    ['v128', 'ff'.repeat(16)],
  ];
  for (const [type, b] of samples) {
    const encoded = encodeResult({ type, bits: b });
    t.equal(one({ type, value: encoded.bits }, type).bits, b, `${type} ${b} via the typed form`);
    const isNaNValue = encoded.value === 'NaN';
    if (!isNaNValue) t.equal(one(encoded.value, type).bits, b, `${type} ${b} via the plain form`);
  }
});
