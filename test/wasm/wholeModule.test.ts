// An eager module as one piece: wholeModulePiece (the binary of record fitted to the session:
// its memory imported from the executor, every memory.grow and table.grow asking the budget
// hooks first, its tables all exported, its own imports, exports and start as they are) and, optimized as a whole by binaryen with its imports
// kept, describeOptimizedWhole reading back what binaryen emitted. Both are linked by hand and
// must behave like the module instantiated directly.

import t from 'tap';
import { describeOptimizedWhole, loadModule, wholeModulePiece, type CompiledPiece, type WasmModule } from '../../src/wasm/index.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { optimizeBinary, watToBinary } from '../../src/wasm/optimizing.ts';
import { instantiateDirect, moduleFromWat, type Imports } from './helpers.ts';

const WAT = `(module
  (import "env" "unused" (func $unused (param i64)))
  (import "env" "seed" (global $seed i32))
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (memory (export "mem") 1)
  (global $acc (export "acc") (mut i32) (i32.const 0))
  (func $helper (param i32) (result i32) local.get 0 i32.const 3 i32.add)
  (func (export "run") (param i32) (result i32)
    local.get 0 call $helper call $twice global.get $seed i32.add
    global.get $acc i32.add global.set $acc global.get $acc)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func $die (export "die") unreachable)
  (func $start i32.const 0 i32.const 77 i32.store)
  (start $start))`;

type Fn = (...args: unknown[]) => unknown;

const env = () => ({ unused: () => {}, seed: new WebAssembly.Global({ value: 'i32' }, 1000), twice: (x: number) => 2 * x });

/** The module with its memory capped at 3 pages, as an add with MEMORY_LIMIT_PAGES=3 loads it. */
const capped = (): Promise<WasmModule> => loadModule(watToBinary(WAT), { memoryMaxPages: 3 });

interface Linked {
  readonly exports: WebAssembly.Exports;
  /** The memory the executor made for the module. */
  readonly memory: WebAssembly.Memory;
  /** What the memory budget's hook was asked. */
  readonly deltas: number[];
  /** What the table budget's hook was asked. */
  readonly tableDeltas: number[];
}

/**
 * Links a whole-module piece the way the JIT does: the module's own imports from the host, its
 * memory from the executor (made with the limits the piece imports it with), the executor's
 * memory.grow and table.grow hooks, which refuse deltas above `budget`.
 */
function link(m: WasmModule, piece: CompiledPiece, host: Imports, budget = Infinity): Linked {
  const deltas: number[] = [];
  const tableDeltas: number[] = [];
  const declared = decodeModuleBinary(piece.bytes).memories[0];
  const memory = new WebAssembly.Memory({ initial: declared?.initial ?? 0, ...(declared?.maximum !== undefined ? { maximum: declared.maximum } : {}) });
  const imports: Imports = {};
  for (const imp of piece.imports) {
    const original = m.info.imports.find((i) => i.kind === imp.ref.kind && i.index === imp.ref.index);
    (imports[imp.module] ??= {})[imp.name] = original ? host[original.module]![original.name]! : memory;
  }
  for (const h of piece.hostImports) {
    if (h.host === 'reoptimize') throw new Error(`unexpected host import ${h.host}`);
    const asked = h.host === 'memoryGrow' ? deltas : tableDeltas;
    (imports[h.module] ??= {})[h.name] = (delta: number) => (asked.push(delta), delta <= budget ? delta : -1);
  }
  return { exports: instantiateDirect(piece.bytes, imports).exports, memory, deltas, tableDeltas };
}

/** Runs the same calls against `exports`; the results must match direct instantiation's. */
function run(exports: WebAssembly.Exports): unknown[] {
  const out: unknown[] = [];
  for (const x of [1, 5, 10]) out.push((exports['run'] as Fn)(x));
  out.push((exports['acc'] as WebAssembly.Global).value);
  out.push((exports['grow'] as Fn)(1), (exports['grow'] as Fn)(5), (exports['grow'] as Fn)(0));
  return out;
}

