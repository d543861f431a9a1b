// The instruction scanner: immediates of every shape are skipped exactly (bytes that look like
// `end` inside constants, LEBs, lanes), and references, segment use and function index sites
// are reported.

import t from 'tap';
import { scanBody, scanConstExpr } from '../../src/wasm/codeScan.ts';

const END = 0x0b;

t.test('a body with every kind of immediate', async (tt) => {
  // prettier-ignore
  const instrs: number[][] = [
    [0x02, 0x40],                         // block
    [0x03, 0x7f],                         // loop (result i32)
    [0x41, 0x0b],                         // i32.const 11: an immediate that looks like `end`
    [0x0d, 0x00],                         // br_if 0
    [END],                                // end loop
    [0x1a],                               // drop
    [END],                                // end block
    [0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], // i64.const, 10-byte LEB
    [0x1a],
    [0x44, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b],            // f64.const
    [0x1a],
    [0x10, 0x85, 0x01],                   // call 133
    [0x12, 0x03],                         // return_call 3
    [0xd2, 0x07],                         // ref.func 7
    [0x1a],
    [0x23, 0x02],                         // global.get 2
    [0x24, 0x05],                         // global.set 5
    [0x25, 0x01],                         // table.get 1
    [0x11, 0x00, 0x02],                   // call_indirect type 0 table 2
    [0x28, 0x02, 0x10],                   // i32.load align=4 offset=16
    [0x3f, 0x00],                         // memory.size
    [0x0e, 0x02, 0x00, 0x01, 0x00],       // br_table 0 1 default 0
    [0x1c, 0x01, 0x7f],                   // select (result i32)
    [0xfd, 0x0c, ...Array(16).fill(0x0b)], // v128.const
    [0xfd, 0x0d, ...Array(16).fill(0x0b)], // i8x16.shuffle
    [0xfd, 0x15, 0x03],                   // i8x16.extract_lane_s 3
    [0xfd, 0x54, 0x00, 0x00, 0x01],       // v128.load8_lane memarg lane 1
    [0xfd, 0x80, 0x02],                   // i8x16.relaxed_swizzle (0x100)
    [0xfc, 0x11, 0x01],                   // table.fill 1
    [0xfc, 0x0a, 0x00, 0x00],             // memory.copy
    [0xfc, 0x02],                         // i32.trunc_sat_f64_s
    [0xfe, 0x03, 0x00],                   // atomic.fence
    [0xfe, 0x10, 0x02, 0x00],             // i32.atomic.load
    [0xd0, 0x70],                         // ref.null func
    [0xd1],                               // ref.is_null
    [0xc0],                               // i32.extend8_s
    [END],
  ];
  const prefix = [0xaa, 0xbb]; // the scanner reports absolute offsets
  const bytes = new Uint8Array([...prefix, ...instrs.flat()]);
  const refs = scanBody(bytes, prefix.length, bytes.length);
  tt.equal(refs.instructions, instrs.length);
  tt.equal(refs.end, bytes.length);
  tt.same(refs.functions, [133, 3, 7]);
  tt.same(refs.refFuncs, [7]);
  tt.same(refs.globals, [2, 5]);
  tt.same([...refs.tables].sort(), [1, 2]);
  tt.same(refs.memories, [0]);
  tt.equal(refs.usesSegments, false);
  const offsetOf = (k: number) => prefix.length + instrs.slice(0, k).flat().length + 1;
  tt.same(refs.functionSites, [
    { offset: offsetOf(11), length: 2, index: 133 },
    { offset: offsetOf(12), length: 1, index: 3 },
    { offset: offsetOf(13), length: 1, index: 7 },
  ]);
});

t.test('segment instructions are reported', async (tt) => {
  // memory.init 1 0, data.drop 1, table.init 4 0, elem.drop 4, end
  const bytes = new Uint8Array([0xfc, 0x08, 0x01, 0x00, 0xfc, 0x09, 0x01, 0xfc, 0x0c, 0x04, 0x00, 0xfc, 0x0d, 0x04, END]);
  const refs = scanBody(bytes, 0, bytes.length);
  tt.equal(refs.usesSegments, true);
  tt.same(refs.dataSegments, [1]);
  tt.same(refs.elemSegments, [4]);
  tt.same(refs.memories, [0]);
  tt.same(refs.tables, [0]);
});

t.test('constant expressions stop at their end', async (tt) => {
  const bytes = new Uint8Array([0x41, 0x0b, END, 0xd2, 0xac, 0x02, END, 0x23, 0x01, 0x41, 0x04, 0x6a, END, 0xff]);
  const a = scanConstExpr(bytes, 0);
  tt.equal(a.end, 3);
  const b = scanConstExpr(bytes, 3);
  tt.equal(b.end, 7);
  tt.same(b.functionSites, [{ offset: 4, length: 2, index: 300 }]);
  const c = scanConstExpr(bytes, 7);
  tt.equal(c.end, 13);
  tt.same(c.globals, [1]);
});

t.test('unknown instructions and bodies that run past their end are rejected', async (tt) => {
  tt.throws(() => scanBody(new Uint8Array([0xfb, 0x00, END]), 0, 3), { name: 'MalformedBinary' });
  tt.throws(() => scanBody(new Uint8Array([0x41]), 0, 1), { name: 'MalformedBinary' });
  tt.throws(() => scanBody(new Uint8Array([END, 0x01]), 0, 2), { name: 'MalformedBinary' });
});

t.test('grow sites: the offset of each memory.grow opcode and of each table.grow prefix, in body order', async (tt) => {
  // prettier-ignore
  const instrs: number[][] = [
    [0x41, 0x40],                         // i32.const 64: an immediate that looks like memory.grow
    [0x40, 0x00],                         // memory.grow 0
    [0x1a],                               // drop
    [0xd0, 0x70],                         // ref.null func
    [0x41, 0x01],                         // i32.const 1
    [0xfc, 0x0f, 0x02],                   // table.grow 2
    [0x1a],
    [0xfc, 0x10, 0x01],                   // table.size 1: not a grow
    [0xd0, 0x70],
    [0x41, 0x7c],                         // i32.const -4
    [0xfc, 0x8f, 0x00, 0x03],             // table.grow 3, its opcode as a 2-byte LEB
    [0x6a],                               // i32.add
    [0x1a],
    [END],
  ];
  const prefix = [0xfc, 0x0f]; // bytes before the body that look like a table.grow
  const bytes = new Uint8Array([...prefix, ...instrs.flat()]);
  const refs = scanBody(bytes, prefix.length, bytes.length);
  const offsetOf = (k: number) => prefix.length + instrs.slice(0, k).flat().length;
  tt.same(refs.memoryGrowSites, [offsetOf(1)]);
  tt.same(refs.tableGrowSites, [offsetOf(5), offsetOf(10)]);
  tt.same([...refs.tables].sort(), [1, 2, 3]);
});
