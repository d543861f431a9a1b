// compileWhole: the whole module as one piece, unoptimized (the binary of record) or optimized,
// with the original imports (unused ones included) and exports, and its start function.

import t from 'tap';
import { compileWhole, parseModule } from '../../src/wasm/index.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { instantiateDirect } from './helpers.ts';

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
  (func $die (export "die") unreachable)
  (func $start i32.const 0 i32.const 77 i32.store)
  (start $start))`;

const host = () => ({
  env: { unused: () => {}, seed: new WebAssembly.Global({ value: 'i32' }, 1000), twice: (x: number) => 2 * x },
});

t.test('optimize 0 is the binary of record with the original imports and exports', async (tt) => {
  const m = parseModule({ wat: WAT });
  t.teardown(() => m.dispose());
  const piece = compileWhole(m, { optimizeLevel: 0 });
  tt.equal(piece.bytes, m.bytes);
  tt.same(
    piece.imports,
    m.info.imports.map((i) => ({ module: i.module, name: i.name, ref: { kind: i.kind, index: i.index } })),
  );
  tt.same(piece.exports.map((e) => [e.name, e.ref.kind, e.ref.index]), m.info.exports.map((e) => [e.name, e.kind, e.index]));
});

t.test('optimized: same behaviour, same imports (even unused ones), start still runs', async (tt) => {
  const m = parseModule({ wat: WAT }, { memoryMaxPages: 3 });
  t.teardown(() => m.dispose());
  const piece = compileWhole(m, { optimizeLevel: 3 });
  tt.not(piece.bytes, m.bytes);
  tt.same(
    piece.imports.map((i) => [i.module, i.name, i.ref.kind, i.ref.index]).sort(),
    m.info.imports.map((i) => [i.module, i.name, i.kind, i.index]).sort(),
    'the unused import is still there, so linking fails where direct instantiation would',
  );
  const exportRef = (name: string) => piece.exports.find((e) => e.name === name)?.ref;
  tt.same(exportRef('run'), { kind: 'function', index: m.info.exports.find((e) => e.name === 'run')!.index });
  tt.same(exportRef('acc'), { kind: 'global', index: 1 });
  tt.same(decodeModuleBinary(piece.bytes).memories, [{ initial: 1, maximum: 3 }], 'the memory cap survives optimization');

  const direct = instantiateDirect(m.bytes, host()).exports;
  const whole = instantiateDirect(piece.bytes, host()).exports;
  tt.equal(new Uint32Array((whole['mem'] as WebAssembly.Memory).buffer)[0], 77, 'start ran');
  for (const x of [1, 5, 10]) {
    tt.equal((whole['run'] as (x: number) => number)(x), (direct['run'] as (x: number) => number)(x));
  }
  tt.equal((whole['acc'] as WebAssembly.Global).value, (direct['acc'] as WebAssembly.Global).value);
  try {
    (whole['die'] as () => void)();
    tt.fail('did not trap');
  } catch (e) {
    tt.match((e as Error).stack, /\bdie\b/, 'names survive optimization');
  }
  const { env } = host();
  const { unused: _, ...withoutUnused } = env;
  tt.throws(() => instantiateDirect(piece.bytes, { env: withoutUnused }), WebAssembly.LinkError);
});
