// loadModule and WasmModule: the ModuleInfo a loaded module describes itself with, the facts
// read from function bodies on demand (references, segment use, body size), refusal of what V8
// refuses (InvalidModule with V8's message) and of what this layer cannot read, and the caps on
// memories and tables.

import t from 'tap';
import { InvalidModule, ResourceExhausted } from '../../src/core/errors.ts';
import { ByteWriter } from '../../src/wasm/bytes.ts';
import { loadModule, WasmModule, type LoadOptions } from '../../src/wasm/index.ts';
import { decodeModuleBinary, SectionId } from '../../src/wasm/moduleBinary.ts';
import { watToBinary } from '../../src/wasm/optimizing.ts';
import { instantiateDirect, invalidDiagnostics, silently, wat2wasm } from './helpers.ts';

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

const HEADER = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];

/** The ResourceExhausted `fn` rejects with; fails the test when it resolves or throws anything else. */
async function exhausted(fn: () => Promise<unknown>): Promise<ResourceExhausted> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ResourceExhausted) return e;
    throw e;
  }
  throw new Error('accepted');
}

t.test('info describes imports, exports, functions, globals, memories, tables, start', async (tt) => {
  const m = await loadModule(watToBinary(WAT));
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
  tt.equal(info.functions[0]!.size, 0, 'an import has no body');
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
  tt.equal(m.importedFunctions, 1);
  tt.same(m.functionsUsingSegments(), [3]);
  tt.ok(m.usesSegments(3));
  tt.notOk(m.usesSegments(1));
  tt.same(m.references(4).functions, [0], 'boot calls log');
  tt.same(m.references(3).dataSegments, [0], 'init reads data segment 0');
  tt.throws(() => m.references(0), RangeError, 'an import has no body to scan');
  tt.ok(WebAssembly.validate(m.bytes as Uint8Array<ArrayBuffer>), 'binary of record is valid for V8');
});

t.test('loadModule keeps its own copy of the bytes; the synchronous load describes the same module', async (tt) => {
  const buffer = watToBinary(WAT);
  const sync = new WasmModule(decodeModuleBinary(buffer));
  const loaded = await loadModule(buffer);
  tt.same(JSON.parse(JSON.stringify(loaded.info)), JSON.parse(JSON.stringify(sync.info)));
  tt.not(loaded.bytes, buffer, 'a copy');
  tt.equal(sync.bytes, buffer, 'the synchronous load keeps the buffer it was given');
  buffer.fill(0);
  tt.ok(WebAssembly.validate(loaded.bytes as Uint8Array<ArrayBuffer>), 'the loaded module is unaffected');
  tt.same(loaded.references(4).functions, [0]);
});

t.test('a binary without a name section: display names, indices, references and body sizes', async (tt) => {
  // (module (func (result i32) i32.const 1) (func (export "two") (result i32) call 0 i32.const 1 i32.add))
  const first = [0, 0x41, 1, 0x0b];
  const second = [0, 0x10, 0, 0x41, 1, 0x6a, 0x0b];
  const bytes = new Uint8Array([
    ...HEADER,
    ...[SectionId.type, 5, 1, 0x60, 0, 1, 0x7f],
    ...[SectionId.function, 3, 2, 0, 0],
    ...[SectionId.export, 7, 1, 3, 0x74, 0x77, 0x6f, 0, 1],
    ...[SectionId.code, 3 + first.length + second.length, 2, first.length, ...first, second.length, ...second],
  ]);
  tt.ok(WebAssembly.validate(bytes), 'hand-written binary is valid');
  const m = await loadModule(bytes);
  tt.same(
    m.info.functions.map((f) => f.name),
    ['func[0]', 'two'],
    'the first export name, else the index',
  );
  tt.same(m.info.exports, [{ name: 'two', kind: 'function', index: 1, type: { params: [], results: ['i32'] } }]);
  tt.same(m.references(1).functions, [0]);
  tt.same([m.bodySize(0), m.bodySize(1)], [first.length, second.length], 'body sizes, locals included');
  tt.equal(m.bodySize(2), 0, 'no body past the end');
  tt.same(m.functionsUsingSegments(), [], 'no segments: nothing to scan for');
});

t.test('malformed and invalid binaries are InvalidModule with V8 messages', async (tt) => {
  tt.match(await invalidDiagnostics(() => loadModule(new Uint8Array([1, 2, 3]))), /WebAssembly\.compile\(\)/, 'garbage');
  tt.match(await invalidDiagnostics(() => loadModule(new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]))), /version/i, 'bad version');
  tt.match(await invalidDiagnostics(() => loadModule(new Uint8Array([...HEADER, 1, 5, 1, 0x60]))), /WebAssembly/, 'truncated');
  // (func (result i32) i64.const 1): a type error in a body
  const typeError = new Uint8Array([...HEADER, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 10, 6, 1, 4, 0, 0x42, 1, 0x0b]);
  tt.match(await invalidDiagnostics(() => loadModule(typeError)), /Compiling function #0 failed/, 'invalid body');
});

