// Time and memory limits: a runaway call is stopped at its limit while main stays responsive;
// the worker is replaced and the session's links are replayed, so earlier code keeps working.
// The session's memories together stay within their page budget, and its tables within their
// element budget. Each test runs with the worker in this process and in an executor host.

import t from 'tap';
import { ExecutionTimeout, ResourceExhausted } from '../../src/core/errors.ts';
import { Executor } from '../../src/executor/Executor.ts';
import { MEMORY_GROW_HOOK_ADDR } from '../../src/executor/memoryBudget.ts';
import { DATA_HANDLE_BASE } from '../../src/executor/protocol.ts';
import { TABLE_GROW_HOOK_ADDR } from '../../src/executor/tableBudget.ts';
import { instrumentMemoryGrow, instrumentTableGrow } from '../../src/wasm/growInstrumentation.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { definedTableElements } from '../../src/wasm/tableLimits.ts';
import type { FuncType } from '../../src/wasm/types.ts';
import { forEachExecutorKind, i32, link, watBytes } from './helpers.ts';

const nullary = (results: FuncType['results']): FuncType => ({ params: [], results });
const unary: FuncType = { params: ['i32'], results: ['i32'] };

const COUNTER = `(module $counter
  (global $n (mut i32) (i32.const 5))
  (func (export "bump") (result i32) global.get $n i32.const 1 i32.add global.set $n global.get $n)
  (func $spin (export "spin") (loop $l br $l)))`;

// The session memory budget (createMemory + the memory.grow hook every compiled piece calls).
const GROWER = `(module (import "env" "mem" (memory 1))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) memory.size)
  (func $spin (export "spin") (loop $l br $l)))`;

async function linkGrower(ex: Executor, memory: number, addrs: { grow: number; size: number; spin: number }): Promise<void> {
  const bytes = instrumentMemoryGrow(watBytes(GROWER), 'jit', 'memory.grow');
  if (!bytes) throw new Error('nothing instrumented');
  await ex.apply({
    op: 'instantiate',
    label: 'grower',
    bytes,
    imports: [
      { module: 'env', name: 'mem', kind: 'memory', addr: memory },
      { module: 'jit', name: 'memory.grow', kind: 'function', addr: MEMORY_GROW_HOOK_ADDR },
    ],
    exports: Object.entries(addrs).map(([name, addr]) => ({ name, addr, kind: 'function' as const })),
    tableElements: 0,
  });
}

