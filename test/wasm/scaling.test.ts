// Cutting works the same in a 20-function and a 20,000-function module, and what it produces
// depends only on the function cut: the piece for f_5 is byte-for-byte the same in both, cut as
// the baseline tier cuts it and optimized as the optimized tier does. (Timing belongs to
// benchmarks; this checks behaviour.)

import t from 'tap';
import { cutPiece, type WasmModule } from '../../src/wasm/index.ts';
import { optimizeBinary } from '../../src/wasm/optimizing.ts';
import { instantiateDirect, instantiateSplit, manyFunctionsWat, moduleFromWat } from './helpers.ts';

/** f_k calls f_(k/2): the functions a call to f_k can reach. */
function chain(k: number): number[] {
  const out = [k];
  while (k > 0) out.push((k >>= 1));
  return out;
}

const small = moduleFromWat(manyFunctionsWat(20));
const large = moduleFromWat(manyFunctionsWat(20_000));
const cut = (m: WasmModule, functions: number[], exports?: number[]) =>
  cutPiece(m.binary, (i) => m.references(i), { functions, ...(exports ? { exports } : {}) });

t.test('module sizes as generated', async (tt) => {
  tt.equal(small.info.functions.length, 20);
  tt.equal(large.info.functions.length, 20_000);
});

for (const [label, m, count] of [
  ['20 functions', small, 20],
  ['20,000 functions', large, 20_000],
] as const) {
  t.test(`${label}: the last function, cut with what it calls, matches direct instantiation`, async (tt) => {
    const last = count - 1;
    const direct = instantiateDirect(m.bytes).exports;
    const split = instantiateSplit(m, {}, { groups: chain(last).map((i) => [i]) });
    tt.equal(split.pieces.length, chain(last).length, 'only the reachable functions were cut');
    for (const x of [0, 1, 3, 1000]) {
      tt.equal((split.exports[`f${last}`] as (x: number) => number)(x), (direct[`f${last}`] as (x: number) => number)(x), `f${last}(${x})`);
    }
  });
}

t.test('a piece depends on its function, not on the module around it', async (tt) => {
  const a = cut(small, [5]);
  const b = cut(large, [5]);
  tt.same(b.imports, a.imports, 'imports');
  tt.same(b.exports, a.exports, 'exports');
  tt.same([...b.bytes], [...a.bytes], 'bytes');
  const optimized = (m: WasmModule) => optimizeBinary(cut(m, chain(5), [5]).bytes, { level: 2, keepImports: false });
  tt.same([...optimized(large)], [...optimized(small)], 'f_5 with its callees, optimized');

  const piece = cut(large, [14_000]);
  tt.same(
    piece.imports.map((i) => `${i.module}.${i.name}`),
    ['g.memory:0', 'g.global:0', 'fn.7000'],
    "f_14000: the module's one memory and one global (every piece imports them all), then f_7000, which it calls",
  );
  tt.ok(piece.bytes.length < 300, `small piece (${piece.bytes.length} bytes)`);
});