t.test('modules V8 accepts but this layer cannot read are InvalidModule, not crashes', async (tt) => {
  const tag = wat2wasm('(module (tag $e (param i32)) (func (export "f") i32.const 1 throw $e))', ['--enable-exceptions']);
  tt.ok(WebAssembly.validate(tag as Uint8Array<ArrayBuffer>), 'V8 accepts a tag section');
  tt.match(await invalidDiagnostics(() => loadModule(tag)), /section id 13/, 'a tag section');
  const gc = wat2wasm('(module (type $s (struct (field i32))) (func (export "f") (result i32) i32.const 1))', ['--enable-all']);
  tt.ok(WebAssembly.validate(gc as Uint8Array<ArrayBuffer>), 'V8 accepts a struct type');
  tt.match(await invalidDiagnostics(() => loadModule(gc)), /type form/, 'a struct type');

  // Bodies are read when something asks about them: an instruction the scanner does not know
  // fails there, as InvalidModule too.
  const legacyTry = await loadModule(wat2wasm('(module (func (export "f") try nop catch_all end))', ['--enable-exceptions']));
  tt.match(await invalidDiagnostics(() => legacyTry.references(0)), /unsupported instruction/, 'try/catch_all in a body');
});

t.test('two memories load, and every function sees which it uses', async (tt) => {
  const m = await loadModule(
    wat2wasm(
      `(module (memory $a 1) (memory $b 2 3)
        (func (export "copy") (param i32) local.get 0 local.get 0 i32.load $a i32.store $b))`,
      ['--enable-multi-memory'],
    ),
  );
  tt.same(
    m.info.memories.map((x) => x.type),
    [{ initial: 1 }, { initial: 2, maximum: 3 }],
  );
  tt.same([...m.references(0).memories].sort(), [0, 1]);
});

t.test('random corruptions of a valid binary either load or are InvalidModule', async (tt) => {
  const bytes = watToBinary(WAT);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  let loaded = 0;
  let rejected = 0;
  let bodiesRead = 0;
  const other: unknown[] = [];
  const { printed } = await silently(async () => {
    for (let i = 0; i < 300; i++) {
      const b = new Uint8Array(bytes);
      for (let k = 1 + (rand() % 3); k > 0; k--) b[8 + (rand() % (b.length - 8))] = rand() & 0xff;
      try {
        const m = await loadModule(b);
        loaded++;
        // V8 validated every body, so every body must scan.
        for (let f = m.importedFunctions; f < m.info.functions.length; f++) {
          m.references(f);
          bodiesRead++;
        }
      } catch (e) {
        if (e instanceof InvalidModule) rejected++;
        else other.push(e);
      }
    }
  });
  tt.same(other, [], 'no error other than InvalidModule');
  tt.equal(loaded + rejected, 300);
  tt.ok(rejected > 0, `some corruptions rejected (${rejected})`);
  tt.ok(loaded > 0, `some corruptions still valid (${loaded}, ${bodiesRead} bodies read)`);
  tt.equal(printed, '', 'nothing printed');
});

t.test('memoryMaxPages clamps defined memories and refuses larger initial sizes', async (tt) => {
  const load = (wat: string, opts: LoadOptions) => loadModule(watToBinary(wat), opts);
  const grow = (m: WasmModule, pages: number) => {
    const inst = instantiateDirect(m.bytes, {});
    return (inst.exports['grow'] as (n: number) => number)(pages);
  };
  const noMax = await load('(module (memory 1) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))', { memoryMaxPages: 4 });
  tt.same(noMax.info.memories[0]!.type, { initial: 1, maximum: 4 });
  tt.same(decodeModuleBinary(noMax.bytes).memories, [{ initial: 1, maximum: 4 }], 'the binary of record carries the cap');
  tt.equal(grow(noMax, 3), 1, 'growing to the cap works');
  tt.equal(grow(noMax, 4), -1, 'growing past the cap fails');

  const bigMax = await load('(module (memory 2 100) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))', { memoryMaxPages: 8 });
  tt.same(bigMax.info.memories[0]!.type, { initial: 2, maximum: 8 });
  tt.equal(grow(bigMax, 7), -1);
  tt.equal(grow(bigMax, 6), 2);

  const small = await load('(module (memory 1 2))', { memoryMaxPages: 8 });
  tt.same(small.info.memories[0]!.type, { initial: 1, maximum: 2 }, 'a smaller maximum stays');

  const imported = await load('(module (import "e" "m" (memory 1)))', { memoryMaxPages: 2 });
  tt.same(imported.info.memories[0]!.type, { initial: 1 }, 'imported memories are not clamped');

  const uncapped = await load('(module (memory 1))', {});
  tt.same(uncapped.info.memories[0]!.type, { initial: 1 }, 'no cap, no change');

  for (const bytes of [watToBinary('(module (memory 5))'), new Uint8Array([...HEADER, 5, 3, 1, 0, 5])]) {
    const e = await exhausted(() => loadModule(bytes, { memoryMaxPages: 4 }));
    tt.equal(e.limit, 'memoryPages');
    tt.match(e.message, /5 pages; the limit is 4/);
  }
});

