// The wasm side of re-optimization: baseline bodies count their entries and call the hook once,
// at the threshold; the optimized tier of a hot function is its closure cut into one piece that
// exports only the function, optimized by binaryen (which inlines the callees it chooses to) and
// read back by describeOptimizedPiece. That piece must link as the baseline pieces do, compute
// the same, keep its ref.func targets bound to stubs (identity imports stay marked) and keep
// asking the budget hook before memory.grow.

import t from 'tap';
import { cutPiece, describeOptimizedPiece, entityName, type CompiledPiece, type WasmModule } from '../../src/wasm/index.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { optimizeBinary } from '../../src/wasm/optimizing.ts';
import { instantiateDirect, instantiateSplit, moduleFromWat } from './helpers.ts';

type Fn = (...args: unknown[]) => unknown;

const WAT = `(module
  (table 1 funcref)
  (memory 1 4)
  (elem declare func $taken)
  (data $d "x")
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $mid (param i32) (result i32) (call $leaf (call $leaf (local.get 0))))
  (func $taken (result i32) (i32.const 7))
  (func $segments (data.drop $d))
  (func $root (export "root") (param i32) (result i32)
    (table.set (i32.const 0) (ref.func $taken))
    (call $segments)
    (i32.add (call $mid (local.get 0)) (call_indirect (result i32) (i32.const 0))))
  (func $growBy (param i32) (result i32) (memory.grow (local.get 0)))
  (func $pages (export "pages") (param i32) (result i32) (i32.add (call $growBy (local.get 0)) (i32.mul (memory.size) (i32.const 100))))
  (func $pair (export "pair") (param i32) (result i32 i32) (local.get 0) (call $leaf (local.get 0)))
)`;

const m = moduleFromWat(WAT);
const index = (name: string): number => {
  const f = m.info.functions.find((x) => x.name === name);
  if (!f) throw new Error(`no function ${name}`);
  return f.index;
};

/** The optimized tier of `root` holding `functions`, as the JIT's CompileLayer makes it. */
function optimizedTier(module: WasmModule, functions: number[], root: number): { cut: CompiledPiece; piece: CompiledPiece } {
  const cut = cutPiece(module.binary, (i) => module.references(i), { functions, exports: [root] });
  const piece = describeOptimizedPiece(cut, optimizeBinary(cut.bytes, { level: 2, keepImports: false }));
  return { cut, piece };
}