forEachExecutorKind(t, (t, start) => {
  t.test('a runaway call times out, main stays responsive, the session is replayed', async (t) => {
    const ex = await start(t);
    await link(ex, COUNTER, { bump: 20, spin: 21 });
    // A lazily linked function, resolved before the restart: replay must keep its pointer.
    await ex.apply({ op: 'createStubs', stubs: [{ stubAddr: 30, ptrAddr: 31, callThroughId: 1, type: unary }] });
    let callThroughs = 0;
    ex.setCallThroughHandler(async () => {
      callThroughs++;
      void link(ex, `(module (func (export "dbl") (param i32) (result i32) local.get 0 i32.const 2 i32.mul))`, { dbl: 32 });
      void ex.apply({ op: 'updatePointer', ptrAddr: 31, targetAddr: 32 });
    });
    t.same((await ex.invoke(30, unary, [i32(21)], { timeoutMs: 5000 })).results, [i32(42)]);
    t.same((await ex.invoke(20, nullary(['i32']), [], { timeoutMs: 5000 })).results, [i32(6)]);

    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = performance.now();
    const spin = ex.invoke(21, nullary([]), [], { timeoutMs: 400 }).catch((e: unknown) => e);
    // Queued behind the runaway call: must run on the fresh worker.
    // Settled into a value at once, so that a failure is an assertion, not an unhandled rejection.
    const queued = ex.invoke(30, unary, [i32(5)], { timeoutMs: 5000 }).catch((e: unknown) => e);
    const err = await spin;
    const elapsed = performance.now() - started;
    clearInterval(ticker);

    t.type(err, ExecutionTimeout);
    t.equal((err as ExecutionTimeout).timeoutMs, 400);
    t.ok(elapsed >= 390 && elapsed < 2000, `stopped near the limit (${elapsed.toFixed(0)} ms)`);
    t.ok(ticks >= 15, `main kept ticking during the call (${ticks} ticks)`);
    t.same(((await queued) as { results?: unknown }).results, [i32(10)], 'queued call ran after the restart, through the replayed pointer');
    t.equal(callThroughs, 1, 'replay carried the updatePointer: no new call-through');
    t.same((await ex.invoke(20, nullary(['i32']), [], { timeoutMs: 5000 })).results, [i32(6)], 'globals restart from their initial state');
    t.equal(ex.stats().restarts, 1);
  });

  t.test('calls queued behind a runaway call each run once, in order, on the fresh worker', async (t) => {
    const ex = await start(t);
    await link(ex, COUNTER, { bump: 20, spin: 21 });
    t.same((await ex.invoke(20, nullary(['i32']), [], { timeoutMs: 5000 })).results, [i32(6)]);
    const spin = ex.invoke(21, nullary([]), [], { timeoutMs: 300 }).catch((e: unknown) => e);
    // Queued behind the runaway call (settled into values at once: a failure is an assertion).
    const bumps = Array.from({ length: 20 }, () => ex.invoke(20, nullary(['i32']), [], { timeoutMs: 5000 }).catch((e: unknown) => e));
    t.type(await spin, ExecutionTimeout);
    const results = await Promise.all(bumps);
    t.same(
      results.map((r) => (r instanceof Error ? r.message : (r as { results: { bits: string | null }[] }).results[0]?.bits)),
      Array.from({ length: 20 }, (_, i) => String(6 + i)),
      'globals restarted at 5; every queued bump ran exactly once, in order',
    );
    t.equal(ex.stats().restarts, 1);
  });

  t.test("a call's clock starts when it starts, not while it waits behind another", async (t) => {
    // Main sends calls to the worker ahead of their turn; their time limits must not run out
    // there. A 400 ms call, then 30 calls of 100 ms limit each, all sent at once: every one runs.
    const ex = await start(t);
    await link(ex, `(module (func (export "busy") (param i32) (result i32) (local i32)
      (loop $l local.get 1 i32.const 1 i32.add local.tee 1 local.get 0 i32.lt_u br_if $l) local.get 1))`, { busy: 20 });
    // Calibrate a loop length that runs about 400 ms here.
    let n = 1_000_000;
    for (;;) {
      const t0 = performance.now();
      await ex.invoke(20, unary, [i32(n)], { timeoutMs: 10_000 });
      const ms = performance.now() - t0;
      if (ms >= 400) break;
      n = Math.ceil(n * Math.min(10, 450 / Math.max(ms, 1)));
    }
    const long = ex.invoke(20, unary, [i32(n)], { timeoutMs: 10_000 });
    const short = Array.from({ length: 30 }, () => ex.invoke(20, unary, [i32(1000)], { timeoutMs: 100 }).catch((e: unknown) => e));
    await long;
    const outcomes = await Promise.all(short);
    t.same(outcomes.filter((o) => o instanceof Error).map((e) => (e as Error).message), [], 'no short call timed out');
    t.equal(ex.stats().restarts, 0);
  });

  t.test('a start function past its limit fails its op; the rest of the session survives', async (t) => {
    const ex = await start(t, { startTimeoutMs: 300 });
    await link(ex, COUNTER, { bump: 20, spin: 21 });
    const stuck = link(ex, `(module (func $s (loop $l br $l)) (start $s) (func (export "f")))`, { f: 40 });
    const after = link(ex, `(module (func (export "seven") (result i32) i32.const 7))`, { seven: 41 });
    await t.rejects(stuck, ExecutionTimeout);
    await after;
    t.same((await ex.invoke(41, nullary(['i32']), [], { timeoutMs: 5000 })).results, [i32(7)], 'the op sent after it was applied');
    t.same((await ex.invoke(20, nullary(['i32']), [], { timeoutMs: 5000 })).results, [i32(6)], 'earlier links replayed');
    t.equal(ex.stats().replayLogOps, 2, 'the failed op is not replayed');
  });

  t.test('a call\'s time limit covers the compiles it waits for (API v2)', async (t) => {
    const ex = await start(t);
    await ex.apply({ op: 'createStubs', stubs: [{ stubAddr: 30, ptrAddr: 31, callThroughId: 1, type: unary }] });
    let slow = true;
    ex.setCallThroughHandler(async () => {
      if (slow) await new Promise((r) => setTimeout(r, 400)); // a slow compile on main
      // The slow one finishes after its call was stopped (and maybe after the test closed the executor).
      const ignore = () => {};
      link(ex, `(module (func (export "id") (param i32) (result i32) local.get 0))`, { id: 32 }).catch(ignore);
      ex.apply({ op: 'updatePointer', ptrAddr: 31, targetAddr: 32 }).catch(ignore);
    });
    await t.rejects(ex.invoke(30, unary, [i32(3)], { timeoutMs: 200 }), ExecutionTimeout, 'compiling past the limit is a timeout');
    slow = false;
    const r = await ex.invoke(30, unary, [i32(3)], { timeoutMs: 2000 });
    t.same(r.results, [i32(3)], 'the executor goes on');
    t.ok(r.runMs < 2000, `runMs excludes the handler (${r.runMs.toFixed(1)} ms)`);
  });

  t.test('output is capped per call', async (t) => {
    const ex = await start(t, { maxOutputLines: 3 });
    await link(
      ex,
      `(module (import "spectest" "print_i32" (func $p (param i32)))
        (func (export "five") i32.const 1 call $p i32.const 2 call $p i32.const 3 call $p i32.const 4 call $p i32.const 5 call $p))`,
      { five: 22 },
      [{ module: 'spectest', name: 'print_i32', kind: 'function', addr: 2 }],
    );
    t.same((await ex.invoke(22, nullary([]), [], { timeoutMs: 5000 })).output, ['1 : i32', '2 : i32', '3 : i32', '[2 more lines not kept]']);
  });

  t.test('release drops slots and compacts the replay log', async (t) => {
    const ex = await start(t);
    const mem = DATA_HANDLE_BASE + 50;
    // A: a memory and a function; B imports A's memory. C is independent.
    await link(ex, `(module (memory (export "m") 1) (data (i32.const 0) "\\2a") (func (export "a") (result i32) i32.const 1))`, { m: mem, a: 60 }, [], {
      m: 'memory',
    });
    await link(ex, `(module (import "env" "m" (memory 1)) (func (export "b") (result i32) i32.const 0 i32.load8_u))`, { b: 61 }, [
      { module: 'env', name: 'm', kind: 'memory', addr: mem },
    ]);
    await link(ex, `(module (func (export "c") (result i32) i32.const 3))`, { c: 62 });
    t.equal(ex.stats().replayLogOps, 3);
    const slotsBefore = ex.stats().slotsUsed;

    await ex.apply({ op: 'release', addrs: [62] });
    t.equal(ex.stats().replayLogOps, 2, 'C and its release are gone from the log');
    t.equal(ex.stats().slotsUsed, slotsBefore - 1);
    await t.rejects(ex.invoke(62, nullary(['i32']), [], { timeoutMs: 5000 }), { code: 'TypeMismatch' }, 'the slot is empty');

    await ex.apply({ op: 'release', addrs: [60, mem] });
    t.equal(ex.stats().replayLogOps, 3, 'A stays (B imports its memory), and so does the release');

    // Force a restart: everything kept must replay to the same observable state.
    await link(ex, `(module (func (export "spin") (loop $l br $l)))`, { spin: 63 });
    await t.rejects(ex.invoke(63, nullary([]), [], { timeoutMs: 200 }), ExecutionTimeout);
    t.same((await ex.invoke(61, nullary(['i32']), [], { timeoutMs: 5000 })).results, [i32(42)], 'B still reads A memory');
    await t.rejects(ex.invoke(60, nullary(['i32']), [], { timeoutMs: 5000 }), { code: 'TypeMismatch' }, 'released slot stays empty');
    await t.rejects(ex.readMemory(mem, 0, 1), { code: 'TypeMismatch' }, 'released handle stays empty');
  });

  t.test('session memory budget: creation is refused past it, memory.grow returns -1 at it', async (t) => {
    const ex = await start(t, { sessionMemoryLimitPages: 4 });
    const m1 = DATA_HANDLE_BASE + 100;
    const m2 = DATA_HANDLE_BASE + 101;
    await ex.apply({ op: 'createMemory', addr: m1, type: { initial: 2, maximum: 10 } });
    const refused = await ex.apply({ op: 'createMemory', addr: m2, type: { initial: 3 } }).catch((e: unknown) => e);
    t.type(refused, ResourceExhausted);
    t.equal((refused as ResourceExhausted).limit, 'sessionMemoryPages');
    await t.rejects(ex.readMemory(m2, 0, 1), { code: 'TypeMismatch' }, 'a refused memory is not created');

    // Two instances on one memory: it counts once.
    await linkGrower(ex, m1, { grow: 20, size: 21, spin: 22 });
    await linkGrower(ex, m1, { grow: 23, size: 24, spin: 25 });
    const grow = (addr: number, n: number) => ex.invoke(addr, unary, [i32(n)], { timeoutMs: 5000 }).then((r) => r.results[0]);
    t.same(await grow(20, 1), i32(2), 'old size');
    t.same(await grow(23, 1), i32(3), 'the same memory, through the other instance');
    t.same(await grow(20, 1), i32(-1), 'a fifth page is past the budget');
    t.same(await grow(23, 0), i32(4), 'growing by 0 always works');
    t.equal((await ex.readMemory(m1, 0, 0)).pages, 4, 'the refused grow changed nothing');
    await t.rejects(ex.apply({ op: 'createMemory', addr: m2, type: { initial: 1 } }), ResourceExhausted, 'no room left');

    // A stopped call restarts the worker: memories are back to their initial size, and so is the budget.
    await t.rejects(ex.invoke(22, nullary([]), [], { timeoutMs: 200 }), ExecutionTimeout);
    t.equal((await ex.readMemory(m1, 0, 0)).pages, 2, 'replayed at its initial size');
    await ex.apply({ op: 'createMemory', addr: m2, type: { initial: 1 } });
    t.same(await grow(20, 1), i32(2), 'three pages in use, one left');
    t.same(await grow(20, 1), i32(-1));

    // Releasing a memory's handle gives its pages back.
    await ex.apply({ op: 'release', addrs: [m2] });
    t.same(await grow(20, 1), i32(3));
  });

  t.test('memory.grow keeps its own failures: past the maximum is -1 whatever the budget', async (t) => {
    const ex = await start(t);
    const m = DATA_HANDLE_BASE + 100;
    await ex.apply({ op: 'createMemory', addr: m, type: { initial: 1, maximum: 2 } });
    await linkGrower(ex, m, { grow: 20, size: 21, spin: 22 });
    t.same((await ex.invoke(20, unary, [i32(2)], { timeoutMs: 5000 })).results, [i32(-1)]);
    t.same((await ex.invoke(20, unary, [i32(1)], { timeoutMs: 5000 })).results, [i32(1)]);
    t.same((await ex.invoke(20, unary, [i32(-1)], { timeoutMs: 5000 })).results, [i32(-1)], '0xffffffff pages');
  });
});

