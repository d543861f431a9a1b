// Per-session limits through the LazyJIT: all linear memories of the session share a page
// budget (an add whose memory does not fit is refused and defines nothing; memory.grow past it
// returns -1; a memory counts once however many modules import it, and comes back to the
// budget when nothing imports it any more), and so does compiled code (a compile past the
// budget fails the call that needed it with ResourceExhausted and nothing else). Each table is
// capped like each memory: one starting larger is refused, table.grow past the cap returns -1;
// and all tables of the session share an element budget, as memories share theirs.

import t, { type Test } from 'tap';
import { ResourceExhausted } from '../../src/core/errors.ts';
import type { JITConfig } from '../../src/config.ts';
import type { LazyJIT } from '../../src/jit/LazyJIT.ts';
import { args, createJIT, i32 } from './helpers.ts';

function withJIT(t: Test, options: Partial<JITConfig>): Promise<LazyJIT> {
  return createJIT(t, options);
}

const grower = (pages: number, max = 100) => `(module
  (memory (export "mem") ${pages} ${max})
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) memory.size))`;

const importer = (from: string) => `(module
  (import "${from}" "mem" (memory 1))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;

async function grow(jit: LazyJIT, dylib: string, pages: number): Promise<number> {
  const out = await jit.invoke(dylib, 'grow', args(i32(pages)));
  return Number(BigInt.asIntN(32, BigInt(out.results[0]?.bits ?? 'x')));
}

t.test('session memory: adds past the budget are refused and define nothing', async (t) => {
  const jit = await withJIT(t, { sessionMemoryLimitPages: 4 });
  jit.createDylib('main');
  await jit.addModule('main', { wat: grower(2) });
  for (const lazy of [true, false]) {
    const err = await jit.addModule('main', { wat: '(module (memory (export "big") 3) (func (export "f")))' }, { lazy }).catch((e: unknown) => e);
    t.type(err, ResourceExhausted, `lazy: ${lazy}`);
    t.equal((err as ResourceExhausted).limit, 'sessionMemoryPages');
    t.equal(jit.getDylib('main').entry('big'), undefined, 'nothing defined');
    t.equal(jit.getDylib('main').entry('f'), undefined);
  }
  t.equal(jit.modulesOf(jit.getDylib('main')).length, 1);
  await jit.addModule('main', { wat: '(module (memory (export "fits") 2))' });
});

t.test('session memory: memory.grow returns -1 past the budget, lazily and eagerly compiled', async (t) => {
  const variants = [
    { lazy: true, optimize: 2 },
    { lazy: false, optimize: 0 },
    { lazy: false, optimize: 2 },
  ];
  for (const options of variants) {
    const jit = await withJIT(t, { sessionMemoryLimitPages: 6 });
    jit.createDylib('a');
    jit.createDylib('b');
    await jit.addModule('a', { wat: grower(2) }, options);
    await jit.addModule('b', { wat: grower(1) }, options);
    const label = JSON.stringify(options);
    t.equal(await grow(jit, 'a', 2), 2, `${label}: within the budget`);
    t.equal(await grow(jit, 'b', 2), -1, `${label}: 4 + 1 + 2 pages is past it`);
    t.equal(await grow(jit, 'b', 1), 1, `${label}: exactly at it`);
    t.equal(await grow(jit, 'a', 1), -1, `${label}: full`);
    t.equal(await grow(jit, 'a', 0), 4, `${label}: growing by 0 still answers the size`);
    t.equal((await jit.readMemory('a', 'mem', 0, 0)).pages, 4);
  }
});

t.test('a body kept in the globals module (it uses segments) is held to the budget too', async (t) => {
  const jit = await withJIT(t, { sessionMemoryLimitPages: 2 });
  jit.createDylib('main');
  const wat = `(module (memory (export "mem") 1) (data $d "x")
    (func (export "grow") (param i32) (result i32) (data.drop $d) (memory.grow (local.get 0))))`;
  await jit.addModule('main', { wat });
  t.equal(await grow(jit, 'main', 2), -1);
  t.equal(await grow(jit, 'main', 1), 1);
});

t.test('a start function that grows memory is held to the budget too', async (t) => {
  const jit = await withJIT(t, { sessionMemoryLimitPages: 3 });
  jit.createDylib('main');
  const wat = `(module (memory (export "mem") 1)
    (global $got (export "got") (mut i32) (i32.const 0))
    (func $start (global.set $got (memory.grow (i32.const 5))))
    (start $start))`;
  await jit.addModule('main', { wat }, { lazy: false });
  const def = await jit.lookupData('main', 'got', 'global');
  t.same(await jit.globalValue(def.entry), i32(-1), 'the start function saw -1');
});

t.test('session memory: a shared memory counts once and comes back when nothing imports it', async (t) => {
  const jit = await withJIT(t, { sessionMemoryLimitPages: 4 });
  jit.createDylib('a');
  jit.createDylib('b');
  await jit.addModule('a', { wat: grower(2) });
  await jit.addModule('b', { wat: importer('a') });
  t.equal(await grow(jit, 'b', 1), 2, 'the importer grows the shared memory');
  t.equal(await grow(jit, 'a', 1), 3, 'counted once: 4 pages in use, not 7');
  t.equal(await grow(jit, 'b', 1), -1, 'the budget is full');

  await jit.removeDylib('a');
  t.equal(await grow(jit, 'b', 0), 4, 'b still uses the memory a defined');
  jit.createDylib('c');
  await t.rejects(jit.addModule('c', { wat: grower(1) }), ResourceExhausted, 'so it still counts');

  await jit.removeDylib('b');
  await jit.addModule('c', { wat: grower(4) });
  t.pass('with nothing importing it, its pages came back');
});

t.test('compiled code: past the budget the call that needs a body fails, nothing else does', async (t) => {
  const wat = `(module
    (func (export "one") (result i32) i32.const 1)
    (func (export "two") (result i32) i32.const 2))`;
  // Measure what each piece costs, then allow one byte less than all of them.
  const probe = await withJIT(t, {});
  probe.createDylib('main');
  await probe.addModule('main', { wat });
  const afterAdd = probe.codeBudget.usedBytes;
  await probe.invoke('main', 'one', args());
  const afterOne = probe.codeBudget.usedBytes;
  await probe.invoke('main', 'two', args());
  const all = probe.codeBudget.usedBytes;
  t.ok(afterAdd >= 0 && afterOne > afterAdd && all > afterOne, `sizes ${afterAdd}, ${afterOne}, ${all}`);

  const jit = await withJIT(t, { sessionCodeLimitBytes: all - 1 });
  jit.createDylib('main');
  await jit.addModule('main', { wat });
  t.same((await jit.invoke('main', 'one', args())).results, [i32(1)]);
  for (const attempt of [1, 2]) {
    const err = await jit.invoke('main', 'two', args()).catch((e: unknown) => e);
    t.type(err, ResourceExhausted, `attempt ${attempt}`);
    t.equal((err as ResourceExhausted).limit, 'sessionCodeBytes');
    t.match((err as Error).message, /"two"/, 'the message names the body');
  }
  t.same((await jit.invoke('main', 'one', args())).results, [i32(1)], 'compiled code keeps working');
  t.equal(jit.codeBudget.usedBytes, afterOne, 'the refused piece is not counted');

  await jit.removeDylib('main');
  t.equal(jit.codeBudget.usedBytes, 0, "a removed dylib's code goes back to the budget");
  jit.createDylib('again');
  await jit.addModule('again', { wat });
  t.same((await jit.invoke('again', 'two', args())).results, [i32(2)]);
});

t.test('compiled code: an eager module or a globals module past the budget', async (t) => {
  const jit = await withJIT(t, { sessionCodeLimitBytes: 40 });
  jit.createDylib('main');
  const big = `(module (func (export "f") (result i32) ${'i32.const 1 drop '.repeat(40)} i32.const 7))`;
  await jit.addModule('main', { wat: big }, { lazy: false, optimize: 0 });
  const err = await jit.invoke('main', 'f', args()).catch((e: unknown) => e);
  t.type(err, ResourceExhausted, 'compiled on first lookup: the invoke says so');
  t.equal(jit.codeBudget.usedBytes, 0);

  const withData = `(module (memory 1) (data (i32.const 0) "${'x'.repeat(64)}") (func (export "g")))`;
  await t.rejects(jit.addModule('main', { wat: withData }), ResourceExhausted, 'the globals module is compiled at add');
  t.equal(jit.getDylib('main').entry('g'), undefined, 'nothing defined');
});

t.test('table cap: a table starting past it is refused; table.grow past it returns -1', async (t) => {
  const jit = await withJIT(t, { tableLimitElements: 8 });
  jit.createDylib('main');
  for (const lazy of [true, false]) {
    const err = await jit.addModule('main', { wat: '(module (table (export "big") 9 funcref) (func (export "f")))' }, { lazy }).catch((e: unknown) => e);
    t.type(err, ResourceExhausted, `lazy: ${lazy}`);
    t.equal((err as ResourceExhausted).limit, 'tableElements');
    t.equal(jit.getDylib('main').entry('big'), undefined, 'nothing defined');
  }
  for (const lazy of [true, false]) {
    const dylib = lazy ? 'lazy' : 'eager';
    jit.createDylib(dylib);
    await jit.addModule(
      dylib,
      { wat: `(module (table $t 2 funcref) (table $u 1 100 externref)
        (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
        (func (export "growU") (param i32) (result i32) (table.grow $u (ref.null extern) (local.get 0))))` },
      { lazy },
    );
    const call = async (f: string, n: number) => Number(BigInt.asIntN(32, BigInt((await jit.invoke(dylib, f, args(i32(n)))).results[0]?.bits ?? 'x')));
    t.equal(await call('grow', 6), 2, `${dylib}: up to the cap`);
    t.equal(await call('grow', 1), -1, `${dylib}: past the cap`);
    t.equal(await call('growU', 7), 1, `${dylib}: a declared maximum above the cap is capped too`);
    t.equal(await call('growU', 1), -1);
  }
});

// The session table budget. The tables here are not exported: the JIT counts them all the same.
const tableGrower = (elements: number) => `(module
  (table $t ${elements} funcref)
  (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "size") (result i32) (table.size $t)))`;

t.test('session tables: an add whose tables do not fit is refused and defines nothing', async (t) => {
  const jit = await withJIT(t, { sessionTableLimitElements: 100 });
  jit.createDylib('main');
  await jit.addModule('main', { wat: tableGrower(60) });
  const big = '(module (table (export "big") 41 funcref) (func (export "f")) (func $s) (start $s))';
  for (const lazy of [true, false]) {
    const err = await jit.addModule('main', { wat: big }, { lazy }).catch((e: unknown) => e);
    t.type(err, ResourceExhausted, `lazy: ${lazy}`);
    t.equal((err as ResourceExhausted).limit, 'sessionTableElements');
    t.equal(jit.getDylib('main').entry('big'), undefined, 'nothing defined');
    t.equal(jit.getDylib('main').entry('f'), undefined);
  }
  t.equal(jit.modulesOf(jit.getDylib('main')).length, 1);

  // An eager module without a start function is instantiated at its first lookup: that fails.
  jit.createDylib('eager');
  await jit.addModule('eager', { wat: '(module (table 41 funcref) (func (export "f") (result i32) i32.const 1))' }, { lazy: false });
  const err = await jit.invoke('eager', 'f', args()).catch((e: unknown) => e);
  t.type(err, ResourceExhausted, 'the first call of an eager module whose tables do not fit');
  t.equal((err as ResourceExhausted).limit, 'sessionTableElements');

  await jit.addModule('main', { wat: '(module (table 40 funcref))' });
  t.pass('exactly up to the limit fits');
});

t.test('session tables: table.grow returns -1 past the budget, lazily and eagerly compiled', async (t) => {
  const variants = [
    { lazy: true, optimize: 2 },
    { lazy: false, optimize: 0 },
    { lazy: false, optimize: 2 },
  ];
  for (const options of variants) {
    const jit = await withJIT(t, { sessionTableLimitElements: 10 });
    jit.createDylib('a');
    jit.createDylib('b');
    await jit.addModule('a', { wat: tableGrower(2) }, options);
    await jit.addModule('b', { wat: tableGrower(2) }, options);
    const label = JSON.stringify(options);
    t.equal(await grow(jit, 'a', 4), 2, `${label}: within the budget`);
    t.equal(await grow(jit, 'b', 3), -1, `${label}: 6 + 2 + 3 is past it`);
    t.same((await jit.invoke('b', 'size', args())).results, [i32(2)], `${label}: the refused grow changed nothing`);
    t.equal(await grow(jit, 'b', 2), 2, `${label}: exactly at it`);
    t.equal(await grow(jit, 'a', 1), -1, `${label}: full`);
    t.equal(await grow(jit, 'a', 0), 6, `${label}: growing by 0 still answers the size`);
  }
});

t.test('session tables: code kept in the globals module and start functions are held to the budget too', async (t) => {
  const jit = await withJIT(t, { sessionTableLimitElements: 10 });
  jit.createDylib('main');
  const kept = `(module (table $t 2 funcref) (elem $e func)
    (func (export "grow") (param i32) (result i32) (elem.drop $e) (table.grow $t (ref.null func) (local.get 0))))`;
  await jit.addModule('main', { wat: kept });
  t.equal(await grow(jit, 'main', 9), -1);
  t.equal(await grow(jit, 'main', 8), 2);

  for (const lazy of [true, false]) {
    const dylib = lazy ? 'lazy' : 'eager';
    jit.createDylib(dylib);
    const starter = `(module (table $t 0 funcref)
      (global $got (export "got") (mut i32) (i32.const 0))
      (func $start (global.set $got (table.grow $t (ref.null func) (i32.const 1))))
      (start $start))`;
    await jit.addModule(dylib, { wat: starter }, { lazy });
    const def = await jit.lookupData(dylib, 'got', 'global');
    t.same(await jit.globalValue(def.entry), i32(-1), `${dylib}: the start function saw -1`);
  }
});

t.test('session tables: a shared table counts once and comes back when nothing imports it', async (t) => {
  const jit = await withJIT(t, { sessionTableLimitElements: 10 });
  jit.createDylib('a');
  jit.createDylib('b');
  await jit.addModule('a', { wat: `(module (table (export "t") 2 funcref)
    (func (export "grow") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0))))` });
  await jit.addModule('b', { wat: `(module (import "a" "t" (table 1 funcref))
    (func (export "grow") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0))))` });
  t.equal(await grow(jit, 'b', 4), 2, 'the importer grows the shared table');
  t.equal(await grow(jit, 'a', 4), 6, 'counted once: 10 elements in use, not 16');
  t.equal(await grow(jit, 'b', 1), -1, 'the budget is full');

  await jit.removeDylib('a');
  t.equal(await grow(jit, 'b', 0), 10, 'b still uses the table a defined');
  jit.createDylib('c');
  await t.rejects(jit.addModule('c', { wat: tableGrower(1) }), ResourceExhausted, 'so it still counts');

  await jit.removeDylib('b');
  await jit.addModule('c', { wat: tableGrower(10) });
  t.pass('with nothing importing it, its elements came back');
});

t.test('session tables: removing a dylib gives its tables back', async (t) => {
  const jit = await withJIT(t, { sessionTableLimitElements: 100 });
  for (const lazy of [true, false]) {
    jit.createDylib('a');
    await jit.addModule('a', { wat: tableGrower(30) }, { lazy });
    t.equal(await grow(jit, 'a', 30), 30, `lazy: ${lazy}: grown to 60`);
    jit.createDylib('b');
    await t.rejects(jit.addModule('b', { wat: tableGrower(41) }, { lazy: true }), ResourceExhausted, `lazy: ${lazy}: its current 60 count`);
    await jit.removeDylib('a');
    await jit.addModule('b', { wat: tableGrower(100) }, { lazy: true });
    await jit.removeDylib('b');
    t.pass(`lazy: ${lazy}: all 100 came back`);
  }
});

t.test('after a call is stopped at its time limit, start functions have run again', async (t) => {
  const jit = await withJIT(t, { callTimeoutMs: 300 });
  jit.createDylib('main');
  await jit.addModule('main', {
    wat: `(module (global $g (export "g") (mut i32) (i32.const 0)) (memory (export "mem") 1)
      (func $init (global.set $g (i32.const 42)) (i32.store8 (i32.const 0) (i32.const 7)))
      (start $init)
      (func (export "set") (param i32) (global.set $g (local.get 0)))
      (func (export "spin") (loop $l (br $l))))`,
  });
  const g = async () => jit.globalValue((await jit.lookupData('main', 'g', 'global')).entry);
  t.same(await g(), i32(42), 'the start function ran at add');
  await jit.invoke('main', 'set', args(i32(5)));
  t.same(await g(), i32(5));
  await t.rejects(jit.invoke('main', 'spin', args()), { code: 'ExecutionTimeout' });
  t.same(await g(), i32(42), 'globals back to their state after instantiation, start function included');
  t.same([...(await jit.readMemory('main', 'mem', 0, 1)).bytes], [7]);
});
