// Baseline pieces (cutPiece) linked by hand the way the JIT links them (helpers.ts: a globals
// module, a stub per function, `identity` imports bound to stubs) behave like the module
// instantiated directly: recursion and mutual recursion across pieces, imported functions,
// call_indirect, ref.func identity, multi-value, memory.grow through the hook, two memories,
// entry counters, many locals, LEB widths that change, SIMD. Also what a piece looks like, the
// names it shows in stack traces, and what cutPiece refuses.

import t, { type Test } from 'tap';
import { MalformedBinary } from '../../src/wasm/bytes.ts';
import { scanBody, skipLocals, type CodeReferences } from '../../src/wasm/codeScan.ts';
import {
  buildGlobalsModule,
  cutPiece,
  displayName,
  entityName,
  MEMORY_GROW_HOOK_TYPE,
  type CompiledPiece,
  type EntityRef,
  type WasmModule,
} from '../../src/wasm/index.ts';
import { decodeModuleBinary, type ModuleBinary } from '../../src/wasm/moduleBinary.ts';
import {
  createStubs,
  instantiateDirect,
  instantiateSplit,
  manyFunctionsWat,
  moduleFromWat,
  pieceImports,
  wat2wasm,
  type HostHooks,
  type SplitOptions,
} from './helpers.ts';

type Exports = Record<string, WebAssembly.ExportValue>;
type Fn = (...args: unknown[]) => unknown;

const WAT = `(module
  (type $unary (func (param i32) (result i32)))
  (type $pair (func (param i32 i32) (result i32 i32)))
  (import "host" "log" (func $log (param i32)))
  (import "host" "add" (func $add (param i32 i32) (result i32)))
  (memory $mem (export "memory") 1 8)
  (table $fns (export "fns") 4 funcref)
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (global $v (mut v128) (v128.const i32x4 1 2 3 4))
  (elem (table $fns) (i32.const 0) func $double $square $fact)

  (func $double (export "double") (type $unary) local.get 0 i32.const 2 i32.mul)
  (func $square (export "square") (type $unary) local.get 0 local.get 0 i32.mul)
  (func $fact (export "fact") (type $unary)
    global.get $calls i32.const 1 i32.add global.set $calls
    local.get 0 i32.const 2 i32.lt_u
    if (result i32) i32.const 1
    else local.get 0 local.get 0 i32.const 1 i32.sub call $fact i32.mul end)
  (func $even (export "even") (param i32) (result i32)
    local.get 0 i32.eqz if (result i32) i32.const 1 else local.get 0 i32.const 1 i32.sub call $odd end)
  (func $odd (export "odd") (param i32) (result i32)
    local.get 0 i32.eqz if (result i32) i32.const 0 else local.get 0 i32.const 1 i32.sub return_call $even end)
  (func $viaHost (export "viaHost") (param i32 i32) (result i32)
    local.get 0 call $log local.get 0 local.get 1 call $add)
  (func $apply (export "apply") (param $slot i32) (param $x i32) (result i32)
    local.get $x local.get $slot call_indirect $fns (type $unary))
  (func $refSquare (export "refSquare") (result funcref) ref.func $square)
  (func $install (export "install") (param $slot i32) local.get $slot ref.func $square table.set $fns)
  (func $divmod (export "divmod") (type $pair)
    local.get 0 local.get 1 i32.div_u local.get 0 local.get 1 i32.rem_u)
  (func $divsum (export "divsum") (param i32 i32) (result i32)
    local.get 0 local.get 1 call $divmod
    block (param i32 i32) (result i32 i32) call $divmod end
    i32.add)
  (func $grow (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func $pages (export "pages") (result i32) memory.size)
  (func $store (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
  (func $simd (export "simd") (param i32) (result i32) (local v128)
    local.get 0 v128.load
    v128.const i32x4 1 2 3 4 i32x4.add
    local.get 0 v128.load i32x4.mul
    local.tee 1 drop
    local.get 0 i32.const 32 i32.add local.get 1 v128.store
    local.get 1 local.get 1 i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
    i32x4.extract_lane 3
    local.get 1 i32x4.extract_lane 2 i32.add)
  (func $vbump (export "vbump") (param i32) (result i32)
    global.get $v local.get 0 i32x4.splat i32x4.add global.set $v
    global.get $v i32x4.extract_lane 2)
  (func $boom (export "boom") (param i32) (result i32) local.get 0 if unreachable end local.get 0)
  ${manyLocalsFunc(300)}
)`;

