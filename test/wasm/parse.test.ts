// parseModule: WAT and binary input, the ModuleInfo it builds, rejection of bad input with
// diagnostics (and without printing or crashing), and the memory cap.

import t from 'tap';
import { InvalidModule, ResourceExhausted } from '../../src/core/errors.ts';
import { parseModule, type ParsedModule } from '../../src/wasm/index.ts';
import { instantiateDirect } from './helpers.ts';
import { watBytes } from '../executor/helpers.ts';

const WAT = `(module
  (type $bin (func (param i32 i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (import "env" "counter" (global $counter (mut i64)))
  (import "env" "mem" (memory 1 4))
  (import "env" "tab" (table 2 funcref))
  (global $g (mut i32) (i32.const 7))
  (global $ext externref (ref.null extern))
  (table $refs 3 10 externref)
  (data "abc")
  (elem (i32.const 0) func $add)
  (func $add (export "add") (type $bin) local.get 0 local.get 1 i32.add)
  (func $pair (export "pair") (param i64) (result i64 f64) local.get 0 f64.const 1.5)
  (func $init (i32.const 0) (i32.const 0) (i32.const 3) memory.init 0)
  (func $boot i32.const 1 call $log)
  (start $boot)
  (export "g" (global $g))
  (export "refs" (table $refs))
  (export "mem" (memory 0))
)`;

/** Runs fn, which must throw InvalidModule with non-empty string diagnostics; returns them joined. */
function invalidDiagnostics(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof InvalidModule)) throw e;
    if (e.diagnostics.length === 0 || !e.diagnostics.every((d) => typeof d === 'string' && d.length > 0)) {
      throw new Error(`InvalidModule without usable diagnostics: ${JSON.stringify(e.diagnostics)}`);
    }
    return e.diagnostics.join('\n');
  }
  throw new Error('accepted');
}

