// The globals module plus extracted functions, linked by hand, behave exactly like the original
// module instantiated directly on V8: memory, globals, tables and element segments, start,
// recursion, multi-value, segment instructions kept in the globals module, SIMD, reference types.

import t from 'tap';
import { buildGlobalsModule, extractFunctions, parseModule, type ParsedModule } from '../../src/wasm/index.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { instantiateDirect, instantiateSplit } from './helpers.ts';

const WAT = `(module
  (type $unary (func (param i32) (result i32)))
  (import "host" "log" (func $log (param i32)))
  (import "host" "ticks" (global $ticks (mut i32)))
  (import "host" "base" (global $base i32))
  (memory $mem (export "memory") 1 4)
  (table $fns (export "fns") 4 8 funcref)
  (table $things 2 externref)
  (global $counter (mut i32) (i32.const 100))
  (global $big (mut i64) (i64.const -5))
  (global $chosen (mut funcref) (ref.func $double))
  (data (i32.const 16) "\\2a\\00\\00\\00")
  (data (global.get $base) "\\07\\00\\00\\00")
  (data $greeting "hello, world")
  (elem (table $fns) (i32.const 0) func $double $square $negate)
  (elem $spare func $square $double)

  (func $double (type $unary) local.get 0 i32.const 2 i32.mul)
  (func $square (type $unary) local.get 0 local.get 0 i32.mul)
  (func $negate (type $unary) i32.const 0 local.get 0 i32.sub)
  (func $apply (export "apply") (param $slot i32) (param $x i32) (result i32)
    local.get $x local.get $slot call_indirect $fns (type $unary))
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_u
    if (result i32) local.get 0
    else local.get 0 i32.const 1 i32.sub call $fib local.get 0 i32.const 2 i32.sub call $fib i32.add end)
  (func $even (export "even") (param i32) (result i32)
    local.get 0 i32.eqz if (result i32) i32.const 1 else local.get 0 i32.const 1 i32.sub return_call $odd end)
  (func $odd (param i32) (result i32)
    local.get 0 i32.eqz if (result i32) i32.const 0 else local.get 0 i32.const 1 i32.sub return_call $even end)
  (func $divmod (export "divmod") (param i32 i32) (result i32 i32)
    local.get 0 local.get 1 i32.div_u local.get 0 local.get 1 i32.rem_u)
  (func $swap (export "swap") (param i64 f64) (result f64 i64) local.get 1 local.get 0)
  (func $divsum (export "divsum") (param i32 i32) (result i32) local.get 0 local.get 1 call $divmod i32.add)
  (func $store (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
  (func $load (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func $load8s (export "load8s") (param i32) (result i32) local.get 0 i32.load8_s offset=1)
  (func $bump (export "bump") (result i32)
    global.get $counter i32.const 1 i32.add global.set $counter
    global.get $ticks global.get $base i32.add global.set $ticks
    global.get $counter)
  (func $big (export "big") (param i64) (result i64) global.get $big local.get 0 i64.mul global.set $big global.get $big)
  (func $choose (export "choose") (param i32) (result i32)
    local.get 0 i32.eqz if ref.func $square global.set $chosen end
    i32.const 3 global.get $chosen table.set $fns
    i32.const 5 i32.const 3 call_indirect $fns (type $unary))
  (func $greet (export "greet") (param $dst i32)
    local.get $dst i32.const 0 i32.const 12 memory.init $greeting
    local.get $dst call $log)
  (func $respare (export "respare") (result i32)
    i32.const 2 i32.const 0 i32.const 2 table.init $fns $spare
    elem.drop $spare
    i32.const 2 i32.const 7 call $apply)
  (func $fill (export "fill") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill)
  (func $copy (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy)
  (func $grow (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func $pages (export "pages") (result i32) memory.size)
  (func $simd (export "simd") (param i32) (result i32) (local v128)
    local.get 0 v128.load
    v128.const i32x4 1 2 3 4 i32x4.add
    local.get 0 v128.load i32x4.mul
    local.tee 1 drop
    local.get 0 i32.const 32 i32.add local.get 1 v128.store
    local.get 1 i32x4.extract_lane 3)
  (func $keep (export "keep") (param externref) (result i32)
    i32.const 1 local.get 0 table.set $things
    i32.const 1 table.get $things ref.is_null)
  (func $tsize (export "tsize") (result i32) ref.null func i32.const 1 table.grow $fns drop table.size $fns)
  (func $pick (export "pick") (param i32) (result funcref)
    local.get 0 if (result funcref) ref.func $negate else ref.null func end)
  (func $sat (export "sat") (param f64) (result i32) local.get 0 i32.trunc_sat_f64_s)
  (func $ext (export "ext") (param i32) (result i32) local.get 0 i32.extend8_s)
  (func $boom (export "boom") (param i32) (result i32) local.get 0 if unreachable end local.get 0)
  (func $init
    i32.const 0 i32.const 7 i32.store
    i32.const 8 global.get $counter i32.store
    i32.const 99 call $log)
  (start $init)
)`;