/** A function with `n` locals of every numeric type, each set from the argument and summed. */
function manyLocalsFunc(n: number): string {
  const types = ['i32', 'i64', 'f32', 'f64'];
  const locals = Array.from({ length: n }, (_, i) => `(local $l${i} ${types[i % 4]})`).join(' ');
  const body: string[] = [];
  for (let i = 0; i < n; i++) {
    const ty = types[i % 4]!;
    const conv = { i32: `local.get 0 i32.const ${i} i32.add`, i64: `local.get 0 i64.extend_i32_s i64.const ${i} i64.mul`, f32: 'local.get 0 f32.convert_i32_s', f64: `local.get 0 f64.convert_i32_s f64.const ${i}.5 f64.add` }[ty];
    body.push(`${conv} local.set $l${i}`);
  }
  const sum: string[] = ['i64.const 0'];
  for (let i = 0; i < n; i++) {
    const ty = types[i % 4]!;
    const toI64 = { i32: 'i64.extend_i32_s', i64: '', f32: 'i64.trunc_f32_s', f64: 'i64.trunc_f64_s' }[ty];
    sum.push(`local.get $l${i} ${toI64} i64.add`);
  }
  return `(func $many (export "many") (param i32) (result i64) ${locals}\n ${body.join('\n ')}\n ${sum.join(' ')})`;
}

/** Calls run in order against every instance; the outcomes must agree. */
const SCRIPT: [string, unknown[]][] = [
  ['fact', [6]],
  ['fact', [10]],
  ['even', [11]],
  ['odd', [7]],
  ['even', [2000]],
  ['viaHost', [3, 4]],
  ['apply', [0, 21]],
  ['apply', [1, 9]],
  ['apply', [2, 5]],
  ['divmod', [17, 5]],
  ['divsum', [100, 7]],
  ['pages', []],
  ['grow', [1]],
  ['pages', []],
  ['grow', [100]],
  ['store', [48, 0x01020304]],
  ['store', [52, -7]],
  ['simd', [48]],
  ['vbump', [5]],
  ['vbump', [-2]],
  ['many', [7]],
  ['many', [-3]],
  ['install', [3]],
  ['apply', [3, 12]],
  ['boom', [0]],
  ['boom', [1]],
];

function outcome(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    return e instanceof WebAssembly.RuntimeError ? `trap: ${e.message}` : `throws ${e instanceof Error ? e.name : String(e)}`;
  }
}

function run(exports: Exports): unknown[] {
  return SCRIPT.map(([name, args]) => outcome(() => (exports[name] as Fn)(...args)));
}

function host(log: unknown[]) {
  return { host: { log: (x: number) => void log.push(x), add: (a: number, b: number) => (a + b * 1000) | 0 } };
}

function memoryBytes(exports: Exports): number[] {
  return [...new Uint8Array((exports['memory'] as WebAssembly.Memory).buffer, 0, 128)];
}

/** The scan of every body, as WasmModule.references gives it, straight from a decoded binary. */
function scanner(binary: ModuleBinary): (index: number) => CodeReferences {
  return (index) => {
    const entry = binary.code[index - binary.importedFunctions];
    if (!entry) throw new RangeError(`function ${index} is not defined`);
    return scanBody(binary.bytes, skipLocals(binary.bytes, entry.start, entry.end), entry.end);
  };
}

const parsed = moduleFromWat(WAT);

const idx = (name: string): number => {
  const f = parsed.info.functions.find((x) => x.name === name);
  if (!f) throw new Error(`no function ${name}`);
  return f.index;
};
const defined = (): number[] => parsed.info.functions.filter((f) => !f.imported && !f.usesSegments).map((f) => f.index);
const cut = (functions: readonly number[], more: Partial<Parameters<typeof cutPiece>[2]> = {}): CompiledPiece =>
  cutPiece(parsed.binary, (i) => parsed.references(i), { functions, ...more });

