// Unit tests for the value layer: NaN patterns, exact-bit comparison, v128 lane packing and
// per-lane patterns, reference expectations.

import t from 'tap';
import { matches, matchesNan, type Expected } from './expected.ts';
import { f32ToBits, f64ToBits, lanesToV128, v128ToLanes } from './values.ts';

t.test('NaN patterns', async (t) => {
  t.ok(matchesNan(32, 0x7fc0_0000n, 'nan:canonical'));
  t.ok(matchesNan(32, 0xffc0_0000n, 'nan:canonical'), 'either sign');
  t.notOk(matchesNan(32, 0x7fc0_0001n, 'nan:canonical'), 'payload beyond the quiet bit');
  t.ok(matchesNan(32, 0x7fc0_0001n, 'nan:arithmetic'));
  t.notOk(matchesNan(32, 0x7fa0_0000n, 'nan:arithmetic'), 'signalling NaN');
  t.notOk(matchesNan(32, 0x7f80_0000n, 'nan:arithmetic'), 'infinity');
  t.ok(matchesNan(64, 0xfff8_0000_0000_0000n, 'nan:canonical'));
  t.notOk(matchesNan(64, 0x7ff4_0000_0000_0000n, 'nan:arithmetic'));
  t.ok(matchesNan(64, 0x7ffc_0000_0000_0000n, 'nan:arithmetic'));
});

t.test('exact values', async (t) => {
  const e: Expected = { kind: 'value', value: { type: 'f32', bits: '2141192192' } };
  t.ok(matches(e, { type: 'f32', bits: '2141192192' }));
  t.notOk(matches(e, { type: 'f32', bits: '2145386496' }), 'quieted payload differs');
  t.notOk(matches(e, { type: 'i32', bits: '2141192192' }), 'type matters');
  t.notOk(matches({ kind: 'value', value: { type: 'f64', bits: f64ToBits(0) } }, { type: 'f64', bits: f64ToBits(-0) }), '-0 is not 0');
  t.equal(f32ToBits(1), '1065353216');
  t.ok(matches({ kind: 'value', value: { type: 'externref', bits: null } }, { type: 'externref', bits: null }));
  t.notOk(matches({ kind: 'value', value: { type: 'externref', bits: '1' } }, { type: 'externref', bits: '2' }));
  t.ok(matches({ kind: 'refFunc' }, { type: 'funcref', bits: 'func:0' }));
  t.notOk(matches({ kind: 'refFunc' }, { type: 'funcref', bits: null }));
  const either: Expected = {
    kind: 'either',
    options: [
      { kind: 'value', value: { type: 'i32', bits: '1' } },
      { kind: 'value', value: { type: 'i32', bits: '2' } },
    ],
  };
  t.ok(matches(either, { type: 'i32', bits: '2' }));
  t.notOk(matches(either, { type: 'i32', bits: '3' }));
});

t.test('v128 lanes', async (t) => {
  const hex = lanesToV128('i32', ['1', '2', '3', '4294967295']);
  t.equal(hex, '010000000200000003000000ffffffff', 'little-endian bytes, lane 0 first');
  t.same(v128ToLanes('i16', hex).slice(0, 2), [1n, 0n]);
  t.equal(lanesToV128('i8', Array.from({ length: 16 }, (_, i) => String(i))), '000102030405060708090a0b0c0d0e0f');
  const got = { type: 'v128' as const, bits: lanesToV128('f32', ['2143289344', '2143289345', '1065353216', '0']) };
  const pattern = (lanes: Expected & { kind: 'v128' }) => matches(lanes, got);
  t.ok(
    pattern({
      kind: 'v128',
      laneType: 'f32',
      lanes: [{ nan: 'nan:canonical' }, { nan: 'nan:arithmetic' }, { bits: '1065353216' }, { bits: '0' }],
    }),
  );
  t.notOk(
    pattern({
      kind: 'v128',
      laneType: 'f32',
      lanes: [{ nan: 'nan:canonical' }, { nan: 'nan:canonical' }, { bits: '1065353216' }, { bits: '0' }],
    }),
    'lane 1 is arithmetic, not canonical',
  );
  t.notOk(matches({ kind: 'v128', laneType: 'i64', lanes: [{ bits: '1' }, { bits: '2' }] }, got));
});
