// The session memory budget's rewrites of compiled pieces: every memory.grow asks a hook first
// (wherever it sits: nested in any operand, in any function), every function index is
// renumbered around the hook's import, and a defined memory becomes an import of the same
// limits. Checked by running the rewritten modules, not by reading their bytes.

import t from 'tap';
import { watBytes } from '../executor/helpers.ts';
import { instrumentMemoryGrow, instrumentTableGrow, rewriteForSession } from '../../src/wasm/growInstrumentation.ts';
import { ByteWriter } from '../../src/wasm/bytes.ts';
import { decodeModuleBinary, replaceSection, SectionId } from '../../src/wasm/moduleBinary.ts';
import { prepareForSession } from '../../src/wasm/sessionPiece.ts';
import { instantiateDirect } from './helpers.ts';

type Exports = Record<string, (...args: number[]) => number>;

/** A hook that records each delta and refuses deltas above `max` (returning -1). */
function recordingHook(max = Infinity) {
  const asked: number[] = [];
  const grow = (delta: number) => {
    asked.push(delta);
    return delta <= max ? delta : -1;
  };
  return { asked, grow };
}

// Functions called, taken by ref.func into a table and a global, exported and started, around
// memory.grow in plain, nested and table.fill-operand positions (binaryen.js cannot reach the
// operands of table.fill, which is why the rewrite works on bytes).
const WAT = `(module
  (import "env" "log" (func $log (param i32)))
  (memory $m 1 10)
  (table $t 8 funcref)
  (global $started (mut i32) (i32.const 0))
  (global $fref funcref (ref.func $seven))
  (elem (table $t) (i32.const 0) func $seven $grow)
  (elem declare func $twice)
  (func $seven (result i32) i32.const 7)
  (func $twice (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
  (func $grow (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "nested") (param i32) (result i32)
    (i32.add (call $twice (memory.grow (local.get 0))) (call $seven)))
  (func (export "fill") (param i32)
    (table.fill $t (i32.const 2) (ref.func $twice) (memory.grow (local.get 0))))
  (func (export "indirect") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
  (func (export "indirectWith") (param i32 i32) (result i32) (call_indirect (param i32) (result i32) (local.get 1) (local.get 0)))
  (func (export "viaGlobal") (result i32)
    (table.set $t (i32.const 7) (global.get $fref)) (call_indirect (result i32) (i32.const 7)))
  (func (export "size") (result i32) memory.size)
  (func (export "started") (result i32) global.get $started)
  (func $start (call $log (i32.const 1)) (global.set $started (i32.const 1)))
  (start $start))`;

t.test('every memory.grow asks the hook; everything else behaves as before', async (t) => {
  const original = watBytes(WAT);
  const rewritten = instrumentMemoryGrow(original, 'jit', 'memory.grow');
  if (!rewritten) throw new Error('expected a rewrite');
  const before = decodeModuleBinary(original);
  const after = decodeModuleBinary(rewritten);
  t.equal(after.importedFunctions, before.importedFunctions + 1, 'one more function import');
  t.match(after.imports.at(-1), { module: 'jit', name: 'memory.grow', kind: 'function' });
  t.equal(before.functionNames.get(before.importedFunctions), 'seven');
  t.equal(after.functionNames.get(after.importedFunctions), 'seven', 'names follow their functions');

  const logged: number[] = [];
  const hook = recordingHook(2);
  const x = instantiateDirect(rewritten, { env: { log: (v: number) => logged.push(v) }, jit: { 'memory.grow': hook.grow } }).exports as Exports;
  t.same(logged, [1], 'the start function ran, and called the right import');
  t.equal(x.started!(), 1);
  t.equal(x.grow!(1), 1, 'grow returns the old size');
  t.equal(x.size!(), 2);
  t.equal(x.grow!(3), -1, 'the hook refused: -1 and no growth');
  t.equal(x.size!(), 2);
  t.equal(x.nested!(1), 2 * 2 + 7, 'nested grow; calls renumbered');
  t.equal(x.size!(), 3);
  x.fill!(0); // grows by 0 (the hook is asked), fills slots 2..4 with $twice
  t.equal(x.indirect!(0), 7, 'active element segment renumbered');
  t.equal(x.indirectWith!(2, 5), 10, 'ref.func in a table.fill operand renumbered');
  t.equal(x.indirectWith!(1, 1), 3, '$grow through the table: old size');
  t.equal(x.viaGlobal!(), 7, "a global's ref.func initializer renumbered");
  t.equal(x.size!(), 4);
  t.same(hook.asked, [1, 3, 1, 0, 1]);
});