/** Calls (export name, arguments) run in order against both instances; results must agree. */
const SCRIPT: [string, unknown[]][] = [
  ['load', [0]],
  ['load', [8]],
  ['load', [16]],
  ['load', [3]],
  ['apply', [0, 21]],
  ['apply', [1, 9]],
  ['apply', [2, 5]],
  ['fib', [15]],
  ['even', [10001]],
  ['even', [5000]],
  ['divmod', [17, 5]],
  ['swap', [-3n, 2.5]],
  ['divsum', [100, 7]],
  ['store', [40, -559038737]],
  ['load8s', [40]],
  ['bump', []],
  ['bump', []],
  ['big', [3n]],
  ['big', [-7n]],
  ['choose', [1]],
  ['choose', [0]],
  ['greet', [200]],
  ['load', [200]],
  ['respare', []],
  ['apply', [3, 6]],
  ['fill', [300, 0xab, 8]],
  ['copy', [304, 200, 6]],
  ['load', [300]],
  ['load', [304]],
  ['grow', [1]],
  ['pages', []],
  ['grow', [5]],
  ['store', [48, 0x01020304]],
  ['simd', [48]],
  ['load', [92]],
  ['keep', [null]],
  ['keep', [{ some: 'thing' }]],
  ['tsize', []],
  ['tsize', []],
  ['sat', [1e20]],
  ['sat', [Number.NaN]],
  ['ext', [0xff]],
  ['boom', [0]],
];

function host(log: unknown[]) {
  return {
    host: {
      log: (x: number) => void log.push(x),
      ticks: new WebAssembly.Global({ value: 'i32', mutable: true }, 1000),
      base: new WebAssembly.Global({ value: 'i32', mutable: false }, 3),
    },
  };
}

function run(exports: Record<string, WebAssembly.ExportValue>): unknown[] {
  return SCRIPT.map(([name, args]) => {
    const r = (exports[name] as (...a: unknown[]) => unknown)(...args);
    // A funcref result is compared by whether it is null and what it computes.
    return typeof r === 'function' ? ['func', (r as (x: number) => number)(5)] : r;
  });
}

function memoryBytes(exports: Record<string, WebAssembly.ExportValue>): number[] {
  return [...new Uint8Array((exports['memory'] as WebAssembly.Memory).buffer, 0, 512)];
}

let parsed: ParsedModule;
t.before(() => {
  parsed = parseModule({ wat: WAT });
});
t.teardown(() => parsed.dispose());

