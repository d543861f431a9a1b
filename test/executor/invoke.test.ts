// Linking and calling in the executor worker: exact values both ways, output, traps, stack
// overflow, argument checking, FIFO order, memories and globals, the spectest host module; with
// the worker in this process and in an executor host (values cross one more boundary there).

import t from 'tap';
import { Trap, StackOverflow, TypeMismatch } from '../../src/core/errors.ts';
import { ExecutorLinkError } from '../../src/executor/errors.ts';
import { DATA_HANDLE_BASE } from '../../src/executor/protocol.ts';
import { SPECTEST_SYMBOLS } from '../../src/executor/spectest.ts';
import type { FuncType } from '../../src/wasm/types.ts';
import { forEachExecutorKind, i32, i64, link, v } from './helpers.ts';

const opts = { timeoutMs: 5000 };
const fn = (params: FuncType['params'], results: FuncType['results']): FuncType => ({ params, results });
const addrOf = (name: string): number => {
  const s = SPECTEST_SYMBOLS.find((h) => h.name === name);
  if (!s) throw new Error(name);
  return s.addr;
};

forEachExecutorKind(t, async (t, start) => {
  const ex = await start(t);
  await link(
    ex,
    `(module $vals
      (func $id_f32 (export "id_f32") (param f32) (result f32) local.get 0)
      (func (export "id_f64") (param f64) (result f64) local.get 0)
      (func (export "neg_f64") (param f64) (result f64) local.get 0 f64.neg)
      (func (export "nan_f32") (result f32) f32.const -nan:0x123456)
      (func (export "nan_f64") (result f64) f64.const nan:0x4000000000001)
      (func (export "id_i64") (param i64) (result i64) local.get 0)
      (func (export "inc_i64") (param i64) (result i64) local.get 0 i64.const 1 i64.add)
      (func (export "id_v128") (param v128) (result v128) local.get 0)
      (func (export "lanes") (param v128) (result i64 i64) local.get 0 i64x2.extract_lane 0 local.get 0 i64x2.extract_lane 1)
      (func (export "add4") (param v128) (result v128) local.get 0 v128.const i32x4 1 2 3 4 i32x4.add)
      (func (export "rev") (param i32 i64 f32 f64) (result f64 f32 i64 i32) local.get 3 local.get 2 local.get 1 local.get 0)
      (func (export "none"))
    )`,
    { id_f32: 20, id_f64: 21, neg_f64: 22, nan_f32: 23, nan_f64: 24, id_i64: 25, inc_i64: 26, id_v128: 27, lanes: 28, add4: 29, rev: 30, none: 31 },
  );

  t.test('f32 and f64 NaN payloads survive both ways', async (t) => {
    for (const bits of [0x7fa00001, 0xffc00000, 0x7f800001, 0x7fffffff]) {
      const r = await ex.invoke(20, fn(['f32'], ['f32']), [v('f32', String(bits >>> 0))], opts);
      t.same(r.results, [v('f32', String(bits >>> 0))], `f32 ${bits.toString(16)}`);
    }
    for (const bits of ['9218868437227405313', '18444492273895866368', '9221120237041090561']) {
      const r = await ex.invoke(21, fn(['f64'], ['f64']), [v('f64', bits)], opts);
      t.same(r.results, [v('f64', bits)], `f64 ${BigInt(bits).toString(16)}`);
    }
    // f64.neg flips only the sign bit, even of a signalling NaN.
    const neg = await ex.invoke(22, fn(['f64'], ['f64']), [v('f64', String(0x7ff0000000000001n))], opts);
    t.same(neg.results, [v('f64', String(0xfff0000000000001n))]);
    t.same((await ex.invoke(23, fn([], ['f32']), [], opts)).results, [v('f32', String(0xff923456))]);
    t.same((await ex.invoke(24, fn([], ['f64']), [], opts)).results, [v('f64', String(0x7ff4000000000001n))]);
  });

  t.test('i64 extremes', async (t) => {
    for (const n of [0n, 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n]) {
      const r = await ex.invoke(25, fn(['i64'], ['i64']), [i64(n)], opts);
      t.same(r.results, [i64(n)], n.toString());
    }
    const wrapped = await ex.invoke(26, fn(['i64'], ['i64']), [v('i64', '18446744073709551615')], opts);
    t.same(wrapped.results, [v('i64', '0')], 'wraps at 2^64');
    const signed = await ex.invoke(25, fn(['i64'], ['i64']), [v('i64', '-1')], opts);
    t.same(signed.results, [v('i64', '18446744073709551615')], 'signed input, unsigned output');
  });

  t.test('v128 in little-endian hex', async (t) => {
    const hex = '00112233445566778899aabbccddeeff';
    t.same((await ex.invoke(27, fn(['v128'], ['v128']), [v('v128', hex)], opts)).results, [v('v128', hex)]);
    t.same((await ex.invoke(28, fn(['v128'], ['i64', 'i64']), [v('v128', hex)], opts)).results, [
      i64(0x7766554433221100n),
      i64(0xffeeddccbbaa9988n),
    ]);
    t.same((await ex.invoke(29, fn(['v128'], ['v128']), [v('v128', '00'.repeat(16))], opts)).results, [
      v('v128', '01000000020000000300000004000000'),
    ]);
  });

  t.test('multi-value results in order, exact', async (t) => {
    const args = [i32(-7), i64(-(1n << 63n)), v('f32', String(0x7fa00001)), v('f64', String(0xfff8000000000123n))];
    const r = await ex.invoke(30, fn(['i32', 'i64', 'f32', 'f64'], ['f64', 'f32', 'i64', 'i32']), args, opts);
    t.same(r.results, [...args].reverse());
    t.same((await ex.invoke(31, fn([], []), [], opts)).results, [], 'no results');
  });

  t.test('references', async (t) => {
    await link(
      ex,
      `(module $refs
        (type $bin (func (param i32 i32) (result i32)))
        (table $t 1 funcref)
        (global $kept (mut externref) (ref.null extern))
        (func $add (export "add") (type $bin) local.get 0 local.get 1 i32.add)
        (func $private (param i32 i32) (result i32) local.get 0 local.get 1 i32.sub)
        (func (export "ext") (param externref) (result externref) local.get 0)
        (func (export "keep") (param externref) local.get 0 global.set $kept)
        (func (export "kept") (result externref) global.get $kept)
        (func (export "ref_add") (result funcref) ref.func $add)
        (func (export "ref_private") (result funcref) ref.func $private)
        (func (export "call_ref") (param funcref i32 i32) (result i32)
          i32.const 0 local.get 0 table.set $t
          local.get 1 local.get 2 i32.const 0 call_indirect $t (type $bin))
        (elem declare func $add $private)
      )`,
      { add: 40, ext: 41, keep: 42, kept: 43, ref_add: 44, ref_private: 45, call_ref: 46 },
    );
    const ext = fn(['externref'], ['externref']);
    t.same((await ex.invoke(41, ext, [v('externref', '7')], opts)).results, [v('externref', '7')]);
    t.same((await ex.invoke(41, ext, [v('externref', null)], opts)).results, [v('externref', null)]);
    await ex.invoke(42, fn(['externref'], []), [v('externref', 'hello')], opts);
    t.same((await ex.invoke(43, fn([], ['externref']), [], opts)).results, [v('externref', 'hello')], 'kept across calls');

    const ref = (await ex.invoke(44, fn([], ['funcref']), [], opts)).results[0];
    t.same(ref, v('funcref', 'funcref:40'), 'named by its slot');
    const callRef = fn(['funcref', 'i32', 'i32'], ['i32']);
    t.same((await ex.invoke(46, callRef, [ref ?? v('funcref', null), i32(2), i32(3)], opts)).results, [i32(5)]);
    const anon = (await ex.invoke(45, fn([], ['funcref']), [], opts)).results[0];
    t.match(anon?.bits, /^funcref:anon\d+$/, 'a function in no slot gets an interned name');
    t.same((await ex.invoke(46, callRef, [anon ?? v('funcref', null), i32(2), i32(3)], opts)).results, [i32(-1)]);
    await t.rejects(ex.invoke(46, callRef, [v('funcref', 'funcref:99999'), i32(1), i32(1)], opts), TypeMismatch);
  });

  t.test('print output is captured per call, formatted like the reference interpreter', async (t) => {
    await link(
      ex,
      `(module $printer
        (import "spectest" "print_i32" (func $pi (param i32)))
        (import "spectest" "print_f32" (func $pf (param f32)))
        (import "spectest" "print_f64_f64" (func $pff (param f64 f64)))
        (import "spectest" "print" (func $p))
        (import "spectest" "global_f32" (global $g f32))
        (func (export "run") (param i32)
          local.get 0 call $pi
          global.get $g call $pf
          f64.const 1.5 f64.const -nan:0x1 call $pff
          call $p))`,
      { run: 50 },
      [
        ...['print_i32', 'print_f32', 'print_f64_f64', 'print'].map((name) => ({ module: 'spectest', name, kind: 'function' as const, addr: addrOf(name) })),
        { module: 'spectest', name: 'global_f32', kind: 'global', addr: addrOf('global_f32') },
      ],
    );
    const r = await ex.invoke(50, fn(['i32'], []), [i32(42)], opts);
    t.same(r.output, ['42 : i32', '666.599_975_585_937_5 : f32', '1.5 : f64, -nan:0x1 : f64', '']);
    t.same((await ex.invoke(50, fn(['i32'], []), [i32(-1234)], opts)).output[0], '-1_234 : i32', 'a fresh output per call');
    t.ok(r.runMs >= 0 && r.runMs < 1000, 'runMs measured');
  });

  t.test('traps keep V8 message and name the wasm functions on the stack', async (t) => {
    await link(
      ex,
      `(module $traps
        (import "spectest" "print_i32" (func $pi (param i32)))
        (memory 1)
        (func $div (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
        (func $outer (export "outer") (param i32) (result i32) local.get 0 call $pi local.get 0 i32.const 0 call $div)
        (func $oob (export "oob") (result i32) i32.const 70000 i32.load)
        (func $unreachable (export "unreachable") unreachable)
        (func $rec (export "rec") (param i32) (result i32) local.get 0 i32.const 1 i32.add call $rec))`,
      { div: 60, outer: 61, oob: 62, unreachable: 63, rec: 64 },
      [{ module: 'spectest', name: 'print_i32', kind: 'function', addr: addrOf('print_i32') }],
    );
    const err = await ex.invoke(61, fn(['i32'], ['i32']), [i32(9)], opts).catch((e: unknown) => e);
    t.type(err, Trap);
    const trap = err as Trap;
    t.equal(trap.trap, 'divide by zero');
    t.same(trap.wasmStack, ['div', 'outer'], 'innermost first, no glue frames');
    t.same(trap.output, ['9 : i32'], 'output printed before the trap');
    await t.rejects(ex.invoke(62, fn([], ['i32']), [], opts), { code: 'Trap', trap: 'memory access out of bounds', wasmStack: ['oob'] });
    await t.rejects(ex.invoke(63, fn([], []), [], opts), { code: 'Trap', trap: 'unreachable', wasmStack: ['unreachable'] });

    const so = await ex.invoke(64, fn(['i32'], ['i32']), [i32(0)], opts).catch((e: unknown) => e);
    t.type(so, StackOverflow);
    t.ok((so as StackOverflow).wasmStack.length > 10 && (so as StackOverflow).wasmStack.every((n) => n === 'rec'), 'recursion frames named');
    t.same((await ex.invoke(60, fn(['i32', 'i32'], ['i32']), [i32(7), i32(2)], opts)).results, [i32(3)], 'worker fine after overflow');
  });

  t.test('argument and signature checking', async (t) => {
    const add = fn(['i32', 'i32'], ['i32']);
    await t.rejects(ex.invoke(40, add, [i32(1)], opts), TypeMismatch, 'too few');
    await t.rejects(ex.invoke(40, add, [i32(1), i32(2), i32(3)], opts), TypeMismatch, 'too many');
    await t.rejects(ex.invoke(40, add, [i32(1), i64(2n)], opts), TypeMismatch, 'wrong type');
    await t.rejects(ex.invoke(40, add, [i32(1), v('i32', 'x')], opts), TypeMismatch, 'bad bits');
    await t.rejects(ex.invoke(40, fn(['i32'], ['i32']), [i32(1)], opts), { code: 'TypeMismatch', message: /does not have type/ });
    await t.rejects(ex.invoke(9999, fn([], []), [], opts), { code: 'TypeMismatch', message: /holds no function/ });
    t.same((await ex.invoke(40, add, [i32(1), i32(2)], opts)).results, [i32(3)]);
  });

  t.test('link failures place nothing', async (t) => {
    const bad = link(ex, `(module (import "env" "f" (func)) (func (export "g")))`, { g: 70 }, [
      { module: 'env', name: 'f', kind: 'function', addr: 12345 },
    ]);
    await t.rejects(bad, ExecutorLinkError);
    await t.rejects(link(ex, `(module (func (export "g")))`, { nope: 71 }), { message: /no function export named "nope"/ });
    await t.rejects(ex.invoke(70, fn([], []), [], opts), TypeMismatch, 'slot stayed empty');

    await t.rejects(
      link(
        ex,
        `(module (import "spectest" "print_i32" (func $p (param i32))) (func $s i32.const 5 call $p unreachable) (start $s) (func (export "h")))`,
        { h: 72 },
        [{ module: 'spectest', name: 'print_i32', kind: 'function', addr: addrOf('print_i32') }],
      ),
      { code: 'Trap', trap: 'unreachable', output: ['5 : i32'] },
      'a trapping start function fails the op, with its output',
    );
    await t.rejects(ex.invoke(72, fn([], []), [], opts), TypeMismatch);
  });

  t.test('requests run one at a time, in FIFO order', async (t) => {
    await link(
      ex,
      `(module $fifo
        (global $n (mut i32) (i32.const 0))
        (func (export "next") (result i32) global.get $n global.get $n i32.const 1 i32.add global.set $n)
        (func (export "busy") (param i32) (result i32) (local i32)
          (loop $l local.get 1 i32.const 1 i32.add local.tee 1 local.get 0 i32.lt_u br_if $l)
          global.get $n))`,
      { next: 80, busy: 81 },
    );
    const order: string[] = [];
    const calls: Promise<unknown>[] = [ex.invoke(81, fn(['i32'], ['i32']), [i32(30_000_000)], opts).then(() => order.push('busy'))];
    for (let i = 0; i < 20; i++) {
      calls.push(ex.invoke(80, fn([], ['i32']), [], opts).then((r) => order.push(`next=${r.results[0]?.bits}`)));
    }
    await Promise.all(calls);
    t.same(order, ['busy', ...Array.from({ length: 20 }, (_, i) => `next=${i}`)]);
  });

  t.test('memories and globals', async (t) => {
    const mem = DATA_HANDLE_BASE + 100;
    const glob = DATA_HANDLE_BASE + 101;
    await link(
      ex,
      `(module $data
        (memory (export "mem") 1 3)
        (data (i32.const 0) "hello")
        (global (export "nan") (mut f32) (f32.const nan:0x200001))
        (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u))`,
      { mem, nan: glob, load: 90 },
      [],
      { mem: 'memory', nan: 'global' },
    );
    const read = await ex.readMemory(mem, 0, 5);
    t.equal(Buffer.from(read.bytes).toString(), 'hello');
    t.equal(read.pages, 1);
    t.equal((await ex.readMemory(mem, 65530)).bytes.length, 6, 'length defaults to the rest');
    await ex.writeMemory(mem, 8, new Uint8Array([1, 2, 3]));
    t.same((await ex.invoke(90, fn(['i32'], ['i32']), [i32(9)], opts)).results, [i32(2)]);
    await t.rejects(ex.readMemory(mem, 65535, 2), RangeError);
    await t.rejects(ex.readMemory(glob, 0, 1), TypeMismatch);

    t.same(await ex.readGlobal(glob, { type: 'f32', mutable: true }), v('f32', String(0x7fa00001)), 'exact NaN bits');
    await t.rejects(ex.readGlobal(glob, { type: 'f32', mutable: false }), TypeMismatch, 'wrong global type');
  });

  t.test('spectest host module', async (t) => {
    t.same(
      ex.hostSymbols().map((s) => s.name),
      ['print', 'print_i32', 'print_i64', 'print_f32', 'print_f64', 'print_i32_f32', 'print_f64_f64', 'global_i32', 'global_i64', 'global_f32', 'global_f64', 'table', 'memory'],
    );
    t.same(await ex.readGlobal(addrOf('global_i32'), { type: 'i32', mutable: false }), i32(666));
    t.same(await ex.readGlobal(addrOf('global_i64'), { type: 'i64', mutable: false }), i64(666n));
    t.same(await ex.readGlobal(addrOf('global_f32'), { type: 'f32', mutable: false }), v('f32', String(0x4426a666)));
    t.same(await ex.readGlobal(addrOf('global_f64'), { type: 'f64', mutable: false }), v('f64', String(0x4084d4cccccccccdn)));
    t.equal((await ex.readMemory(addrOf('memory'), 0)).pages, 1);

    // The table (10, max 20) and memory (1, max 2) link with matching import limits; print
    // functions can be stored in the table and called through it.
    await link(
      ex,
      `(module
        (import "spectest" "table" (table $t 10 20 funcref))
        (import "spectest" "memory" (memory 1 2))
        (import "spectest" "print_i64" (func $p (param i64)))
        (func (export "go") (result i32)
          i32.const 3 ref.func $p table.set $t
          i64.const -5 i32.const 3 call_indirect $t (param i64)
          table.size $t)
        (elem declare func $p))`,
      { go: 95 },
      [
        { module: 'spectest', name: 'table', kind: 'table', addr: addrOf('table') },
        { module: 'spectest', name: 'memory', kind: 'memory', addr: addrOf('memory') },
        { module: 'spectest', name: 'print_i64', kind: 'function', addr: addrOf('print_i64') },
      ],
    );
    const r = await ex.invoke(95, fn([], ['i32']), [], opts);
    t.same(r.results, [i32(10)]);
    t.same(r.output, ['-5 : i64']);
  });
});
