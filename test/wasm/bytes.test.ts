// ByteWriter's encodings read back through ByteReader (and, for names, TextDecoder): signed
// LEB128 at the edges of i32, unsigned LEB128 read back (padded and overlong too), LEB sizes, names on the ASCII fast path and off it, copied ranges.

import t from 'tap';
import { ByteReader, ByteWriter, u32Size } from '../../src/wasm/bytes.ts';

t.test('s32 writes signed LEB128 that reads back, in the fewest bytes', async (tt) => {
  const values = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8193, 2 ** 31 - 1, -(2 ** 31), 123456789, -987654321];
  for (const v of values) {
    const bytes = new ByteWriter().s32(v).finish();
    const r = new ByteReader(bytes);
    tt.equal(r.s33(), v, `${v}`);
    tt.ok(r.atEnd());
    // The shortest encoding: 7 bits per byte hold a value in [-2^(7n-1), 2^(7n-1)).
    let n = 1;
    while (!(v >= -(2 ** (7 * n - 1)) && v < 2 ** (7 * n - 1))) n++;
    tt.equal(bytes.length, n, `${v} in ${n} bytes`);
  }
  tt.same([...new ByteWriter().s32(2 ** 32 + 5).finish()], [5], 'wraps to 32 bits like i32.const');
});

t.test('u32Size is the length u32 writes', async (tt) => {
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1]) {
    tt.equal(u32Size(v), new ByteWriter().u32(v).finish().length, `${v}`);
  }
});

t.test('u32 reads unsigned LEB128 back at every length, padded encodings too, and refuses more than 32 bits', async (tt) => {
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 0xdeadbeef, 2 ** 32 - 1]) {
    const r = new ByteReader(new ByteWriter().u32(v).u8(0xbb).finish());
    tt.equal(r.u32(), v, `${v}`);
    tt.equal(r.u8(), 0xbb, 'stops after its last byte');
  }
  tt.equal(new ByteReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x00)).u32(), 0, 'zero padded to five bytes');
  tt.equal(new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)).u32(), 2 ** 32 - 1, 'the largest, in five bytes');
  tt.equal(new ByteReader(Uint8Array.of(0x85, 0x80, 0x00)).u32(), 5, 'padded to three bytes');
  tt.throws(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f)).u32(), { name: 'MalformedBinary', message: /overflow/ }, 'a 33rd bit');
  tt.throws(() => new ByteReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00)).u32(), { name: 'MalformedBinary' }, 'a sixth byte');
  tt.throws(() => new ByteReader(Uint8Array.of(0x80, 0x80)).u32(), { name: 'MalformedBinary' }, 'cut short');
});

t.test('names: ASCII written directly, anything else as UTF-8, both read back', async (tt) => {
  const names = ['', 'f', 'function:12', 'a'.repeat(127), 'b'.repeat(128), 'é', 'abcé', 'x\u{1F600}y', '\uFEFFbom', 'a\u0000b'];
  for (const name of names) {
    const w = new ByteWriter(4).u8(0xaa).name(name).u8(0xbb);
    const bytes = w.finish();
    const r = new ByteReader(bytes);
    tt.equal(r.u8(), 0xaa);
    tt.equal(r.name(), name, JSON.stringify(name));
    tt.equal(r.u8(), 0xbb, 'nothing written past the name');
    tt.ok(r.atEnd());
    tt.equal(bytes.length, 2 + u32Size(Buffer.byteLength(name)) + Buffer.byteLength(name));
  }
});

t.test('range copies what bytes(subarray) would, short or long', async (tt) => {
  const src = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff);
  for (const [start, end] of [
    [0, 0],
    [3, 4],
    [10, 42],
    [10, 43],
    [0, 200],
  ] as const) {
    tt.same(new ByteWriter(1).u8(9).range(src, start, end).finish(), new ByteWriter(1).u8(9).bytes(src.subarray(start, end)).finish(), `[${start}, ${end})`);
  }
});