function compare(tt: Test, label: string, opts: SplitOptions): void {
  const directLog: unknown[] = [];
  const direct = instantiateDirect(parsed.bytes, host(directLog)).exports as Exports;
  const splitLog: unknown[] = [];
  const split = instantiateSplit(parsed, host(splitLog), opts);
  const expected = run(direct);
  const actual = run(split.exports);
  SCRIPT.forEach(([name, args], i) => tt.same(actual[i], expected[i], `${label}: ${name}(${args.map(String).join(', ')})`));
  tt.same(memoryBytes(split.exports), memoryBytes(direct), `${label}: memory`);
  tt.same(splitLog, directLog, `${label}: host calls`);
  tt.equal((split.exports['calls'] as WebAssembly.Global).value, (direct['calls'] as WebAssembly.Global).value, `${label}: global`);
}

t.test('baseline pieces behave like the module instantiated directly', async (tt) => {
  compare(tt, 'one piece per function', {});
  compare(tt, 'one piece', { onePiece: true });
  const all = defined();
  compare(tt, 'odd and even apart, fact with its callers', {
    groups: [all.filter((i) => i !== idx('odd') && i !== idx('even')), [idx('odd')], [idx('even')]],
  });
  // The results this module is meant to give, so agreement is not agreement on nonsense.
  const direct = instantiateDirect(parsed.bytes, host([])).exports as Exports;
  tt.equal((direct['fact'] as Fn)(6), 720);
  tt.same((direct['divmod'] as Fn)(17, 5), [3, 2]);
  tt.equal((direct['divsum'] as Fn)(100, 7), 7 + 0, 'divmod(100, 7) = (14, 2), then divmod(14, 2) = (7, 0) in a multi-value block');
  tt.equal((direct['even'] as Fn)(2000), 1);
});

t.test('the pieces of one function call across pieces through stubs and into the host', async (tt) => {
  const log: unknown[] = [];
  const split = instantiateSplit(parsed, host(log), {});
  const piece = (name: string) => split.pieces.find((p) => p.exports.some((e) => e.ref.index === idx(name)))!;
  const calls = (p: CompiledPiece) => p.imports.filter((i) => i.ref.kind === 'function' && !i.identity).map((i) => i.ref.index);
  tt.same(calls(piece('fact')), [], 'self-recursion is a direct call');
  tt.same(calls(piece('even')), [idx('odd')], 'even calls odd in another piece');
  tt.same(calls(piece('odd')), [idx('even')], 'odd tail-calls even in another piece');
  tt.same(calls(piece('viaHost')), [idx('log'), idx('add')], 'imported functions come from the function module too');
  tt.ok(piece('viaHost').imports.every((i) => i.ref.kind !== 'function' || i.module === 'fn'));
  tt.equal((split.exports['viaHost'] as Fn)(3, 4), 4003);
  tt.same(log, [3]);
});

t.test('ref.func gives the function’s canonical reference, the one in the table, in any piece', async (tt) => {
  const direct = instantiateDirect(parsed.bytes, host([])).exports as Exports;
  const fns = (e: Exports) => e['fns'] as WebAssembly.Table;
  tt.equal((direct['refSquare'] as Fn)(), fns(direct).get(1), 'direct: ref.func $square is the element');

  const together = [idx('square'), idx('refSquare'), idx('install')];
  for (const [label, groups] of [
    ['per function', undefined],
    ['same piece', [together, defined().filter((i) => !together.includes(i))]],
  ] as const) {
    const split = instantiateSplit(parsed, host([]), { ...(groups ? { groups } : {}) });
    const table = fns(split.exports);
    tt.equal((split.exports['refSquare'] as Fn)(), table.get(1), `${label}: ref.func $square is the table's element`);
    (split.exports['install'] as Fn)(3);
    tt.equal(table.get(3), table.get(1), `${label}: table.set of ref.func $square stores the same reference`);
    tt.equal(table.get(1), split.stub(idx('square')), `${label}: which is the stub`);
    const holder = split.pieces.find((p) => p.exports.some((e) => e.ref.index === idx('refSquare')))!;
    const ref = holder.imports.find((i) => i.identity);
    tt.same(ref && [ref.name, ref.ref], [`ref:${idx('square')}`, { kind: 'function', index: idx('square') }], `${label}: an identity import`);
    // Bound to the compiled body instead, the reference would not be the table's.
    const body = split.exports['square'];
    tt.not(body, table.get(1), `${label}: the body is another function object than the stub`);
  }
});