// The session table budget: an instantiate op says what the tables it defines start with (refused
// before anything runs when they do not fit), and every table.grow asks the tableGrow hook.

/**
 * Instantiates `text` with its table.grows hooked (as every writer of the JIT hooks them), its
 * exports placed at `exports` (kinds from `kinds`, functions otherwise).
 */
function linkTables(
  ex: Executor,
  text: string,
  exports: Record<string, number>,
  kinds: Record<string, 'table' | 'global'> = {},
  imports: readonly { module: string; name: string; kind: 'table' | 'function'; addr: number }[] = [],
): Promise<void> {
  const original = watBytes(text);
  const bytes = instrumentTableGrow(original, 'jit', 'table.grow') ?? original;
  const hooked = bytes !== original;
  return ex.apply({
    op: 'instantiate',
    label: 'tables',
    bytes,
    imports: [...imports, ...(hooked ? [{ module: 'jit', name: 'table.grow', kind: 'function' as const, addr: TABLE_GROW_HOOK_ADDR }] : [])],
    exports: Object.entries(exports).map(([name, addr]) => ({ name, addr, kind: kinds[name] ?? ('function' as const) })),
    tableElements: definedTableElements(decodeModuleBinary(original)),
  });
}

const tableGrower = (elements: number) => `(module
  (table (export "t") ${elements} funcref)
  (func (export "grow") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0)))
  (func (export "size") (result i32) (table.size 0))
  (func (export "spin") (loop $l br $l)))`;