/**
 * A module with a table of `initial` funcrefs whose initializer expression (the 0x40 0x00 form)
 * fills it with function 0, which returns 7; "get" call_indirects through slot 1. Exports the
 * table as "t".
 */
function tableWithInitializer(initial: number): Uint8Array {
  const w = new ByteWriter().bytes(Uint8Array.from(HEADER));
  w.section(SectionId.type, Uint8Array.of(1, 0x60, 0, 1, 0x7f));
  w.section(SectionId.function, Uint8Array.of(2, 0, 0));
  w.section(SectionId.table, new ByteWriter().u32(1).u8(0x40).u8(0x00).u8(0x70).u8(0x00).u32(initial).u8(0xd2).u32(0).u8(0x0b).finish());
  w.section(SectionId.export, new ByteWriter().u32(2).name('t').u8(1).u32(0).name('get').u8(0).u32(1).finish());
  const seven = [0, 0x41, 7, 0x0b];
  const get = [0, 0x41, 1, 0x11, 0, 0, 0x0b];
  w.section(SectionId.code, Uint8Array.of(2, seven.length, ...seven, get.length, ...get));
  return w.finish();
}

t.test('tableMaxElements clamps defined tables, initializers kept, and refuses larger initial sizes', async (tt) => {
  const m = await loadModule(watToBinary('(module (import "e" "t" (table 1 funcref)) (table (export "t") 2 funcref) (table 1 5 externref))'), { tableMaxElements: 3 });
  tt.same(
    m.info.tables.map((x) => [x.imported, x.type]),
    [
      [true, { elementType: 'funcref', initial: 1 }],
      [false, { elementType: 'funcref', initial: 2, maximum: 3 }],
      [false, { elementType: 'externref', initial: 1, maximum: 3 }],
    ],
    'defined tables capped, the imported one as declared',
  );
  const table = instantiateDirect(m.bytes, { e: { t: new WebAssembly.Table({ element: 'anyfunc', initial: 1 }) } }).exports['t'] as WebAssembly.Table;
  tt.equal(table.grow(1), 2, 'growing to the cap works');
  tt.throws(() => table.grow(1), RangeError, 'growing past it fails');

  const bytes = tableWithInitializer(2);
  tt.ok(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>), 'hand-written binary is valid');
  const init = await loadModule(bytes, { tableMaxElements: 4 });
  tt.same(init.info.tables[0]!.type, { elementType: 'funcref', initial: 2, maximum: 4 });
  const exports = instantiateDirect(init.bytes).exports;
  tt.equal((exports['get'] as () => number)(), 7, 'the initializer still fills the table');
  tt.equal((exports['t'] as WebAssembly.Table).grow(2), 2);
  tt.throws(() => (exports['t'] as WebAssembly.Table).grow(1), RangeError);

  for (const big of [watToBinary('(module (table 6 funcref))'), tableWithInitializer(6)]) {
    const e = await exhausted(() => loadModule(big, { tableMaxElements: 5 }));
    tt.equal(e.limit, 'tableElements');
    tt.match(e.message, /6 elements; the limit is 5/);
  }
});

t.test('segment use: bodies whose bytes only look like a segment instruction are told apart', async (tt) => {
  // i32.const 252 encodes as 0x41 0xfc 0x01, i32.const 1148 as 0x41 0xfc 0x08 (0xfc 0x08 is
  // memory.init's opcode), memory.fill as 0xfc 0x0b: none of them uses a segment.
  const m = await loadModule(
    wat2wasm(`(module
      (memory 1)
      (data "xyz")
      (func $plain (result i32) i32.const 252)
      (func $lookalike (result i32) i32.const 1148)
      (func $fill (i32.const 0) (i32.const 0) (i32.const 1) memory.fill)
      (func $init (i32.const 0) (i32.const 0) (i32.const 3) memory.init 0)
      (func $drop data.drop 0)
      (func $last (result i32) i32.const 252))`),
  );
  const bodyBytes = (i: number) => [...m.bytes.subarray(m.binary.code[i]!.start, m.binary.code[i]!.end)];
  tt.ok(bodyBytes(1).join(',').includes('252,8'), 'the lookalike body holds the 0xfc 0x08 pair');
  tt.same(m.functionsUsingSegments(), [3, 4], 'memory.init and data.drop, nothing else');
  tt.same([0, 1, 2, 5].map((i) => m.usesSegments(i)), [false, false, false, false]);
});