t.test('memory.grow asks the hook first, with the delta; -1 from the hook fails the grow', async (tt) => {
  const deltas: number[] = [];
  const passing: HostHooks = { memoryGrow: (d) => (deltas.push(d), d) };
  const split = instantiateSplit(parsed, host([]), { hooks: passing });
  const grow = split.exports['grow'] as Fn;
  const pages = split.exports['pages'] as Fn;
  tt.equal(grow(2), 1, 'grew from one page');
  tt.equal(pages(), 3);
  tt.equal(grow(10), -1, 'past the maximum: the hook allowed it, memory.grow refused');
  tt.same(deltas, [2, 10], 'the hook saw each delta');

  const refused: number[] = [];
  const refusing = instantiateSplit(parsed, host([]), { hooks: { memoryGrow: (d) => (refused.push(d), -1) } });
  tt.equal((refusing.exports['grow'] as Fn)(1), -1, 'the hook refused: memory.grow fails');
  tt.equal((refusing.exports['pages'] as Fn)(), 1, 'and the memory did not grow');
  tt.equal((refusing.exports['grow'] as Fn)(0), -1, 'even a grow by 0: the hook decides before memory.grow runs');
  tt.same(refused, [1, 0]);

  const piece = cut([idx('grow')]);
  tt.same(piece.hostImports, [{ module: 'jit', name: 'memory.grow', host: 'memoryGrow' }]);
  const decoded = decodeModuleBinary(piece.bytes);
  const hookImport = decoded.imports.find((i) => i.module === 'jit')!;
  tt.same(decoded.types[decoded.funcTypes[hookImport.index]!], MEMORY_GROW_HOOK_TYPE, 'the hook is (i32) -> i32');
  tt.same(cut([idx('pages')]).hostImports, [], 'no hook without a memory.grow');
});

const TABLE_GROWER = `(module
  (memory 1 4)
  (table $t 2 10 funcref)
  (table $u 1 externref)
  (func $id (param i32) (result i32) local.get 0)
  (func $growT (export "growT") (param i32) (result i32) (table.grow $t (ref.func $id) (local.get 0)))
  (func $growU (export "growU") (param externref i32) (result i32) (table.grow $u (local.get 0) (local.get 1)))
  (func $both (export "both") (param i32) (result i32)
    (i32.add (table.grow $t (ref.null func) (memory.grow (local.get 0))) (call $id (table.size $t))))
  (func $sizeT (export "sizeT") (result i32) table.size $t)
  (func $sizeU (export "sizeU") (result i32) table.size $u)
  (func $last (export "last") (param i32) (result i32)
    (call_indirect $t (param i32) (result i32) (local.get 0) (i32.sub (table.size $t) (i32.const 1)))))`;

t.test('table.grow asks its own hook first, with the delta; -1 from it fails the grow', async (tt) => {
  const m = moduleFromWat(TABLE_GROWER);
  const fn = (name: string): number => m.info.functions.find((f) => f.name === name)!.index;
  const calls: [string, unknown[]][] = [
    ['growT', [1]],
    ['last', [5]],
    ['sizeT', []],
    ['growT', [100]],
    ['both', [1]],
    ['sizeT', []],
    ['growU', ['x', 3]],
    ['sizeU', []],
  ];
  const script = (exports: Exports) => calls.map(([name, args]) => outcome(() => (exports[name] as Fn)(...args)));
  const expected = script(instantiateDirect(m.bytes).exports as Exports);
  tt.same(expected.slice(0, 4), [2, 5, 3, -1], 'direct: grew by one, the new slot holds $id, past the maximum is -1');

  const seen = { memory: [] as number[], table: [] as number[], hot: [] as number[] };
  const hooks: HostHooks = {
    memoryGrow: (d) => (seen.memory.push(d), d),
    tableGrow: (d) => (seen.table.push(d), d),
    reoptimize: (id) => void seen.hot.push(id),
  };
  // One piece holding all of them, counting entries too: every hook in one import section.
  const entryCounters = { threshold: 1000, ids: new Map([[fn('both'), 7]]) };
  const split = instantiateSplit(m, {}, { onePiece: true, hooks, entryCounters });
  tt.same(script(split.exports as Exports), expected, 'the same results as direct instantiation');
  tt.same(seen.table, [1, 100, 1, 3], 'the table hook saw every delta, a memory.grow result among them');
  tt.same(seen.memory, [1], 'the memory hook saw only memory.grow');

  const piece = split.pieces[0]!;
  tt.same(
    piece.hostImports.map((h) => h.host),
    ['memoryGrow', 'tableGrow', 'reoptimize'],
  );
  const decoded = decodeModuleBinary(piece.bytes);
  const hookType = (name: string) => decoded.funcTypes[decoded.imports.find((i) => i.module === 'jit' && i.name === name)!.index]!;
  tt.equal(hookType('table.grow'), hookType('memory.grow'), 'both grow hooks share one type');
  tt.same(decoded.types[hookType('table.grow')], MEMORY_GROW_HOOK_TYPE, 'which is (i32) -> i32');

  const refused: number[] = [];
  const refusing = instantiateSplit(m, {}, { hooks: { tableGrow: (d) => (refused.push(d), -1) } });
  const x = refusing.exports as Exports;
  tt.equal((x['growT'] as Fn)(1), -1, 'the hook refused: table.grow fails');
  tt.equal((x['sizeT'] as Fn)(), 2, 'and the table kept its size');
  tt.equal((x['growU'] as Fn)(null, 0), -1, 'even a grow by 0: the hook decides before table.grow runs');
  tt.equal((x['sizeU'] as Fn)(), 1);
  tt.same(refused, [1, 0]);

  tt.same(cutPiece(m.binary, (i) => m.references(i), { functions: [fn('sizeT')] }).hostImports, [], 'no hook without a table.grow');
});