t.test('session table budget: a module whose tables do not fit is refused, and places and runs nothing', async (t) => {
  const ex = await Executor.start({ sessionTableLimitElements: 100 });
  t.teardown(() => ex.close());
  const table = DATA_HANDLE_BASE + 100;
  await linkTables(ex, `(module (table (export "t") 60 funcref)
    (func (export "isNull") (param i32) (result i32) (ref.is_null (table.get 0 (local.get 0)))))`, { t: table, isNull: 20 }, { t: 'table' });
  const isNull = () => ex.invoke(20, unary, [i32(0)], { timeoutMs: 5000 }).then((r) => r.results[0]);
  t.same(await isNull(), i32(1));

  // Its start function would store into the first module's table: it must not run.
  const refused = await linkTables(
    ex,
    `(module (import "env" "t" (table 1 funcref)) (table (export "mine") 41 funcref)
      (func $f (export "f")) (elem declare func $f)
      (func $start (table.set 0 (i32.const 0) (ref.func $f))) (start $start))`,
    { mine: DATA_HANDLE_BASE + 101, f: 21 },
    { mine: 'table' },
    [{ module: 'env', name: 't', kind: 'table', addr: table }],
  ).catch((e: unknown) => e);
  t.type(refused, ResourceExhausted);
  t.equal((refused as ResourceExhausted).limit, 'sessionTableElements');
  t.match((refused as Error).message, /41 elements/);
  t.same(await isNull(), i32(1), 'its start function did not run');
  await t.rejects(ex.dataSize(DATA_HANDLE_BASE + 101), { code: 'TypeMismatch' }, 'its table is not placed');
  await t.rejects(ex.invoke(21, nullary([]), [], { timeoutMs: 5000 }), { code: 'TypeMismatch' }, 'nor its function');
  t.equal(ex.stats().replayLogOps, 1, 'a refused op is not replayed');

  await linkTables(ex, '(module (table (export "mine") 40 funcref))', { mine: DATA_HANDLE_BASE + 102 }, { mine: 'table' });
  t.equal(await ex.dataSize(DATA_HANDLE_BASE + 102), 40, 'exactly up to the limit fits');
});

