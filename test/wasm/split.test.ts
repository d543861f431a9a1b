// The globals module plus baseline pieces cut from the module's bytes, linked by hand, behave
// exactly like the original module instantiated directly on V8: memory, globals, tables and
// element segments, start, recursion, multi-value, segment instructions kept in the globals
// module, SIMD, reference types. (cutPiece.test.ts looks at the pieces themselves.)

import t from 'tap';
import { buildGlobalsModule, cutPiece, entityName, WasmModule, type CompiledPiece } from '../../src/wasm/index.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { instantiateDirect, instantiateSplit, moduleFromWat } from './helpers.ts';

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

const m = moduleFromWat(WAT);
const idx = (name: string): number => {
  const f = m.info.functions.find((x) => x.name === name);
  if (!f) throw new Error(`no function ${name}`);
  return f.index;
};

t.test('split and linked module behaves like the original', async (tt) => {
  const directLog: unknown[] = [];
  const directHost = host(directLog);
  const direct = instantiateDirect(m.bytes, directHost).exports as Record<string, WebAssembly.ExportValue>;
  const splitLog: unknown[] = [];
  const splitHost = host(splitLog);
  const split = instantiateSplit(m, splitHost);

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

t.test('the globals module imports every original import and exports every memory, table, global', async (tt) => {
  const kept = m.functionsUsingSegments();
  tt.same(kept.map((i) => m.info.functions[i]!.name).sort(), ['greet', 'respare'], 'memory.init and table.init users are the kept functions');
  const g = buildGlobalsModule(m, { keepFunctions: kept });

  const originals = g.imports.filter((i) => i.module === 'host');
  tt.same(
    originals.map((i) => [i.name, i.ref.kind, i.ref.index]).sort(),
    m.info.imports.map((i) => [i.name, i.kind, i.index]).sort(),
  );
  const fnImports = g.imports.filter((i) => i.module === 'fn').map((i) => m.info.functions[i.ref.index]!.name);
  // Element segments name double/square/negate; $chosen's initializer names double; respare calls apply.
  tt.same(fnImports.sort(), ['apply', 'double', 'negate', 'square']);
  tt.ok(g.imports.filter((i) => i.module === 'fn').every((i) => i.name === String(i.ref.index)));

  tt.same(
    g.exports.map((e) => e.name),
    ['memory:0', 'table:0', 'table:1', 'global:0', 'global:1', 'global:2', 'global:3', 'global:4', ...kept.map((i) => `function:${i}`)],
  );
  tt.ok(g.exports.every((e) => e.name === `${e.ref.kind}:${e.ref.index}`));
  tt.same(g.start, { kind: 'function', index: m.info.start });
  const decoded = decodeModuleBinary(g.bytes);
  tt.equal(decoded.start, null, 'no start section: the linker runs it once the pieces are linked');
  tt.equal(decoded.code.length, kept.length, 'only the kept bodies');
  tt.same(WebAssembly.Module.exports(new WebAssembly.Module(g.bytes as Uint8Array<ArrayBuffer>)).length, g.exports.length);
  tt.same(buildGlobalsModule(m, { keepFunctions: [...kept, ...kept] }).bytes, g.bytes, 'a kept function listed twice is kept once');
});

t.test('cut pieces hold only the listed bodies; calls out of the piece and ref.func targets are imports', async (tt) => {
  const split = instantiateSplit(m, host([]));
  const functionImports = (p: CompiledPiece) =>
    p.imports.filter((i) => i.ref.kind === 'function').map((i) => [i.name, i.ref.index, i.identity === true]);
  const cut = (functions: number[]) => cutPiece(m.binary, (i) => m.references(i), { functions });

  const choose = cut([idx('choose')]);
  tt.equal(decodeModuleBinary(choose.bytes).code.length, 1, 'one body');
  tt.same(choose.exports, [{ name: entityName({ kind: 'function', index: idx('choose') }), ref: { kind: 'function', index: idx('choose') } }]);
  tt.same(functionImports(choose), [[`ref:${idx('square')}`, idx('square'), true]], 'ref.func $square: an identity import');
  tt.same(
    choose.imports.filter((i) => i.ref.kind !== 'function').map((i) => i.name),
    ['memory:0', 'table:0', 'table:1', 'global:0', 'global:1', 'global:2', 'global:3', 'global:4'],
    'every memory, table and global, in index order, whatever the body uses',
  );
  const v8Imports = WebAssembly.Module.imports(new WebAssembly.Module(choose.bytes as Uint8Array<ArrayBuffer>));
  tt.same(
    v8Imports.map((i) => `${i.module}.${i.name}:${i.kind}`),
    choose.imports.map((i) => `${i.module}.${i.name}:${i.ref.kind}`),
    'the piece imports what it says it imports',
  );

  const pair = cut([idx('even'), idx('odd')]);
  tt.same(functionImports(pair), [], 'mutual tail calls inside one piece are direct');
  tt.same(pair.exports.map((e) => e.ref.index).sort(), [idx('even'), idx('odd')].sort());
  tt.same(functionImports(cut([idx('even')])), [[String(idx('odd')), idx('odd'), false]], 'a callee outside the piece is a call import');

  const fib = cut([idx('fib')]);
  tt.same(functionImports(fib), [], 'self-recursion is direct');
  const fibInstance = split.link(fib);
  tt.equal((fibInstance.exports[entityName({ kind: 'function', index: idx('fib') })] as (n: number) => number)(20), 6765);

  const simd = cut([idx('simd')]);
  tt.same(simd.hostImports, [], 'no hook without a memory.grow');
  tt.same(cut([idx('grow')]).hostImports.map((h) => h.host), ['memoryGrow'], 'memory.grow asks the executor first');
});

t.test('grouped partitions link and behave like the original too', async (tt) => {
  const defined = m.info.functions.filter((f) => !f.imported && !f.usesSegments).map((f) => f.index);
  const groups = [defined.filter((i) => i % 2 === 0), defined.filter((i) => i % 2 === 1)];
  const direct = instantiateDirect(m.bytes, host([])).exports as Record<string, WebAssembly.ExportValue>;
  const split = instantiateSplit(m, host([]), { groups });
  tt.equal(split.pieces.length, 2);
  tt.same(run(split.exports), run(direct));
});

t.test('traps in cut code name the wasm function', async (tt) => {
  const split = instantiateSplit(m, host([]));
  try {
    (split.exports['boom'] as (x: number) => number)(1);
    tt.fail('did not trap');
  } catch (e) {
    tt.ok(e instanceof WebAssembly.RuntimeError);
    tt.match((e as Error).stack, /\bboom\b/);
  }
});

t.test('cutPiece and buildGlobalsModule refuse what they cannot build', async (tt) => {
  const cut = (functions: number[]) => cutPiece(m.binary, (i) => m.references(i), { functions });
  tt.throws(() => cut([idx('greet')]), /segment/);
  tt.throws(() => cut([0]), /not a function the module defines/);
  tt.throws(() => cut([10_000]), /not a function the module defines/);
  tt.throws(() => cut([]), /no functions/);
  tt.throws(() => buildGlobalsModule(m, { keepFunctions: [0] }), /not a function the module defines/);
  tt.throws(() => buildGlobalsModule(m, { keepFunctions: [10_000] }), /not a function the module defines/);
});

t.test('a binary module (no names) splits and links the same way', async (tt) => {
  const bytes = new Uint8Array(m.bytes);
  const decoded = decodeModuleBinary(bytes);
  const names = decoded.sections.find((s) => s.id === 0 && s.name === 'name');
  tt.ok(names, 'the WAT module has a name section to strip');
  const stripped = names ? new Uint8Array([...bytes.subarray(0, names.headerStart), ...bytes.subarray(names.end)]) : bytes;
  const plain = new WasmModule(decodeModuleBinary(stripped));
  tt.equal(plain.info.functions.find((f) => f.index === idx('fib'))?.name, 'fib', 'an exported function is named after its export');
  tt.equal(plain.info.functions.find((f) => f.index === idx('init'))?.name, `func[${idx('init')}]`, 'the others by index');
  const direct = instantiateDirect(stripped, host([])).exports as Record<string, WebAssembly.ExportValue>;
  const split = instantiateSplit(plain, host([]));
  tt.same(run(split.exports), run(direct));
});