t.test('a module without memory.grow is left alone', async (t) => {
  t.equal(instrumentMemoryGrow(watBytes('(module (memory 1) (func (export "s") (result i32) memory.size))'), 'jit', 'g'), null);
  t.equal(instrumentMemoryGrow(watBytes('(module (func (export "f")))'), 'jit', 'g'), null);
});

t.test('a module with no type or import section gets both', async (t) => {
  // The only type is (i32) -> i32's absence: a function of no params.
  const bytes = watBytes('(module (memory 1) (func (export "g") (drop (memory.grow (i32.const 1)))))');
  const rewritten = instrumentMemoryGrow(bytes, 'jit', 'memory.grow') as Uint8Array;
  const hook = recordingHook();
  const x = instantiateDirect(rewritten, { jit: { 'memory.grow': hook.grow } }).exports as Exports;
  x.g!();
  t.same(hook.asked, [1]);
});

t.test('a defined memory becomes an import: same limits, same data, provided from outside', async (t) => {
  const wat = (grow: string) => `(module
    (memory (export "mem") 2 5)
    (data (i32.const 8) "hi")
    (func (export "peek") (result i32) (i32.load8_u (i32.const 9)))
    ${grow})`;
  for (const grow of ['', '(func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))']) {
    const r = rewriteForSession(watBytes(wat(grow)), { module: 'jit', memoryHook: 'memory.grow', memory: (i) => `memory:${i}` });
    if (!r) throw new Error('expected a rewrite');
    t.same([r.memoriesImported, r.memoryHooked], [[0], grow !== '']);
    const binary = decodeModuleBinary(r.bytes);
    t.equal(binary.importedMemories, 1);
    t.same(binary.memories, [{ initial: 2, maximum: 5 }]);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 5 });
    const x = instantiateDirect(r.bytes, { jit: { 'memory:0': memory, 'memory.grow': (d: number) => d } }).exports;
    t.equal((x['peek'] as () => number)(), 'i'.charCodeAt(0), 'the data segment initialized it');
    t.equal(x['mem'], memory, 'the instance exports the memory it was given');
    if (grow) t.equal((x['grow'] as (d: number) => number)(1), 2);
  }
  const imported = rewriteForSession(watBytes('(module (import "a" "m" (memory 1)))'), { module: 'jit', memoryHook: 'g', memory: (i) => `memory:${i}` });
  t.equal(imported, null, 'an imported memory stays as it is');

  // Multiple memories: every defined one becomes an import at its own index, after the imported ones.
  const multi = rewriteForSession(
    watBytes(`(module (import "a" "m" (memory 1)) (memory $two (export "two") 2 3) (memory $three 1)
      (data (memory $two) (i32.const 0) "A") (data (memory $three) (i32.const 0) "B")
      (func (export "peek") (result i32) (i32.add (i32.load8_u $two (i32.const 0)) (i32.load8_u $three (i32.const 0))))
      (func (export "grow3") (result i32) (memory.grow $three (i32.const 1))))`, ['--enable-multi-memory']),
    { module: 'jit', memoryHook: 'memory.grow', memory: (i) => `memory:${i}` },
  );
  if (!multi) throw new Error('expected a rewrite');
  t.same(multi.memoriesImported, [1, 2], 'memories 1 and 2 imported, memory 0 was imported already');
  const mb = decodeModuleBinary(multi.bytes);
  t.equal(mb.importedMemories, 3);
  const memories = [new WebAssembly.Memory({ initial: 1 }), new WebAssembly.Memory({ initial: 2, maximum: 3 }), new WebAssembly.Memory({ initial: 1 })];
  const deltas: number[] = [];
  const mx = instantiateDirect(multi.bytes, {
    a: { m: memories[0] as WebAssembly.Memory },
    jit: { 'memory:1': memories[1] as WebAssembly.Memory, 'memory:2': memories[2] as WebAssembly.Memory, 'memory.grow': (d: number) => (deltas.push(d), d) },
  }).exports;
  t.equal((mx['peek'] as () => number)(), 'A'.charCodeAt(0) + 'B'.charCodeAt(0), 'each data segment initialized its own memory');
  t.equal(mx['two'], memories[1], 'the export is the memory given for index 1');
  t.equal((mx['grow3'] as () => number)(), 1, 'memory 2 grew');
  t.same(deltas, [1], 'through the hook');
});