t.test('session table budget: table.grow returns -1 past it; current sizes count; a released table gives its elements back', async (t) => {
  const ex = await Executor.start({ sessionTableLimitElements: 100 });
  t.teardown(() => ex.close());
  const [ta, tb, tc] = [DATA_HANDLE_BASE + 100, DATA_HANDLE_BASE + 101, DATA_HANDLE_BASE + 102];
  await linkTables(ex, tableGrower(10), { t: ta, grow: 20, size: 21, spin: 22 }, { t: 'table' });
  await linkTables(ex, tableGrower(20), { t: tb, grow: 30, size: 31, spin: 32 }, { t: 'table' });
  const call = (addr: number, ...args: number[]) =>
    ex.invoke(addr, args.length > 0 ? unary : nullary(['i32']), args.map(i32), { timeoutMs: 5000 }).then((r) => r.results[0]);

  t.same(await call(20, 30), i32(10), 'A grows from 10 to 40');
  t.same(await call(30, 41), i32(-1), '40 + 20 + 41 is past the budget');
  t.same(await call(31), i32(20), 'the refused grow left the table as it was');
  t.same(await call(30, 40), i32(20), 'exactly at the budget');
  t.same(await call(20, 1), i32(-1), 'full');
  t.same(await call(20, 0), i32(40), 'growing by 0 still answers the size');
  t.same(await call(20, -1), i32(-1), '0xffffffff elements');

  const late = await linkTables(ex, '(module (table (export "t") 1 funcref))', { t: tc }, { t: 'table' }).catch((e: unknown) => e);
  t.type(late, ResourceExhausted, "current sizes count, not initial ones (those were 30)");

  await ex.apply({ op: 'release', addrs: [ta] });
  await linkTables(ex, '(module (table (export "t") 40 funcref))', { t: tc }, { t: 'table' });
  t.equal(await ex.dataSize(tc), 40, "A's 40 elements came back");
  t.same(await call(30, 1), i32(-1), 'and are taken again');

  // A stopped call restarts the worker: tables are back to their initial sizes, and so is the count.
  await t.rejects(ex.invoke(32, nullary([]), [], { timeoutMs: 200 }), ExecutionTimeout);
  t.same(await call(31), i32(20), 'B replayed at its initial size');
  t.same(await call(30, 40), i32(20), '20 + 40 in use: 40 more fit');
  t.same(await call(30, 1), i32(-1));
});

