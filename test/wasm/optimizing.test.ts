// binaryen's two jobs (optimizing.ts), as the optimizer thread runs them: watToBinary (WAT to a
// binary with its names, bad text as InvalidModule with binaryen's messages, printed nowhere)
// and optimizeBinary (the output validates and computes what the input does, imports kept or
// dropped as asked, declarative segments survive, and what binaryen cannot handle throws rather
// than yielding a module V8 refuses).

import t from 'tap';
import { displayName } from '../../src/wasm/index.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { optimizeBinary, watToBinary } from '../../src/wasm/optimizing.ts';
import { instantiateDirect, invalidDiagnostics, silently, wat2wasm, type Imports } from './helpers.ts';

type Fn = (...args: unknown[]) => unknown;

t.test('watToBinary: a binary V8 accepts, with the WAT names in its name section', async (tt) => {
  const bytes = watToBinary('(module (func $helper (result i32) i32.const 2) (func $main (export "run") (result i32) call $helper))');
  tt.ok(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>));
  const binary = decodeModuleBinary(bytes);
  tt.same([0, 1].map((i) => displayName(binary, i)), ['helper', 'main']);
  tt.equal((instantiateDirect(bytes).exports['run'] as Fn)(), 2);
});

t.test('bad WAT is InvalidModule with the parser or validator messages, printed nowhere', async (tt) => {
  const cases: [string, RegExp][] = [
    ['(module (func $f (result i32) i32.const 1))) trailing', /error/i],
    ['(module (func (result i32) (i32.add (i32.const 1))))', /stack|pop/i],
    ['(module (global $g i32 (i32.const 0)) (func (global.set $g (i32.const 1))))', /wasm-validator error[^]*global\.set[^]*mutable/],
    ['(module (func $f (result i32) (i64.const 1)))', /wasm-validator error/],
    ['(module (func', /./],
    ['(module (memory 1) (memory 1))', /multi/i],
  ];
  for (const [wat, pattern] of cases) {
    const { value, printed } = await silently(() => invalidDiagnostics(() => watToBinary(wat)));
    tt.match(value, pattern, `diagnostics for ${JSON.stringify(wat)}`);
    tt.equal(printed, '', `nothing printed for ${JSON.stringify(wat)}`);
  }
  tt.ok(WebAssembly.validate(watToBinary('(module)') as Uint8Array<ArrayBuffer>), 'binaryen still works afterwards');
});

const WORK = `(module
  (import "env" "log" (func $log (param i32)))
  (import "env" "unused" (func $unused (param i64)))
  (import "env" "base" (global $base i32))
  (memory (export "mem") 1 2)
  (global $acc (mut i64) (i64.const 0))
  (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func $sumsq (export "sumsq") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i32.add (local.get $s) (call $sq (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.add (local.get $s) (global.get $base)))
  (func $fill (export "fill") (param $n i32) (result i32) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 (local.get $i) (call $sq (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $log (local.get $n))
    (i32.load (i32.const 4)))
  (func $acc (export "acc") (param i64) (result i64)
    (global.set $acc (i64.add (global.get $acc) (i64.mul (local.get 0) (i64.const 3))))
    (global.get $acc))
  (func $grow (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func $div (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $nan (export "nan") (param f64) (result f64) (f64.add (local.get 0) (f64.const 1)))
)`;

const CALLS: [string, unknown[]][] = [
  ['sumsq', [10]],
  ['sumsq', [0]],
  ['fill', [40]],
  ['acc', [5n]],
  ['acc', [-9n]],
  ['grow', [1]],
  ['grow', [1]],
  ['div', [-7, 2]],
  ['div', [1, 0]],
  ['nan', [2.5]],
];

