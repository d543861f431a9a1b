// Pure pieces of the executor: the binary encoder's output validates and runs, values convert
// exactly, and printed values match the reference interpreter's formatting.

import t from 'tap';
import { formatF32Bits, formatF64Bits, formatPrinted } from '../../src/executor/printFormat.ts';
import { buildInvokeWrapper } from '../../src/executor/invokeWrapper.ts';
import { buildStubModule } from '../../src/executor/stubModule.ts';
import { buildGlobalReader } from '../../src/executor/globalReader.ts';
import { checkValue } from '../../src/executor/rawValues.ts';
import { ByteWriter } from '../../src/executor/wasmEncoder.ts';
import { v } from './helpers.ts';

t.test('LEB128 encodings', async (t) => {
  t.same([...new ByteWriter().u32(624485).finish()], [0xe5, 0x8e, 0x26]);
  t.same([...new ByteWriter().s32(-123456).finish()], [0xc0, 0xbb, 0x78]);
  t.same([...new ByteWriter().s32(64).finish()], [0xc0, 0x00]);
  t.same([...new ByteWriter().s32(-1).finish()], [0x7f]);
  t.same([...new ByteWriter().u32(0xffffffff).finish()], [0xff, 0xff, 0xff, 0xff, 0x0f]);
});

t.test('generated glue modules validate', async (t) => {
  const sigs = [
    { params: [], results: [] },
    { params: ['i32', 'i64', 'f32', 'f64', 'v128', 'funcref', 'externref'], results: ['v128', 'f64', 'f32', 'externref'] },
  ] as const;
  for (const s of sigs) t.ok(WebAssembly.validate(buildInvokeWrapper(s) as BufferSource), `wrapper ${JSON.stringify(s)}`);
  t.ok(
    WebAssembly.validate(
      buildStubModule([
        { stubAddr: 10, ptrAddr: 11, callThroughId: 1, type: sigs[0] },
        { stubAddr: 12, ptrAddr: 13, callThroughId: 70000, type: sigs[1] },
      ]) as BufferSource,
    ),
  );
  for (const type of ['i32', 'i64', 'f32', 'f64', 'v128', 'funcref', 'externref'] as const) {
    t.ok(WebAssembly.validate(buildGlobalReader({ type, mutable: true }) as BufferSource), `reader ${type}`);
  }
});

t.test('the invoke wrapper calls through the table and checks the signature', async (t) => {
  const table = new WebAssembly.Table({ element: 'anyfunc', initial: 4 });
  const wrapper = (type: { params: readonly 'f32'[]; results: readonly ('i32' | 'f32')[] }) =>
    new WebAssembly.Instance(new WebAssembly.Module(buildInvokeWrapper(type) as BufferSource), { env: { table } }).exports[
      'invoke'
    ] as (...a: unknown[]) => unknown;
  // A global reader is a generated function of type () -> i32 returning an f32's raw bits.
  const reader = new WebAssembly.Instance(new WebAssembly.Module(buildGlobalReader({ type: 'f32', mutable: false }) as BufferSource), {
    env: { g: new WebAssembly.Global({ value: 'f32', mutable: false }, 1.5) },
  }).exports['get'] as Function;
  table.set(1, reader);
  t.equal((wrapper({ params: [], results: ['i32'] })(1) as number) >>> 0, 0x3fc00000, '1.5f as raw bits, via slot 1');
  t.throws(() => wrapper({ params: ['f32'], results: ['f32'] })(1, 0), WebAssembly.RuntimeError, 'a wrong signature traps');
});

t.test('checkValue', async (t) => {
  t.equal(checkValue('i32', v('i32', '4294967295')), undefined);
  t.equal(checkValue('i32', v('i32', '-1')), undefined, 'signed form accepted');
  t.match(checkValue('i32', v('i32', '4294967296')), /does not fit/);
  t.match(checkValue('i64', v('i64', '1.5')), /decimal/);
  t.match(checkValue('i64', v('i32', '1')), /expected i64/);
  t.equal(checkValue('v128', v('v128', '00'.repeat(16))), undefined);
  t.match(checkValue('v128', v('v128', '00')), /32 hex/);
  t.equal(checkValue('externref', v('externref', null)), undefined);
});

t.test('print formatting follows the reference interpreter', async (t) => {
  t.equal(formatPrinted('i32', 42), '42 : i32');
  t.equal(formatPrinted('i32', -1), '-1 : i32');
  t.equal(formatPrinted('i32', 1234567), '1_234_567 : i32');
  t.equal(formatPrinted('i64', -9223372036854775808n), '-9_223_372_036_854_775_808 : i64');
  t.equal(formatF64Bits(BigInt.asIntN(64, 0x4084d4cccccccccdn)), '666.600_000_000_000_02', 'f64 666.6 with %.17g');
  t.equal(formatF32Bits(0x4426a666), '666.599_975_585_937_5', 'f32 666.6');
  t.equal(formatF32Bits(0x3f800000), '1');
  t.equal(formatF64Bits(0x3ff8000000000000n), '1.5');
  t.equal(formatF64Bits(0x8000000000000000n), '-0');
  t.equal(formatF32Bits(0x7fc00000), 'nan:0x40_0000');
  t.equal(formatF32Bits(0xffa00001 | 0), '-nan:0x20_0001');
  t.equal(formatF64Bits(0x7ff0000000000000n), 'inf');
  // Expected strings: C's printf("%.17g") (checked with Python's %-formatting), then grouped.
  t.equal(formatF64Bits(0x44b52d02c7e14af6n), '9.999_999_999_999_999_2e+22', '1e23');
  t.equal(formatF64Bits(0x3ee4f8b588e368f1n), '1.000_000_000_000_000_1e-05', '1e-5');
  t.equal(formatF64Bits(0x3f1a36e2eb1c432dn), '0.000_1', '1e-4 stays fixed');
  t.equal(formatF64Bits(0x437b69b4ba630f35n), '1.234_567_890_123_456_8e+17');
  t.equal(formatF64Bits(0x3fb999999999999an), '0.100_000_000_000_000_01', '0.1');
  t.equal(formatF64Bits(1n), '4.940_656_458_412_465_4e-324', 'smallest subnormal');
  t.equal(formatF64Bits(0x7fefffffffffffffn), '1.797_693_134_862_315_7e+308', 'largest finite');
});