t.test('session table budget: a table placed at two handles counts once', async (t) => {
  const ex = await Executor.start({ sessionTableLimitElements: 100 });
  t.teardown(() => ex.close());
  await linkTables(ex, '(module (table $t (export "t") (export "again") 60 funcref))', { t: DATA_HANDLE_BASE + 100, again: DATA_HANDLE_BASE + 101 }, {
    t: 'table',
    again: 'table',
  });
  await linkTables(ex, '(module (table (export "t") 40 funcref))', { t: DATA_HANDLE_BASE + 102 }, { t: 'table' });
  t.equal(await ex.dataSize(DATA_HANDLE_BASE + 102), 40, '60 + 40, not 120 + 40');
});

t.test('session table budget: a start function growing the tables being instantiated is held to it', async (t) => {
  const ex = await Executor.start({ sessionTableLimitElements: 100 });
  t.teardown(() => ex.close());
  // The module's table is not placed until instantiation is over, yet its start function grows it.
  await linkTables(
    ex,
    `(module (table (export "t") 10 funcref)
      (global $results (export "results") (mut i64) (i64.const 0))
      (func $grow (param i32) (result i64) (i64.extend_i32_s (table.grow 0 (ref.null func) (local.get 0))))
      (func $start
        (global.set $results (i64.or (i64.or
          (i64.and (call $grow (i32.const 60)) (i64.const 0xffff))
          (i64.shl (i64.and (call $grow (i32.const 60)) (i64.const 0xffff)) (i64.const 16)))
          (i64.shl (i64.and (call $grow (i32.const 30)) (i64.const 0xffff)) (i64.const 32)))))
      (start $start))`,
    { t: DATA_HANDLE_BASE + 100, results: DATA_HANDLE_BASE + 101 },
    { t: 'table', results: 'global' },
  );
  const packed = BigInt((await ex.readGlobal(DATA_HANDLE_BASE + 101, { type: 'i64', mutable: true })).bits ?? '0');
  const results = [0n, 16n, 32n].map((shift) => Number(BigInt.asIntN(16, (packed >> shift) & 0xffffn)));
  t.same(results, [10, -1, 70], 'grew to 70, refused 60 more, then took the last 30');
  t.equal(await ex.dataSize(DATA_HANDLE_BASE + 100), 100);
  await t.rejects(linkTables(ex, '(module (table (export "t") 1 funcref))', { t: DATA_HANDLE_BASE + 102 }, { t: 'table' }), ResourceExhausted, 'full once placed');
});