t.test('entry counters call the reoptimize hook once, on the threshold-th entry, and change no result', async (tt) => {
  const threshold = 3;
  const ids = new Map([
    [idx('fact'), 42],
    [idx('double'), 7],
    [idx('many'), 9],
  ]);
  const steps: [string, unknown[]][] = [
    ['fact', [2]], // 2 entries
    ['fact', [1]], // the 3rd: hook(42)
    ['fact', [4]],
    ['apply', [0, 1]],
    ['apply', [0, 2]],
    ['double', [3]], // the 3rd entry of double, from JS through its stub: hook(7)
    ['many', [1]],
    ['many', [2]],
    ['many', [3]], // hook(9)
    ['many', [4]],
    ['fact', [20]],
  ];
  const log: unknown[] = [];
  let split: ReturnType<typeof instantiateSplit> | undefined;
  // The hook also records what the counted function's body has done so far: nothing yet.
  const reoptimize = (id: number) => void log.push([id, (split!.exports['calls'] as WebAssembly.Global).value]);
  split = instantiateSplit(parsed, host([]), { entryCounters: { threshold, ids }, hooks: { reoptimize } });
  const direct = instantiateDirect(parsed.bytes, host([])).exports as Exports;
  const logs = steps.map(([name, args]) => {
    tt.same(outcome(() => (split.exports[name] as Fn)(...args)), outcome(() => (direct[name] as Fn)(...args)), `${name}(${args.join(', ')})`);
    return [...log];
  });
  // fact's body bumps $calls: 2 entries by fact(2), so the 3rd entry's hook sees 2; fact(1) and
  // fact(4) make it 7, which the later hooks see.
  const [fact, double, many] = [[42, 2], [7, 7], [9, 7]];
  tt.same(
    logs,
    [[], [fact], [fact], [fact], [fact], [fact, double], [fact, double], [fact, double], [fact, double, many], [fact, double, many], [fact, double, many]],
    'each hook once, before the body of the entry that reached the threshold',
  );

  const piece = cut([idx('fact'), idx('double')], { entryCounters: { threshold, ids: new Map([[idx('fact'), 42]]) } });
  tt.same(piece.hostImports, [{ module: 'jit', name: 'reoptimize', host: 'reoptimize' }]);
  const decoded = decodeModuleBinary(piece.bytes);
  tt.equal(decoded.globals.length - decoded.importedGlobals, 1, 'one counter, for fact only');
  tt.same(decoded.globals.at(-1)!.type, { type: 'i32', mutable: true });
});

