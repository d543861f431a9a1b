// The wasm side of re-optimization: entry counters call the hook exactly once, at the
// threshold, and leave results alone; a re-optimized piece holds the function and the callees
// it reaches (not those it takes a ref.func of, nor those that must stay with the segments),
// exports only the function, and lets binaryen inline the rest.

import t from 'tap';
import { extractFunctions, parseModule, reoptimizationClosure, reoptimizeFunction } from '../../src/wasm/index.ts';

const WAT = `(module
  (table 1 funcref)
  (elem declare func $taken)
  (data $d "x")
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $mid (param i32) (result i32) (call $leaf (call $leaf (local.get 0))))
  (func $taken (result i32) (i32.const 7))
  (func $segments (data.drop $d))
  (func $root (export "root") (param i32) (result i32)
    (table.set (i32.const 0) (ref.func $taken))
    (call $segments)
    (call $mid (local.get 0)))
  (func $pair (export "pair") (param i32) (result i32 i32) (local.get 0) (call $leaf (local.get 0)))
)`;

const index = (m: ReturnType<typeof parseModule>, name: string) => m.info.functions.find((f) => f.name === name)?.index as number;

t.test('the closure: direct callees, not ref.func targets nor segment users, bounded', async (t) => {
  const m = parseModule({ wat: WAT });
  t.teardown(() => m.dispose());
  const [root, mid, leaf] = ['root', 'mid', 'leaf'].map((n) => index(m, n));
  t.same(reoptimizationClosure(m, root!, 32), [root, mid, leaf]);
  t.same(reoptimizationClosure(m, root!, 2).length, 2, 'maxFunctions bounds it');
});

t.test('a re-optimized piece exports only its root, inlines the callees and computes the same', async (t) => {
  const m = parseModule({ wat: WAT });
  t.teardown(() => m.dispose());
  const root = index(m, 'root');
  const piece = reoptimizeFunction(m, root, { optimizeLevel: 2, maxFunctions: 32 });
  t.same(piece.exports.map((e) => e.ref), [{ kind: 'function', index: root }]);
  const importedFns = piece.imports.filter((i) => i.ref.kind === 'function').map((i) => i.ref.index);
  t.same(importedFns.sort(), [index(m, 'segments'), index(m, 'taken')].sort(), 'only what stays outside is imported');
  const mod = new WebAssembly.Module(piece.bytes as Uint8Array<ArrayBuffer>);
  t.equal(WebAssembly.Module.exports(mod).length, 1, 'mid and leaf were inlined away');
  const imports: Record<string, Record<string, unknown>> = {};
  for (const imp of piece.imports) {
    (imports[imp.module] ??= {})[imp.name] = imp.ref.kind === 'table' ? new WebAssembly.Table({ initial: 1, element: 'anyfunc' }) : () => 7;
  }
  const inst = new WebAssembly.Instance(mod, imports as WebAssembly.Imports);
  t.equal((inst.exports[piece.exports[0]!.name] as (x: number) => number)(40), 42);
});

t.test('entry counters call the hook once, at the threshold, with the id', async (t) => {
  const m = parseModule({ wat: WAT });
  t.teardown(() => m.dispose());
  const pair = index(m, 'pair');
  const piece = extractFunctions(m, [pair], { optimizeLevel: 2, entryCounters: { threshold: 3, ids: new Map([[pair, 77]]) } });
  t.same(piece.hostImports, [{ module: 'jit', name: 'reoptimize', host: 'reoptimize' }]);
  const hits: number[] = [];
  const imports: Record<string, Record<string, Function>> = { jit: { reoptimize: (id: number) => hits.push(id) } };
  for (const imp of piece.imports) (imports[imp.module] ??= {})[imp.name] = (x: number) => x + 1;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(piece.bytes as Uint8Array<ArrayBuffer>), imports as WebAssembly.Imports);
  const f = inst.exports[piece.exports[0]!.name] as (x: number) => number[];
  for (let i = 0; i < 5; i++) {
    t.same(f(i), [i, i + 1], `call ${i + 1} computes what it did`);
    t.same(hits, i + 1 >= 3 ? [77] : [], `after ${i + 1} calls`);
  }
});