t.test('prepareForSession describes the imports it adds', async (t) => {
  const bytes = watBytes('(module (memory 1) (func (export "g") (param i32) (result i32) (memory.grow (local.get 0))))');
  const piece = prepareForSession({ bytes, imports: [], hostImports: [], exports: [{ name: 'g', ref: { kind: 'function', index: 0 } }] });
  t.same(piece.imports, [{ module: 'jit', name: 'memory:0', ref: { kind: 'memory', index: 0 } }]);
  t.same(piece.hostImports, [{ module: 'jit', name: 'memory.grow', host: 'memoryGrow' }]);
  const taken = watBytes('(module (import "jit" "x" (memory 1)) (func (export "g") (param i32) (result i32) (memory.grow (local.get 0))))');
  const other = prepareForSession({ bytes: taken, imports: [{ module: 'jit', name: 'x', ref: { kind: 'memory', index: 0 } }], hostImports: [], exports: [] });
  t.same(other.hostImports.map((i) => i.module), ['jit$'], 'a module name the piece does not use');
  const none = { bytes: watBytes('(module (func (export "f")))'), imports: [], hostImports: [], exports: [] };
  t.equal(prepareForSession(none), none, 'nothing to do: the same piece');
});

// The table budget's rewrites: every table.grow asks a hook of its own (its delta is the top
// operand, as memory.grow's is), beside the memory.grow hook, and defined tables get exported.
const TABLES_WAT = `(module
  (import "env" "log" (func $log (param i32)))
  (memory 1 10)
  (table $t 2 20 funcref)
  (table $u 1 externref)
  (elem (table $t) (i32.const 0) func $seven $grow)
  (func $seven (result i32) i32.const 7)
  (func $grow (export "grow") (param i32) (result i32) (table.grow $t (ref.func $seven) (local.get 0)))
  (func (export "growU") (param externref i32) (result i32) (table.grow $u (local.get 0) (local.get 1)))
  (func (export "both") (param i32) (result i32)
    (i32.add (table.grow $t (ref.null func) (memory.grow (local.get 0))) (call $seven)))
  (func (export "sizeT") (result i32) table.size $t)
  (func (export "sizeU") (result i32) table.size $u)
  (func (export "pages") (result i32) memory.size)
  (func (export "at") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
  (func $start (call $log (i32.const 1)))
  (start $start))`;