t.test('a piece: the types verbatim, every memory, table and global imported in order, then functions', async (tt) => {
  const binary = parsed.binary;
  const piece = cut([idx('refSquare'), idx('grow'), idx('fact')], { exports: [idx('fact')], entryCounters: { threshold: 5, ids: new Map([[idx('fact'), 1]]) } });
  const decoded = decodeModuleBinary(piece.bytes);
  tt.same(decoded.types.slice(0, binary.types.length), binary.types, 'the original types first, as they were');
  tt.same(decoded.types.slice(binary.types.length), [MEMORY_GROW_HOOK_TYPE, { params: ['i32'], results: [] }], 'then the hooks’ types');
  tt.same(
    decoded.imports.map((i) => `${i.module}.${i.name}`),
    [
      ...binary.memories.map((_, index) => `g.${entityName({ kind: 'memory', index })}`),
      ...binary.tables.map((_, index) => `g.${entityName({ kind: 'table', index })}`),
      ...binary.globals.map((_, index) => `g.${entityName({ kind: 'global', index })}`),
      `fn.ref:${idx('square')}`,
      'jit.memory.grow',
      'jit.reoptimize',
    ],
  );
  tt.same(decoded.memories, binary.memories, 'memory limits as declared');
  tt.same(
    decoded.tables.map((x) => x.type),
    binary.tables.map((x) => x.type),
  );
  tt.same(
    decoded.globals.slice(0, binary.globals.length).map((g) => g.type),
    binary.globals.map((g) => g.type),
    'globals keep their mutability',
  );
  tt.same(piece.exports, [{ name: `function:${idx('fact')}`, ref: { kind: 'function', index: idx('fact') } }], 'only the listed export');
  tt.equal(decoded.start, null, 'no start');
  tt.equal(decoded.dataCount, null, 'no data count');
  tt.equal(decoded.dataSegments, 0, 'no data');
  tt.same(
    decoded.elements.map((e) => [e.mode, e.funcIndices]),
    [['declarative', [decoded.imports.findIndex((i) => i.name === `ref:${idx('square')}`) - decoded.imports.filter((i) => i.kind !== 'function').length]]],
    'the ref.func target declared',
  );
  tt.same(
    [...decoded.functionNames].map(([i, n]) => [i - decoded.importedFunctions, n]),
    [
      [0, 'refSquare'],
      [1, 'grow'],
      [2, 'fact'],
    ],
    'the bodies keep their names',
  );
});

t.test('a function cut from a 2,000-function module is the same piece as from a 20-function one', async (tt) => {
  const small = moduleFromWat(manyFunctionsWat(20));
  const big = moduleFromWat(manyFunctionsWat(2000));
  for (const name of ['f7', 'f13']) {
    const index = (m: WasmModule) => m.info.functions.find((f) => f.name === name)!.index;
    const a = cutPiece(small.binary, (i) => small.references(i), { functions: [index(small)] });
    const b = cutPiece(big.binary, (i) => big.references(i), { functions: [index(big)] });
    tt.same(b.bytes, a.bytes, name);
  }
});

t.test('function indices whose LEB gets longer or shorter in the piece', async (tt) => {
  // $hub (index 0) calls 150 functions defined after it, and itself: in its piece it comes after
  // 150 imports, so its own index needs two LEB bytes where it had one. $last (index 199) calls
  // $f150 (two bytes): in a piece of its own that callee is import 0 (one byte).
  const parts = ['(module'];
  const callees = Array.from({ length: 150 }, (_, k) => `call $f${k + 1}`).join(' i32.add ');
  parts.push(` (func $hub (export "hub") (param i32) (result i32) local.get 0 if (result i32) i32.const 0 call $hub else i32.const 0 end ${callees} i32.add)`);
  for (let k = 1; k < 199; k++) parts.push(` (func $f${k} (result i32) i32.const ${k})`);
  parts.push(' (func $last (export "last") (result i32) call $f150 i32.const 1 i32.add))');
  const m = moduleFromWat(parts.join('\n'));
  const direct = instantiateDirect(m.bytes).exports as Exports;
  for (const opts of [{}, { onePiece: true }]) {
    const split = instantiateSplit(m, {}, { ...opts });
    tt.equal((split.exports['hub'] as Fn)(1), (direct['hub'] as Fn)(1));
    tt.equal((split.exports['last'] as Fn)(), (direct['last'] as Fn)());
  }
  tt.equal((direct['hub'] as Fn)(1), 2 * ((150 * 151) / 2), 'hub(1) sums the callees twice');
  const hubPiece = cutPiece(m.binary, (i) => m.references(i), { functions: [0] });
  tt.equal(decodeModuleBinary(hubPiece.bytes).importedFunctions, 150);
});

