// Extraction works the same in a 20-function and a 20,000-function module, and what it
// produces depends only on the extracted function: the piece for f_5 is byte-for-byte the same
// in both. (Timing belongs to benchmarks; this checks behaviour.)

import t from 'tap';
import { extractFunctions, parseModule } from '../../src/wasm/index.ts';
import { instantiateDirect, instantiateSplit, manyFunctionsWat } from './helpers.ts';

/** f_k calls f_(k/2): the functions a call to f_k can reach. */
function chain(k: number): number[] {
  const out = [k];
  while (k > 0) out.push((k >>= 1));
  return out;
}

const small = parseModule({ wat: manyFunctionsWat(20) });
const large = parseModule({ wat: manyFunctionsWat(20_000) });
t.teardown(() => {
  small.dispose();
  large.dispose();
});

t.test('module sizes as generated', async (tt) => {
  tt.equal(small.info.functions.length, 20);
  tt.equal(large.info.functions.length, 20_000);
});

for (const [label, m, count] of [
  ['20 functions', small, 20],
  ['20,000 functions', large, 20_000],
] as const) {
  t.test(`${label}: the last function, extracted with what it calls, matches direct instantiation`, async (tt) => {
    const last = count - 1;
    const direct = instantiateDirect(m.bytes).exports;
    const split = instantiateSplit(m, {}, { optimizeLevel: 2, groups: chain(last).map((i) => [i]) });
    tt.equal(split.pieces.length, chain(last).length, 'only the reachable functions were compiled');
    for (const x of [0, 1, 3, 1000]) {
      tt.equal((split.exports[`f${last}`] as (x: number) => number)(x), (direct[`f${last}`] as (x: number) => number)(x), `f${last}(${x})`);
    }
  });
}

t.test('a piece depends on its function, not on the module around it', async (tt) => {
  for (const level of [0, 2]) {
    const a = extractFunctions(small, [5], { optimizeLevel: level });
    const b = extractFunctions(large, [5], { optimizeLevel: level });
    tt.same(b.imports, a.imports, `imports (optimize ${level})`);
    tt.same(b.exports, a.exports, `exports (optimize ${level})`);
    tt.same([...b.bytes], [...a.bytes], `bytes (optimize ${level})`);
  }
  const piece = extractFunctions(large, [14_000], { optimizeLevel: 0 });
  tt.same(
    piece.imports.map((i) => `${i.module}.${i.name}`).sort(),
    ['fn.7000', 'g.global:0', 'g.memory:0'],
    'f_14000 (a multiple of 7) touches f_7000, the counter global and memory',
  );
  tt.ok(piece.bytes.length < 300, `small piece (${piece.bytes.length} bytes)`);
});