t.test('every table.grow asks the table hook; memory.grow keeps its own; results unchanged', async (t) => {
  const original = watBytes(TABLES_WAT);
  const r = rewriteForSession(original, { module: 'jit', memoryHook: 'memory.grow', tableHook: 'table.grow' });
  if (!r) throw new Error('expected a rewrite');
  t.same([r.memoryHooked, r.tableHooked, r.memoriesImported, r.tableExports], [true, true, [], []]);
  const after = decodeModuleBinary(r.bytes);
  t.same(
    after.imports.slice(-2).map((i) => `${i.module}.${i.name}`),
    ['jit.memory.grow', 'jit.table.grow'],
    'two function imports appended, memory.grow first',
  );
  t.equal(after.functionNames.get(after.importedFunctions), 'seven', 'names follow their functions');

  const script = (x: Exports, log: number[]) => [
    x.grow!(1), x.sizeT!(), x.at!(2), x.grow!(30), x.both!(1), x.sizeT!(), x.pages!(), x.at!(0),
    (x.growU as unknown as (r: unknown, n: number) => number)('ref', 2), x.sizeU!(), log.length,
  ];
  const directLog: number[] = [];
  const expected = script(instantiateDirect(original, { env: { log: (v: number) => directLog.push(v) } }).exports as Exports, directLog);
  t.same(expected.slice(0, 4), [2, 3, 7, -1], 'direct: grew, the new slot holds $seven, past the maximum is -1');

  const tables = recordingHook();
  const memories = recordingHook();
  const log: number[] = [];
  const x = instantiateDirect(r.bytes, { env: { log: (v: number) => log.push(v) }, jit: { 'memory.grow': memories.grow, 'table.grow': tables.grow } })
    .exports as Exports;
  t.same(script(x, log), expected, 'every result as direct instantiation gives it (calls, elements, start renumbered)');
  t.same(tables.asked, [1, 30, 1, 2], 'the table hook saw each table.grow delta (one of them a memory.grow result)');
  t.same(memories.asked, [1], 'the memory hook saw only memory.grow');

  const refusing = recordingHook(0);
  const y = instantiateDirect(r.bytes, { env: { log: () => {} }, jit: { 'memory.grow': (d: number) => d, 'table.grow': refusing.grow } }).exports as Exports;
  t.equal(y.grow!(1), -1, 'the hook refused: table.grow returns -1');
  t.equal(y.sizeT!(), 2, 'and the table keeps its size');
  t.equal(y.grow!(0), 2, 'a delta the hook allows still grows (by 0 here)');
  t.same(refusing.asked, [1, 0]);
});

t.test('instrumentTableGrow: table.grow only; nothing to do without one', async (t) => {
  const bytes = watBytes('(module (table 1 funcref) (func (export "g") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0))))');
  const rewritten = instrumentTableGrow(bytes, 'jit', 'table.grow');
  if (!rewritten) throw new Error('expected a rewrite');
  const hook = recordingHook();
  const x = instantiateDirect(rewritten, { jit: { 'table.grow': hook.grow } }).exports as Exports;
  t.equal(x.g!(4), 1);
  t.same(hook.asked, [4]);
  t.equal(instrumentTableGrow(watBytes('(module (table 1 funcref) (func (export "s") (result i32) table.size 0))'), 'jit', 'g'), null);
  t.equal(instrumentMemoryGrow(bytes, 'jit', 'g'), null, 'the memory hook alone leaves table.grow as it is');
});