for (const optimizeLevel of [0, 2]) {
  t.test(`split and linked module behaves like the original (optimize ${optimizeLevel})`, async (tt) => {
    const directLog: unknown[] = [];
    const directHost = host(directLog);
    const direct = instantiateDirect(parsed.bytes, directHost).exports as Record<string, WebAssembly.ExportValue>;
    const splitLog: unknown[] = [];
    const splitHost = host(splitLog);
    const split = instantiateSplit(parsed, splitHost, { optimizeLevel });

    tt.same(memoryBytes(split.exports), memoryBytes(direct), 'memory after start');
    tt.same(splitLog, directLog, 'start called the host');
    const expected = run(direct);
    const actual = run(split.exports);
    SCRIPT.forEach(([name, args], i) => tt.same(actual[i], expected[i], `${name}(${args.map(String).join(', ')})`));
    tt.same(memoryBytes(split.exports), memoryBytes(direct), 'memory after the calls');
    tt.same(splitLog, directLog, 'host calls');
    tt.equal(splitHost.host.ticks.value, directHost.host.ticks.value, 'imported mutable global');
    tt.equal((split.exports['fns'] as WebAssembly.Table).length, (direct['fns'] as WebAssembly.Table).length);
    const result = (name: string) => expected[SCRIPT.findIndex(([n]) => n === name)];
    tt.equal(result('fib'), 610, 'fib(15)');
    tt.same(result('divmod'), [3, 2], 'divmod multi-value');
    tt.equal(result('respare'), 49, 'table.init from a passive element segment, then call_indirect');
    tt.equal(result('greet'), undefined);
    tt.same(splitLog.at(-1), 200, 'greet ran memory.init in the globals module, then called the host');
  });
}

t.test('the globals module imports every original import and exports every memory, table, global', async (tt) => {
  const kept = parsed.functionsUsingSegments();
  const names = kept.map((i) => parsed.info.functions[i]!.name).sort();
  tt.same(names, ['greet', 'respare'], 'memory.init and table.init users are the kept functions');
  const g = buildGlobalsModule(parsed, { keepFunctions: kept, optimizeLevel: 0 });

  const originals = g.imports.filter((i) => i.module === 'host');
  tt.same(
    originals.map((i) => [i.name, i.ref.kind, i.ref.index]).sort(),
    parsed.info.imports.map((i) => [i.name, i.kind, i.index]).sort(),
  );
  const fnImports = g.imports.filter((i) => i.module === 'fn').map((i) => parsed.info.functions[i.ref.index]!.name);
  // Element segments name double/square/negate; $chosen's initializer names double; respare calls apply.
  tt.same(fnImports.sort(), ['apply', 'double', 'negate', 'square']);
  tt.ok(g.imports.filter((i) => i.module === 'fn').every((i) => i.name === String(i.ref.index)));

  tt.same(
    g.exports.map((e) => e.name),
    ['memory:0', 'table:0', 'table:1', 'global:0', 'global:1', 'global:2', 'global:3', 'global:4', ...kept.map((i) => `function:${i}`)],
  );
  tt.ok(g.exports.every((e) => e.name === `${e.ref.kind}:${e.ref.index}`));
  tt.same(g.start, { kind: 'function', index: parsed.info.start });
  const decoded = decodeModuleBinary(g.bytes);
  tt.equal(decoded.start, null, 'no start section: the linker runs it once the pieces are linked');
  tt.equal(decoded.code.length, kept.length, 'only the kept bodies');
  tt.same(WebAssembly.Module.exports(new WebAssembly.Module(g.bytes as Uint8Array<ArrayBuffer>)).length, g.exports.length);
});