/** Runs fn with stdout/stderr writes recorded, to check nothing leaks onto the console. */
function silently<T>(fn: () => T): { value: T; printed: string } {
  const out = process.stdout.write;
  const err = process.stderr.write;
  let printed = '';
  const rec = ((chunk: unknown) => {
    printed += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = rec;
  process.stderr.write = rec;
  try {
    return { value: fn(), printed };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

t.test('WAT: info describes imports, exports, functions, globals, memories, tables, start', async (tt) => {
  const m = parseModule({ wat: WAT });
  t.teardown(() => m.dispose());
  const { info } = m;
  tt.same(
    info.imports.map(({ module, name, kind, index }) => ({ module, name, kind, index })).sort((a, b) => a.name.localeCompare(b.name)),
    [
      { module: 'env', name: 'counter', kind: 'global', index: 0 },
      { module: 'env', name: 'log', kind: 'function', index: 0 },
      { module: 'env', name: 'mem', kind: 'memory', index: 0 },
      { module: 'env', name: 'tab', kind: 'table', index: 0 },
    ],
  );
  const imp = (name: string) => info.imports.find((i) => i.name === name)!.type;
  tt.same(imp('log'), { params: ['i32'], results: [] });
  tt.same(imp('counter'), { type: 'i64', mutable: true });
  tt.same(imp('mem'), { initial: 1, maximum: 4 });
  tt.same(imp('tab'), { elementType: 'funcref', initial: 2 });

  const exp = Object.fromEntries(info.exports.map((e) => [e.name, e]));
  tt.same(exp['add'], { name: 'add', kind: 'function', index: 1, type: { params: ['i32', 'i32'], results: ['i32'] } });
  tt.same(exp['pair']!.type, { params: ['i64'], results: ['i64', 'f64'] });
  tt.same(exp['g'], { name: 'g', kind: 'global', index: 1, type: { type: 'i32', mutable: true } });
  tt.same(exp['refs'], { name: 'refs', kind: 'table', index: 1, type: { elementType: 'externref', initial: 3, maximum: 10 } });
  tt.same(exp['mem'], { name: 'mem', kind: 'memory', index: 0, type: { initial: 1, maximum: 4 } });

  tt.same(
    info.functions.map((f) => [f.index, f.name, f.imported, f.usesSegments]),
    [
      [0, 'log', true, false],
      [1, 'add', false, false],
      [2, 'pair', false, false],
      [3, 'init', false, true],
      [4, 'boot', false, false],
    ],
  );
  tt.equal(info.functions[1]!.size, 4, 'add: local.get, local.get, i32.add, end');
  tt.same(JSON.parse(JSON.stringify(info.functions[3])).usesSegments, true, 'lazy facts survive JSON');
  tt.same(
    info.globals.map((g) => [g.index, g.type.type, g.type.mutable, g.imported]),
    [
      [0, 'i64', true, true],
      [1, 'i32', true, false],
      [2, 'externref', false, false],
    ],
  );
  tt.same(info.memories, [{ index: 0, type: { initial: 1, maximum: 4 }, imported: true }]);
  tt.same(
    info.tables.map((x) => [x.index, x.type.elementType, x.imported]),
    [
      [0, 'funcref', true],
      [1, 'externref', false],
    ],
  );
  tt.equal(info.start, 4);
  tt.same(m.functionsUsingSegments(), [3]);
  tt.same(m.references(4).functions, [0], 'boot calls log');
  tt.ok(WebAssembly.validate(m.bytes as Uint8Array<ArrayBuffer>), 'binary of record is valid for V8');
});

t.test('binary input: same info as the WAT it came from; caller may reuse its buffer', async (tt) => {
  const fromWat = parseModule({ wat: WAT });
  const buffer = new Uint8Array(fromWat.bytes);
  const fromWasm = parseModule({ wasm: buffer });
  t.teardown(() => {
    fromWat.dispose();
    fromWasm.dispose();
  });
  tt.same(JSON.parse(JSON.stringify(fromWasm.info)), JSON.parse(JSON.stringify(fromWat.info)));
  buffer.fill(0);
  tt.ok(WebAssembly.validate(fromWasm.bytes as Uint8Array<ArrayBuffer>), 'parsed module kept its own copy');
});

t.test('binary without a name section gets binaryen names and correct indices', async (tt) => {
  // (module (func (result i32) i32.const 1) (func (export "two") (result i32) call 0 i32.const 1 i32.add))
  const bytes = new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 3, 2, 0, 0, 7, 7, 1, 3, 0x74, 0x77, 0x6f, 0, 1, 10, 14, 2, 4, 0, 0x41,
    1, 0x0b, 7, 0, 0x10, 0, 0x41, 1, 0x6a, 0x0b,
  ]);
  tt.ok(WebAssembly.validate(bytes), 'hand-written binary is valid');
  const m = parseModule({ wasm: bytes });
  t.teardown(() => m.dispose());
  tt.equal(m.info.functions.length, 2);
  tt.same(m.info.exports, [{ name: 'two', kind: 'function', index: 1, type: { params: [], results: ['i32'] } }]);
  tt.same(m.references(1).functions, [0]);
  tt.ok(m.info.functions.every((f) => f.name.length > 0));
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
    const { value, printed } = silently(() => invalidDiagnostics(() => parseModule({ wat })));
    tt.match(value, pattern, `diagnostics for ${JSON.stringify(wat)}`);
    tt.equal(printed, '', `nothing printed for ${JSON.stringify(wat)}`);
  }
});

t.test('malformed and invalid binaries are InvalidModule with V8 messages', async (tt) => {
  tt.match(invalidDiagnostics(() => parseModule({ wasm: new Uint8Array([1, 2, 3]) })), /WebAssembly\.Module\(\)/, 'garbage');
  tt.match(invalidDiagnostics(() => parseModule({ wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]) })), /version/i, 'bad version');
  tt.match(
    invalidDiagnostics(() => parseModule({ wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60]) })),
    /WebAssembly/,
    'truncated',
  );
  // (func (result i32) i64.const 1): a type error in a body
  const typeError = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 10, 6, 1, 4, 0, 0x42, 1, 0x0b]);
  tt.match(invalidDiagnostics(() => parseModule({ wasm: typeError })), /Compiling function #0 failed/, 'invalid body');
});

t.test('modules V8 accepts but this layer cannot split are InvalidModule, not crashes', async (tt) => {
  // Two memories: V8 (multi-memory) accepts, binaryen.js here does not.
  const twoMemories = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 5, 2, 0, 1, 0, 1]);
  tt.ok(WebAssembly.validate(twoMemories), 'V8 accepts two memories');
  tt.match(invalidDiagnostics(() => parseModule({ wasm: twoMemories })), /multi/i, 'two memories');
});