t.test('a module without memory is the binary of record, named for trap stacks, imports and exports as declared', async (tt) => {
  const m = moduleFromWat('(module (import "env" "twice" (func $twice (param i32) (result i32))) (func (export "f") (param i32) (result i32) local.get 0 call $twice) (func (param i32) (result i32) local.get 0))');
  const piece = wholeModulePiece(m, 'm7');
  const binary = decodeModuleBinary(piece.bytes);
  const nonCustom = (b: typeof binary) => b.sections.filter((s) => s.id !== 0).map((s) => [...b.bytes.subarray(s.headerStart, s.end)]);
  tt.same(nonCustom(binary), nonCustom(m.binary), 'nothing to fit: every section but the names is the binary of record');
  tt.same([...binary.functionNames], [[0, 'twice'], [1, 'f'], [2, 'func[2]']], 'every function named as API v2 wants: name section, export, func[i]');
  tt.same(piece.imports, [{ module: 'env', name: 'twice', ref: { kind: 'function', index: 0 } }]);
  tt.same(piece.exports, [{ name: 'f', ref: { kind: 'function', index: 1 } }]);
  tt.same(piece.hostImports, []);
});

t.test('a module with a memory imports it from the executor and asks the hook before memory.grow', async (tt) => {
  const m = await capped();
  const piece = wholeModulePiece(m);
  tt.same(
    piece.imports,
    [
      ...m.info.imports.map((i) => ({ module: i.module, name: i.name, ref: { kind: i.kind, index: i.index } })),
      { module: 'jit', name: 'memory:0', ref: { kind: 'memory', index: 0 } },
    ],
    'the original imports, in order, then memory 0',
  );
  tt.same(piece.hostImports, [{ module: 'jit', name: 'memory.grow', host: 'memoryGrow' }]);
  tt.same(piece.exports.map((e) => [e.name, e.ref.kind, e.ref.index]), m.info.exports.map((e) => [e.name, e.kind, e.index]));
  const decoded = decodeModuleBinary(piece.bytes);
  tt.equal(decoded.importedMemories, 1, 'the memory is imported, not defined');
  tt.same(decoded.memories, [{ initial: 1, maximum: 3 }], 'with the capped limits');
  tt.not(decoded.start, null, 'the start section stays: instantiation runs it');

  const direct = instantiateDirect(m.bytes, { env: env() }).exports;
  const whole = link(m, piece, { env: env() });
  tt.equal(new Uint32Array(whole.memory.buffer)[0], 77, 'start ran, into the executor’s memory');
  const expected = run(direct);
  tt.same(expected.slice(-3), [1, -1, 2], 'grow(1) from 1 page, grow(5) past the cap, grow(0)');
  tt.same(run(whole.exports), expected, 'the same results');
  tt.same(whole.deltas, [1, 5, 0], 'the hook saw every delta');

  const broke = link(m, piece, { env: env() }, 0);
  const grow = broke.exports['grow'] as Fn;
  tt.same([grow(1), grow(0)], [-1, 1], 'a hook that refuses makes memory.grow fail; a grow by 0 it allows');
  tt.equal(broke.memory.buffer.byteLength, 65536, 'the memory did not grow');

  const clash = moduleFromWat('(module (import "jit" "f" (func)) (memory 1) (func (export "g") (result i32) i32.const 1 memory.grow))');
  const fitted = wholeModulePiece(clash);
  tt.same(
    [...new Set([...fitted.hostImports.map((h) => h.module), ...fitted.imports.filter((i) => i.ref.kind === 'memory').map((i) => i.module)])],
    ['jit$'],
    'a module importing from "jit" gets the executor’s functions from another module name',
  );
});