t.test('extracted pieces hold only the listed bodies and import the rest by ref', async (tt) => {
  const idx = (name: string) => parsed.info.functions.find((f) => f.name === name)!.index;
  const piece = extractFunctions(parsed, [idx('choose')], { optimizeLevel: 0 });
  const chosen = 4; // after the imported $ticks and $base, then $counter and $big
  const decoded = decodeModuleBinary(piece.bytes);
  tt.equal(decoded.code.length, 1, 'one body');
  tt.same(piece.exports, [{ name: `function:${idx('choose')}`, ref: { kind: 'function', index: idx('choose') } }]);
  tt.same(
    piece.imports.map((i) => [i.module, i.name, i.ref.kind, i.ref.index]).sort(),
    [
      ['fn', String(idx('square')), 'function', idx('square')],
      ['g', `global:${chosen}`, 'global', chosen],
      ['g', 'table:0', 'table', 0],
    ].sort(),
  );
  const types = WebAssembly.Module.imports(new WebAssembly.Module(piece.bytes as Uint8Array<ArrayBuffer>));
  tt.same(types.map((i) => i.kind).sort(), ['function', 'global', 'table']);

  const pair = extractFunctions(parsed, [idx('even'), idx('odd')], { optimizeLevel: 0 });
  tt.same(pair.imports, [], 'mutual tail calls inside one piece are direct');
  tt.same(pair.exports.map((e) => e.ref.index).sort(), [idx('even'), idx('odd')].sort());

  const fib = extractFunctions(parsed, [idx('fib')], { optimizeLevel: 2 });
  tt.same(fib.imports, [], 'self-recursion is direct');
  const fibExports = instantiateDirect(fib.bytes).exports;
  tt.equal((fibExports[`function:${idx('fib')}`] as (n: number) => number)(20), 6765);

  const simd = extractFunctions(parsed, [idx('simd')], { optimizeLevel: 2 });
  tt.same(
    simd.imports.map((i) => i.name),
    ['memory:0'],
  );
  const memType = WebAssembly.Module.imports(new WebAssembly.Module(simd.bytes as Uint8Array<ArrayBuffer>));
  tt.same(memType, [{ module: 'g', name: 'memory:0', kind: 'memory' }]);
});

t.test('grouped partitions link and behave like the original too', async (tt) => {
  const defined = parsed.info.functions.filter((f) => !f.imported && !f.usesSegments).map((f) => f.index);
  const groups = [defined.filter((i) => i % 2 === 0), defined.filter((i) => i % 2 === 1)];
  const directLog: unknown[] = [];
  const direct = instantiateDirect(parsed.bytes, host(directLog)).exports as Record<string, WebAssembly.ExportValue>;
  const split = instantiateSplit(parsed, host([]), { optimizeLevel: 1, groups });
  tt.equal(split.pieces.length, 2);
  tt.same(run(split.exports), run(direct));
});

t.test('traps in extracted code name the wasm function', async (tt) => {
  const split = instantiateSplit(parsed, host([]), { optimizeLevel: 0 });
  try {
    (split.exports['boom'] as (x: number) => number)(1);
    tt.fail('did not trap');
  } catch (e) {
    tt.ok(e instanceof WebAssembly.RuntimeError);
    tt.match((e as Error).stack, /\bboom\b/);
  }
});

t.test('extractFunctions refuses what it cannot extract', async (tt) => {
  const greet = parsed.info.functions.find((f) => f.name === 'greet')!.index;
  tt.throws(() => extractFunctions(parsed, [greet], { optimizeLevel: 0 }), /segment/);
  tt.throws(() => extractFunctions(parsed, [0], { optimizeLevel: 0 }), /not a function the module defines/);
  tt.throws(() => extractFunctions(parsed, [10_000], { optimizeLevel: 0 }), /not a function the module defines/);
  tt.throws(() => extractFunctions(parsed, [], { optimizeLevel: 0 }));
  tt.throws(() => buildGlobalsModule(parsed, { keepFunctions: [0], optimizeLevel: 0 }), /not a function the module defines/);
});

t.test('a binary module (no names) splits and links the same way', async (tt) => {
  const bytes = new Uint8Array(parsed.bytes);
  // Strip the name section: binaryen then makes up its own names.
  const decoded = decodeModuleBinary(bytes);
  const names = decoded.sections.find((s) => s.id === 0 && s.name === 'name');
  const stripped = names ? new Uint8Array([...bytes.subarray(0, names.headerStart), ...bytes.subarray(names.end)]) : bytes;
  const m = parseModule({ wasm: stripped });
  t.teardown(() => m.dispose());
  const direct = instantiateDirect(stripped, host([])).exports as Record<string, WebAssembly.ExportValue>;
  const split = instantiateSplit(m, host([]), { optimizeLevel: 2 });
  tt.same(run(split.exports), run(direct));
});