t.test('random corruptions of a valid binary either parse or throw InvalidModule', async (tt) => {
  const base = parseModule({ wat: WAT });
  const bytes = base.bytes;
  base.dispose();
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  let parsed = 0;
  let rejected = 0;
  const other: unknown[] = [];
  const printed = silently(() => {
    for (let i = 0; i < 300; i++) {
      const b = new Uint8Array(bytes);
      for (let k = 1 + (rand() % 3); k > 0; k--) b[8 + (rand() % (b.length - 8))] = rand() & 0xff;
      try {
        parseModule({ wasm: b }).dispose();
        parsed++;
      } catch (e) {
        if (e instanceof InvalidModule) rejected++;
        else other.push(e);
      }
    }
  }).printed;
  tt.same(other, [], 'no error other than InvalidModule');
  tt.equal(parsed + rejected, 300);
  tt.ok(rejected > 0, `some corruptions rejected (${rejected})`);
  tt.equal(printed, '', 'nothing printed');
  // binaryen still works afterwards
  const again = parseModule({ wat: WAT });
  tt.equal(again.info.functions.length, 5);
  again.dispose();
});

t.test('memoryMaxPages clamps defined memories and refuses larger initial sizes', async (tt) => {
  const grow = (m: ParsedModule, pages: number) => {
    const inst = instantiateDirect(m.bytes, {});
    return (inst.exports['grow'] as (n: number) => number)(pages);
  };
  const noMax = parseModule({ wat: '(module (memory 1) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))' }, { memoryMaxPages: 4 });
  tt.same(noMax.info.memories[0]!.type, { initial: 1, maximum: 4 });
  tt.equal(grow(noMax, 3), 1, 'growing to the cap works');
  tt.equal(grow(noMax, 4), -1, 'growing past the cap fails');
  noMax.dispose();

  const bigMax = parseModule({ wat: '(module (memory 2 100) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))' }, { memoryMaxPages: 8 });
  tt.same(bigMax.info.memories[0]!.type, { initial: 2, maximum: 8 });
  tt.equal(grow(bigMax, 7), -1);
  tt.equal(grow(bigMax, 6), 2);
  bigMax.dispose();

  const small = parseModule({ wat: '(module (memory 1 2))' }, { memoryMaxPages: 8 });
  tt.same(small.info.memories[0]!.type, { initial: 1, maximum: 2 }, 'a smaller maximum stays');
  small.dispose();

  const imported = parseModule({ wat: '(module (import "e" "m" (memory 1)))' }, { memoryMaxPages: 2 });
  tt.same(imported.info.memories[0]!.type, { initial: 1 }, 'imported memories are not clamped');
  imported.dispose();

  for (const source of [{ wat: '(module (memory 5))' }, { wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 5]) }]) {
    try {
      parseModule(source, { memoryMaxPages: 4 });
      tt.fail('accepted');
    } catch (e) {
      tt.ok(e instanceof ResourceExhausted);
      tt.equal((e as ResourceExhausted).limit, 'memoryPages');
    }
  }
});

t.test('use after dispose is an error, dispose twice is not', async (tt) => {
  const m = parseModule({ wat: '(module (func))' });
  m.dispose();
  m.dispose();
  tt.throws(() => m.layout);
});

t.test('a declarative element segment: table.init from it acts on a dropped segment, ref.func still works', async (t) => {
  // elem.wast's "implicitly dropped elements", which binaryen alone would refuse to read.
  const wat = `(module (table 10 funcref) (elem $e declare func $f) (func $f)
    (func (export "init") (param i32) (table.init $e (i32.const 0) (i32.const 0) (local.get 0)))
    (func (export "isNull") (result i32) (ref.is_null (ref.func $f))))`;
  const bytes = watBytes(wat);
  const m = parseModule({ wasm: bytes });
  t.teardown(() => m.dispose());
  const direct = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)).exports;
  const parsed = new WebAssembly.Instance(new WebAssembly.Module(m.bytes as Uint8Array<ArrayBuffer>)).exports;
  for (const x of [direct, parsed]) {
    t.doesNotThrow(() => (x['init'] as (n: number) => void)(0), 'an empty init succeeds');
    t.throws(() => (x['init'] as (n: number) => void)(1), WebAssembly.RuntimeError, 'any other traps');
    t.equal((x['isNull'] as () => number)(), 0);
  }
});