t.test('optimized whole: same behaviour, same imports (even unused ones), start still runs', async (tt) => {
  const m = await capped();
  const baseline = wholeModulePiece(m);
  const bytes = optimizeBinary(baseline.bytes, { level: 3, keepImports: true });
  tt.not(bytes, baseline.bytes);
  const piece = describeOptimizedWhole(baseline, bytes);
  tt.equal(piece.bytes, bytes);
  const key = (i: { module: string; name: string; ref: { kind: string; index: number } }) => `${i.module}.${i.name}=${i.ref.kind}:${i.ref.index}`;
  tt.same(piece.imports.map(key).sort(), baseline.imports.map(key).sort(), 'the unused import is still there, so linking fails where direct instantiation would');
  tt.same(piece.hostImports, baseline.hostImports, 'the grow hook too');
  const v8Imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)).map((i) => `${i.module}.${i.name}`);
  tt.same(v8Imports.sort(), [...piece.imports, ...piece.hostImports].map((i) => `${i.module}.${i.name}`).sort(), 'every import binaryen emitted, described once');
  const exportRef = (name: string) => piece.exports.find((e) => e.name === name)?.ref;
  tt.same(exportRef('run'), { kind: 'function', index: m.info.exports.find((e) => e.name === 'run')!.index });
  tt.same(exportRef('acc'), { kind: 'global', index: 1 });
  tt.same(decodeModuleBinary(bytes).memories, [{ initial: 1, maximum: 3 }], 'the memory cap survives optimization');

  const base = link(m, baseline, { env: env() });
  const whole = link(m, piece, { env: env() });
  tt.equal(new Uint32Array(whole.memory.buffer)[0], 77, 'start ran');
  tt.same(run(whole.exports), run(base.exports), 'the same results as the baseline');
  tt.same(whole.deltas, base.deltas, 'and the same questions to the hook');
  try {
    (whole.exports['die'] as Fn)();
    tt.fail('did not trap');
  } catch (e) {
    tt.match((e as Error).stack, /\bdie\b/, 'names survive optimization');
  }
  const { unused: _, ...withoutUnused } = env();
  tt.throws(() => link(m, piece, { env: withoutUnused }), WebAssembly.LinkError);
});

t.test('describeOptimizedWhole refuses bytes that are not an optimization of the module', async (tt) => {
  const m = await capped();
  const baseline = wholeModulePiece(m);
  const other = moduleFromWat('(module (import "env" "other" (func)) (func (export "run")))');
  tt.throws(() => describeOptimizedWhole(baseline, other.bytes), /imports function env\.other/);
  const extraExport = moduleFromWat('(module (func (export "nope")))');
  tt.throws(() => describeOptimizedWhole(baseline, extraExport.bytes), /exports nope/);
});

const TABLES_WAT = `(module
  (table $t 2 funcref)
  (table $u (export "u") 1 externref)
  (elem (table $t) (i32.const 0) func $seven)
  (func $seven (result i32) i32.const 7)
  (func (export "grow") (param i32) (result i32) (table.grow $t (ref.func $seven) (local.get 0)))
  (func (export "at") (param i32) (result i32) (call_indirect $t (result i32) (local.get 0)))
  (func (export "size") (result i32) table.size $t)
  (func $start (drop (table.grow $t (ref.null func) (i32.const 1))))
  (start $start))`;

t.test('a module with tables exports each one, says what they start with, and asks the hook before table.grow', async (tt) => {
  const m = moduleFromWat(TABLES_WAT);
  const baseline = wholeModulePiece(m);
  tt.equal(baseline.tableElements, 3, 'its tables start with 2 + 1 elements');
  tt.same(baseline.hostImports, [{ module: 'jit', name: 'table.grow', host: 'tableGrow' }]);
  tt.same(baseline.exports.at(-1), { name: 'table:0', ref: { kind: 'table', index: 0 } }, 'the unexported table is exported');
  const optimized = describeOptimizedWhole(baseline, optimizeBinary(baseline.bytes, { level: 3, keepImports: true }));
  tt.equal(optimized.tableElements, 3, 'read back from what binaryen emitted');
  tt.same(optimized.hostImports, baseline.hostImports);
  tt.same(optimized.exports.find((e) => e.name === 'table:0')?.ref, { kind: 'table', index: 0 }, 'the table export survives optimization');

  const calls = (x: WebAssembly.Exports) => [(x['grow'] as Fn)(2), (x['at'] as Fn)(4), (x['size'] as Fn)(), (x['grow'] as Fn)(0)];
  const expected = calls(instantiateDirect(m.bytes).exports);
  tt.same(expected, [3, 7, 5, 5], 'direct: the start function grew it by one');
  for (const piece of [baseline, optimized]) {
    const label = piece === baseline ? 'baseline' : 'optimized';
    const linked = link(m, piece, {});
    tt.same(calls(linked.exports), expected, `${label}: the same results`);
    tt.same(linked.tableDeltas, [1, 2, 0], `${label}: the hook saw every delta, the start function's first`);
    tt.equal((linked.exports['table:0'] as WebAssembly.Table).length, 5, `${label}: the exported table is the one the code grows`);
    const refused = link(m, piece, {}, 0);
    tt.same([(refused.exports['grow'] as Fn)(1), (refused.exports['size'] as Fn)()], [-1, 2], `${label}: refused, the table keeps its size`);
  }
});