function outcomes(bytes: Uint8Array): { results: unknown[]; log: number[]; memory: number[] } {
  const log: number[] = [];
  const imports: Imports = {
    env: { log: (x: number) => void log.push(x), unused: () => {}, base: new WebAssembly.Global({ value: 'i32' }, 1000) },
  };
  const exports = instantiateDirect(bytes, imports).exports;
  const results = CALLS.map(([name, args]) => {
    try {
      return (exports[name] as Fn)(...args);
    } catch (e) {
      return e instanceof WebAssembly.RuntimeError ? `trap: ${e.message}` : e;
    }
  });
  return { results, log, memory: [...new Uint8Array((exports['mem'] as WebAssembly.Memory).buffer, 0, 64)] };
}

t.test('optimizeBinary: the output validates and computes the same at every level', async (tt) => {
  const input = watToBinary(WORK);
  const expected = outcomes(input);
  tt.equal(expected.results[0], 1000 + 285, 'sumsq(10) = 0² + ... + 9², plus the base');
  tt.equal(expected.results[8], 'trap: divide by zero');
  for (const level of [1, 2, 3, 4]) {
    const out = optimizeBinary(input, { level, keepImports: true });
    tt.ok(WebAssembly.validate(out as Uint8Array<ArrayBuffer>), `level ${level}: V8 validates the output`);
    tt.same(outcomes(out), expected, `level ${level}: the same results, host calls and memory`);
  }
});

t.test('optimizeBinary keeps every import when asked, and otherwise may drop the unused ones', async (tt) => {
  const input = watToBinary(WORK);
  const names = (bytes: Uint8Array) =>
    WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>))
      .map((i) => `${i.module}.${i.name}:${i.kind}`)
      .sort();
  const all = names(input);
  tt.same(names(optimizeBinary(input, { level: 3, keepImports: true })), all, 'kept: linking checks what instantiation would');
  const dropped = names(optimizeBinary(input, { level: 3, keepImports: false }));
  tt.notOk(dropped.includes('env.unused:function'), 'the unused function import is gone');
  tt.ok(dropped.every((i) => all.includes(i)), 'nothing is imported that was not before');
});

t.test('optimizeBinary: a declarative element segment survives (table.init from it acts on a dropped segment)', async (tt) => {
  // elem.wast's "implicitly dropped elements", which binaryen alone would refuse to read.
  const bytes = wat2wasm(`(module (table 10 funcref) (elem $e declare func $f) (func $f)
    (func (export "init") (param i32) (table.init $e (i32.const 0) (i32.const 0) (local.get 0)))
    (func (export "isNull") (result i32) (ref.is_null (ref.func $f))))`);
  tt.same(
    decodeModuleBinary(bytes).elements.map((e) => e.mode),
    ['declarative'],
  );
  for (const [label, b] of [
    ['as written', bytes],
    ['optimized', optimizeBinary(bytes, { level: 2, keepImports: true })],
  ] as const) {
    const x = instantiateDirect(b).exports;
    tt.doesNotThrow(() => (x['init'] as Fn)(0), `${label}: an empty init succeeds`);
    tt.throws(() => (x['init'] as Fn)(1), WebAssembly.RuntimeError, `${label}: any other traps`);
    tt.equal((x['isNull'] as Fn)(), 0, `${label}: ref.func still works`);
  }
});

t.test('optimizeBinary throws on what binaryen cannot handle instead of returning it', async (tt) => {
  const twoMemories = wat2wasm('(module (memory 1) (memory 1) (func (export "f") (result i32) i32.const 0 i32.load 1))', ['--enable-multi-memory']);
  tt.ok(WebAssembly.validate(twoMemories as Uint8Array<ArrayBuffer>), 'V8 accepts two memories');
  const { value: error, printed } = await silently(() => {
    try {
      optimizeBinary(twoMemories, { level: 2, keepImports: true });
      return null;
    } catch (e) {
      return e;
    }
  });
  tt.type(error, Error, 'it throws');
  tt.match((error as Error).message, /does not validate|V8/, 'saying why');
  tt.equal(printed, '', 'nothing printed');
  tt.equal((instantiateDirect(twoMemories).exports['f'] as Fn)(), 0, 'the module itself runs: callers keep it unoptimized');
});