t.test('two memories: every memory imported in index order, memory.grow hooked on either', async (tt) => {
  const wat = `(module
    (memory $a (export "a") 1 4)
    (memory $b (export "b") 2 6)
    (func $copyAB (export "copyAB") (param i32 i32) local.get 1 local.get 0 i32.load $a i32.store $b offset=4)
    (func $growA (export "growA") (param i32) (result i32) local.get 0 memory.grow $a)
    (func $growB (export "growB") (param i32) (result i32) local.get 0 memory.grow $b)
    (func $growBoth (export "growBoth") (param i32) (result i32) local.get 0 call $growA local.get 0 call $growB i32.add)
    (func $sizes (export "sizes") (result i32 i32) memory.size $a memory.size $b)
    (func $fillB (export "fillB") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill $b)
    (func $copyBA (export "copyBA") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy $a $b)
    (func $storeA (export "storeA") (param i32 i32) local.get 0 local.get 1 i32.store $a))`;
  const bytes = wat2wasm(wat, ['--enable-multi-memory']);
  const binary = decodeModuleBinary(bytes);
  const references = scanner(binary);
  const calls: [string, unknown[]][] = [
    ['storeA', [8, 0x11223344]],
    ['copyAB', [8, 100]],
    ['fillB', [200, 0x5a, 16]],
    ['copyBA', [300, 198, 20]],
    ['sizes', []],
    ['growB', [1]],
    ['growA', [2]],
    ['growBoth', [1]],
    ['sizes', []],
    ['growB', [10]],
  ];
  const direct = instantiateDirect(bytes).exports as Exports;
  const expected = calls.map(([name, args]) => outcome(() => (direct[name] as Fn)(...args)));

  // Linked without a globals module: the executor's memories, one piece per function.
  const memories = binary.memories.map((mt) => new WebAssembly.Memory({ initial: mt.initial, ...(mt.maximum !== undefined ? { maximum: mt.maximum } : {}) }));
  const deltas: number[] = [];
  const stubs = createStubs(binary.funcTypes.length, (i) => binary.types[binary.funcTypes[i]!]!);
  const bodies = new Map<number, WebAssembly.ExportValue>();
  const pieces: CompiledPiece[] = [];
  for (let index = 0; index < binary.funcTypes.length; index++) {
    const piece = cutPiece(binary, references, { functions: [index] });
    pieces.push(piece);
    const inst = instantiateDirect(
      piece.bytes,
      pieceImports(piece, {
        entity: (ref: EntityRef) => memories[ref.index]!,
        callee: (i) => bodies.get(i) ?? stubs.stub(i),
        canonical: stubs.stub,
        hooks: { memoryGrow: (d) => (deltas.push(d), d) },
      }),
    );
    bodies.set(index, inst.exports[entityName({ kind: 'function', index })]!);
  }
  for (const [index, body] of bodies) stubs.fill(index, body);
  const byName = (name: string) => bodies.get(binary.exports.find((e) => e.name === name)!.index) as Fn;
  const actual = calls.map(([name, args]) => outcome(() => byName(name)(...args)));
  tt.same(actual, expected, 'the same results');
  tt.same(deltas, [1, 2, 1, 1, 10], 'the hook saw the delta of every memory.grow, on either memory');
  for (const [k, name] of ['a', 'b'].entries()) {
    const d = new Uint8Array((direct[name] as WebAssembly.Memory).buffer);
    const s = new Uint8Array(memories[k]!.buffer);
    tt.equal(s.length, d.length, `memory ${name} size`);
    tt.ok(Buffer.from(s).equals(Buffer.from(d)), `memory ${name} contents`);
  }
  tt.same(
    pieces[0]!.imports.map((i) => i.name),
    ['memory:0', 'memory:1'],
    'both memories imported, even by a body that uses one',
  );
});