/** What V8 says a piece imports, against what its description says. */
function importsAsEmitted(piece: CompiledPiece): [string[], string[]] {
  const mod = new WebAssembly.Module(piece.bytes as Uint8Array<ArrayBuffer>);
  const emitted = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`);
  const described = [...piece.imports.map((i) => `${i.module}.${i.name}:${i.ref.kind}`), ...piece.hostImports.map((h) => `${h.module}.${h.name}:function`)];
  return [emitted.sort(), described.sort()];
}

t.test('an optimized closure piece exports only its root, inlines what binaryen chooses and computes the same', async (tt) => {
  const [root, mid, leaf, taken, segments] = ['root', 'mid', 'leaf', 'taken', 'segments'].map(index) as [number, number, number, number, number];
  tt.same(m.functionsUsingSegments(), [segments], 'segments stays in the globals module: it is no member');
  // The closure: root, then its callees breadth first; taken is held too, reached by ref.func.
  const { cut, piece } = optimizedTier(m, [root, taken, mid, leaf], root);
  tt.same(piece.exports, [{ name: entityName({ kind: 'function', index: root }), ref: { kind: 'function', index: root } }]);

  const optimized = decodeModuleBinary(piece.bytes);
  const names = [...optimized.functionNames.values()];
  tt.ok(optimized.code.length < 4, `binaryen inlined callees (${optimized.code.length} of 4 bodies left: ${names.join(', ')})`);
  tt.notOk(names.includes('mid'), 'mid, called once, was inlined into root');

  const [emitted, described] = importsAsEmitted(piece);
  tt.same(emitted, described, 'the description lists what binaryen emitted');
  tt.ok(
    piece.imports.every((i) => cut.imports.includes(i)),
    'every import is one of the cut piece’s (binaryen may only drop some)',
  );
  const functionImports = piece.imports.filter((i) => i.ref.kind === 'function');
  tt.same(
    functionImports.map((i) => [i.name, i.ref.index, i.identity === true]).sort(),
    [
      [String(segments), segments, false],
      [`ref:${taken}`, taken, true],
    ].sort(),
    'the call to segments is a call import; ref.func $taken stays an identity import although the piece holds taken',
  );

  const direct = instantiateDirect(m.bytes).exports;
  const split = instantiateSplit(m);
  const optimizedRoot = split.link(piece).exports[entityName({ kind: 'function', index: root })] as Fn;
  const table = split.globalsInstance.exports[entityName({ kind: 'table', index: 0 })] as WebAssembly.Table;
  for (const x of [0, 40, -5]) {
    table.set(0, null);
    tt.equal(optimizedRoot(x), (direct['root'] as Fn)(x), `root(${x})`);
    tt.equal(table.get(0), split.stub(taken), 'the reference root stores is taken’s stub, as in the baseline');
  }
  tt.equal(optimizedRoot(40), 40 + 2 + 7, 'mid adds 2, the function in slot 0 returns 7');
  split.replace(root, optimizedRoot);
  tt.equal((split.stub(root) as Fn)(40), (split.exports['root'] as Fn)(40), 'behind the stub, the optimized tier answers as the baseline did');
});

t.test('memory.grow in an inlined callee still asks the hook first', async (tt) => {
  const [pages, growBy] = [index('pages'), index('growBy')];
  const { cut, piece } = optimizedTier(m, [pages, growBy], pages);
  tt.same(cut.hostImports, [{ module: 'jit', name: 'memory.grow', host: 'memoryGrow' }]);
  tt.same(piece.hostImports, cut.hostImports, 'the hook import survives optimization');
  tt.same([...decodeModuleBinary(piece.bytes).functionNames.values()], ['pages'], 'growBy, called once, was inlined');
  const [emitted, described] = importsAsEmitted(piece);
  tt.same(emitted, described);

  const deltas: number[] = [];
  const split = instantiateSplit(m, {}, { hooks: { memoryGrow: (d) => (deltas.push(d), d) } });
  const optimizedPages = split.link(piece).exports[entityName({ kind: 'function', index: pages })] as Fn;
  const direct = instantiateDirect(m.bytes).exports;
  for (const n of [1, 2, 5]) tt.equal(optimizedPages(n), (direct['pages'] as Fn)(n), `pages(${n})`);
  tt.same(deltas, [1, 2, 5], 'every memory.grow asked the hook with its delta');
});

t.test('entry counters call the hook once, at the threshold, with the id, and leave results alone', async (tt) => {
  const pair = index('pair');
  const hits: number[] = [];
  const split = instantiateSplit(m, {}, { entryCounters: { threshold: 3, ids: new Map([[pair, 77]]) }, hooks: { reoptimize: (id) => void hits.push(id) } });
  const holder = split.pieces.find((p) => p.exports.some((e) => e.ref.index === pair))!;
  tt.same(holder.hostImports, [{ module: 'jit', name: 'reoptimize', host: 'reoptimize' }]);
  tt.ok(
    split.pieces.filter((p) => p !== holder).every((p) => p.hostImports.every((h) => h.host !== 'reoptimize')),
    'only the counted function’s piece imports the hook',
  );
  const f = split.exports['pair'] as (x: number) => number[];
  for (let i = 0; i < 5; i++) {
    tt.same(f(i), [i, i + 1], `call ${i + 1} computes what it did`);
    tt.same(hits, i + 1 >= 3 ? [77] : [], `after ${i + 1} calls`);
  }
});

t.test('describeOptimizedPiece refuses bytes that are not an optimization of the cut', async (tt) => {
  const [root, pages, growBy] = [index('root'), index('pages'), index('growBy')];
  const rootTier = optimizedTier(m, [root], root);
  const pagesTier = optimizedTier(m, [pages, growBy], pages);
  tt.throws(() => describeOptimizedPiece(rootTier.cut, pagesTier.piece.bytes), /the optimized (module imports|piece exports)/);
  const unoptimized = cutPiece(m.binary, (i) => m.references(i), { functions: [root, pages], exports: [root, pages] });
  tt.throws(() => describeOptimizedPiece(rootTier.cut, unoptimized.bytes), /imports function|exports function/);
});