t.test('exportTables: every defined table the module does not export gets an export of a free name', async (t) => {
  // wat2wasm cannot write a table initializer: the table section is replaced by one with $c's.
  const plain = decodeModuleBinary(watBytes(`(module
    (import "env" "shared" (table 3 funcref))
    (table $a (export "a") 2 funcref)
    (table $b 4 externref)
    (table $c 5 funcref)
    (func $f (export "table:2") (result i32) i32.const 9)
    (func (export "grow") (param i32) (result i32) (table.grow $c (ref.null func) (local.get 0))))`));
  const tableSection = new ByteWriter().u32(3).u8(0x70).u8(0).u32(2).u8(0x6f).u8(0).u32(4);
  tableSection.u8(0x40).u8(0x00).u8(0x70).u8(0).u32(5).u8(0xd2).u32(0).u8(0x0b); // $c, filled with ref.func $f
  const bytes = replaceSection(plain, SectionId.table, tableSection.finish());
  const shared = new WebAssembly.Table({ element: 'anyfunc', initial: 3 });

  for (const tableHook of [undefined, 'table.grow']) {
    const r = rewriteForSession(bytes, { module: 'jit', exportTables: true, ...(tableHook ? { tableHook } : {}) });
    if (!r) throw new Error('expected a rewrite');
    const label = tableHook ? 'hooked' : 'exports only';
    t.same(r.tableExports, [
      { name: 'table:2$', index: 2 },
      { name: 'table:3', index: 3 },
    ], `${label}: the unexported defined tables; "table:2" is the name of a function export`);
    t.same([r.memoryHooked, r.tableHooked, r.memoriesImported], [false, tableHook !== undefined, []]);
    const hook = recordingHook();
    const x = instantiateDirect(r.bytes, { env: { shared }, jit: { 'table.grow': hook.grow } }).exports;
    t.same(Object.keys(x), ['a', 'table:2', 'grow', 'table:2$', 'table:3'], `${label}: the imported table is not exported`);
    t.equal((x['table:2'] as () => number)(), 9, `${label}: the function keeps its export`);
    t.equal((x['a'] as WebAssembly.Table).length, 2);
    t.equal((x['table:2$'] as WebAssembly.Table).length, 4);
    const c = x['table:3'] as WebAssembly.Table;
    t.equal((c.get(4) as () => number)(), 9, `${label}: the table's initializer still fills it (renumbered)`);
    t.equal((x['grow'] as (n: number) => number)(2), 5);
    t.equal(c.length, 7, `${label}: the export is the table the code grows`);
    t.same(hook.asked, tableHook ? [2] : []);
  }

  const bare = rewriteForSession(watBytes('(module (table 3 funcref) (func))'), { module: 'jit', exportTables: true });
  if (!bare) throw new Error('expected a rewrite');
  const exported = instantiateDirect(bare.bytes).exports['table:0'];
  t.ok(exported instanceof WebAssembly.Table && exported.length === 3, 'a module without an export section gets one');

  t.equal(rewriteForSession(watBytes('(module (table (export "t") 1 funcref))'), { module: 'jit', exportTables: true }), null, 'all exported already');
  t.equal(rewriteForSession(watBytes('(module (import "e" "t" (table 1 funcref)))'), { module: 'jit', exportTables: true }), null, 'only imported tables');
});

t.test('prepareForSession: the table hook, the table exports, and the elements the tables start with', async (t) => {
  const bytes = watBytes(`(module
    (import "env" "shared" (table 100 funcref))
    (table $t (export "t") 3 funcref)
    (table $u 4 externref)
    (func (export "g") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0))))`);
  const piece = prepareForSession({
    bytes,
    imports: [{ module: 'env', name: 'shared', ref: { kind: 'table', index: 0 } }],
    hostImports: [],
    exports: [{ name: 't', ref: { kind: 'table', index: 1 } }, { name: 'g', ref: { kind: 'function', index: 0 } }],
  });
  t.equal(piece.tableElements, 7, 'its own tables: 3 + 4 elements, not the imported one');
  t.same(piece.hostImports, [{ module: 'jit', name: 'table.grow', host: 'tableGrow' }]);
  t.same(piece.exports.at(-1), { name: 'table:2', ref: { kind: 'table', index: 2 } });
  const hook = recordingHook();
  const x = instantiateDirect(piece.bytes, { env: { shared: new WebAssembly.Table({ element: 'anyfunc', initial: 100 }) }, jit: { 'table.grow': hook.grow } }).exports;
  t.equal((x['g'] as (n: number) => number)(2), 3);
  t.same(hook.asked, [2]);
  t.equal((x['table:2'] as WebAssembly.Table).length, 4);

  const exportedAlready = { bytes: watBytes('(module (table (export "t") 5 funcref))'), imports: [], hostImports: [], exports: [{ name: 't', ref: { kind: 'table' as const, index: 0 } }] };
  const counted = prepareForSession(exportedAlready);
  t.equal(counted.bytes, exportedAlready.bytes, 'nothing to rewrite: the same bytes');
  t.equal(counted.tableElements, 5, 'but its tables are counted');
  t.equal(prepareForSession({ bytes: watBytes('(module (func))'), imports: [], hostImports: [], exports: [] }).tableElements, undefined, 'no tables, nothing to count');
});