t.test('stack traces show the display name, and the module name when given', async (tt) => {
  const g = buildGlobalsModule(parsed, { keepFunctions: [] });
  const stubs = createStubs(parsed.info.functions.length, (i) => parsed.info.functions[i]!.type);
  const gi = instantiateDirect(g.bytes, {
    ...host([]),
    fn: Object.fromEntries(g.imports.filter((i) => i.module === 'fn').map((i) => [i.name, stubs.stub(i.ref.index)])),
  });
  const trap = (piece: CompiledPiece): string => {
    const inst = instantiateDirect(
      piece.bytes,
      pieceImports(piece, { entity: (ref) => gi.exports[entityName(ref)]!, callee: stubs.stub, canonical: stubs.stub }),
    );
    try {
      (inst.exports[entityName({ kind: 'function', index: idx('boom') })] as Fn)(1);
      return 'no trap';
    } catch (e) {
      return e instanceof WebAssembly.RuntimeError ? (e.stack ?? '') : `not a trap: ${String(e)}`;
    }
  };
  tt.match(trap(cut([idx('boom')])), /\n\s+at boom \(wasm:\/\/wasm\/[0-9a-f]+:wasm-function\[0\]:0x[0-9a-f]+\)/);
  tt.match(trap(cut([idx('fact'), idx('boom')], { moduleName: 'demo' })), /\n\s+at demo\.boom \(wasm:\/\/wasm\/demo-[0-9a-f]+:wasm-function\[1\]:0x[0-9a-f]+\)/);
});

t.test('displayName: the name section’s name, else the first export name, else func[<index>]', async (tt) => {
  const bytes = wat2wasm(`(module
    (import "m" "f" (func $imp))
    (func $named (export "x") (export "y"))
    (func (export "first") (export "second"))
    (func))`);
  const plain = decodeModuleBinary(bytes);
  tt.same([0, 1, 2, 3].map((i) => displayName(plain, i)), ['func[0]', 'x', 'first', 'func[3]'], 'without a name section');
  // Indexed by the decode, so the first piece cut from a large module does not build it.
  tt.same(plain.firstExportNames, [undefined, 'x', 'first', undefined], 'the first export name of each function, from the decode');
  const reexported = decodeModuleBinary(wat2wasm(`(module (import "m" "f" (func $imp)) (export "again" (func $imp)) (func (export "z")))`));
  tt.same([0, 1].map((i) => displayName(reexported, i)), ['again', 'z'], 'an exported import goes by its export name');
  const named = decodeModuleBinary(wat2wasm(`(module (import "m" "f" (func $imp)) (func $named (export "x")) (func (export "first")))`, ['--debug-names']));
  tt.same([0, 1, 2].map((i) => displayName(named, i)), ['imp', 'named', 'first']);
  tt.throws(() => displayName(plain, 4), RangeError);
  tt.throws(() => displayName(plain, -1), RangeError);
  const piece = cutPiece(plain, scanner(plain), { functions: [3, 2] });
  tt.same([...decodeModuleBinary(piece.bytes).functionNames.values()], ['func[3]', 'first'], 'what a piece names its bodies');
});

t.test('cutPiece refuses what it cannot cut', async (tt) => {
  const withSegments = moduleFromWat(
    `(module (memory 1) (data $d "hi") (func $init (export "init") i32.const 0 i32.const 0 i32.const 2 memory.init $d) (func $ok (export "ok")))`,
  );
  const init = withSegments.info.functions.find((f) => f.name === 'init')!.index;
  tt.throws(() => cutPiece(withSegments.binary, (i) => withSegments.references(i), { functions: [init] }), { name: 'RangeError', message: /segment/ });

  const viaHost = idx('viaHost');
  tt.throws(() => cut([]), RangeError, 'no functions');
  tt.throws(() => cut([idx('log')]), { name: 'RangeError', message: /not a function the module defines/ }, 'an imported function');
  tt.throws(() => cut([10_000]), RangeError, 'past the end');
  tt.throws(() => cut([1.5]), RangeError, 'not an index');
  tt.throws(() => cut([viaHost], { exports: [idx('fact')] }), { name: 'RangeError', message: /not listed/ }, 'an export not listed');
  tt.throws(() => cut([viaHost], { entryCounters: { threshold: 2, ids: new Map([[idx('fact'), 1]]) } }), { name: 'RangeError', message: /not listed/ });
  tt.throws(
    () => cutPiece(parsed.binary, () => parsed.references(idx('many')), { functions: [viaHost] }),
    { name: 'RangeError', message: /not of this binary/ },
    'references of another body',
  );

  // The scanner stops at instructions it does not know (here: exception handling), so no piece
  // is written around bytes nobody understood.
  const eh = decodeModuleBinary(wat2wasm(`(module (func (export "f") try nop catch_all end))`, ['--enable-exceptions']));
  tt.throws(() => cutPiece(eh, scanner(eh), { functions: [0] }), MalformedBinary);

  tt.same(cut([viaHost, viaHost]).exports.length, 1, 'a function listed twice is held once');
});
