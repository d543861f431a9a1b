// The session memory budget's rewrites of compiled pieces: every memory.grow asks a hook first
// (wherever it sits: nested in any operand, in any function), every function index is
// renumbered around the hook's import, and a defined memory becomes an import of the same
// limits. Checked by running the rewritten modules, not by reading their bytes.

import t from 'tap';
import { watBytes } from '../executor/helpers.ts';
import { instrumentMemoryGrow, rewriteForSession } from '../../src/wasm/growInstrumentation.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
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
    const r = rewriteForSession(watBytes(wat(grow)), { module: 'jit', hook: 'memory.grow', memory: 'memory:0' });
    if (!r) throw new Error('expected a rewrite');
    t.same([r.memoryImported, r.hooked], [true, grow !== '']);
    const binary = decodeModuleBinary(r.bytes);
    t.equal(binary.importedMemories, 1);
    t.same(binary.memories, [{ initial: 2, maximum: 5 }]);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 5 });
    const x = instantiateDirect(r.bytes, { jit: { 'memory:0': memory, 'memory.grow': (d: number) => d } }).exports;
    t.equal((x['peek'] as () => number)(), 'i'.charCodeAt(0), 'the data segment initialized it');
    t.equal(x['mem'], memory, 'the instance exports the memory it was given');
    if (grow) t.equal((x['grow'] as (d: number) => number)(1), 2);
  }
  const imported = rewriteForSession(watBytes('(module (import "a" "m" (memory 1)))'), { module: 'jit', hook: 'g', memory: 'memory:0' });
  t.equal(imported, null, 'an imported memory stays as it is');
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
