// What refused adds and removed dylibs leave behind (regressions the fuzz test found): a refused
// lazy add leaves no bodies and no impl dylib it created, so the fixed module can be added
// again; a module that imported from a removed dylib keeps the memory it imported, never sees
// another dylib's memory at a reused handle, and a function import of the removed dylib fails
// its caller cleanly, then works again once the dylib is back.

import t, { type Test } from 'tap';
import { DylibExists, FailedToMaterialize, Trap } from '../../src/core/errors.ts';
import type { LazyJIT } from '../../src/jit/LazyJIT.ts';
import { args, createJIT, i32 } from './helpers.ts';

function withJIT(t: Test): Promise<LazyJIT> {
  return createJIT(t);
}

const withStart = (start: string) => `(module
  (table 1 funcref) (elem (i32.const 0) $f)
  (func $f (export "f") (result i32) i32.const 1)
  ${start})`;

t.test('a lazy add refused by a trapping start function leaves nothing; the fixed module adds', async (t) => {
  const jit = await withJIT(t);
  jit.createDylib('main');
  await t.rejects(jit.addModule('main', { wat: withStart('(func $start unreachable) (start $start)') }), Trap);
  t.equal(jit.session.getJITDylibByName('main.impl'), undefined, 'the impl dylib the add created is gone');
  t.same([...jit.getDylib('main').symbols()].map((e) => e.name), []);
  await jit.addModule('main', { wat: withStart('') });
  t.same((await jit.invoke('main', 'f', args())).results, [i32(1)]);
});

t.test('a refused lazy add into a dylib with an impl dylib leaves that dylib as it was', async (t) => {
  const jit = await withJIT(t);
  jit.createDylib('main');
  await jit.addModule('main', { wat: '(module (func (export "g") (result i32) i32.const 2))' });
  const before = [...jit.getDylib('main.impl').symbols()].map((e) => e.name);
  await t.rejects(jit.addModule('main', { wat: withStart('(func $start unreachable) (start $start)') }), Trap);
  t.same([...jit.getDylib('main.impl').symbols()].map((e) => e.name), before);
  t.same(jit.modulesOf(jit.getDylib('main.impl')), []);
});

t.test('a refused add with an imported table keeps the bodies whose stubs it stored there', async (t) => {
  const jit = await withJIT(t);
  jit.createDylib('lib');
  await jit.addModule('lib', { wat: '(module (table (export "tab") 2 funcref) (type $t (func (result i32))) (func (export "call0") (result i32) (call_indirect (type $t) (i32.const 0))))' });
  jit.createDylib('main');
  const failing = `(module (import "lib" "tab" (table 2 funcref)) (elem (i32.const 0) $f)
    (func $f (result i32) i32.const 9) (func $start unreachable) (start $start))`;
  await t.rejects(jit.addModule('main', { wat: failing }), Trap);
  t.same((await jit.invoke('lib', 'call0', args())).results, [i32(9)], 'the stub stored before the trap still works, as in wasm');
});

t.test('a lazy add that defines nothing else refuses a duplicate without creating an impl dylib', async (t) => {
  const jit = await withJIT(t);
  jit.createDylib('other');
  await jit.addModule('other', { wat: '(module (func (export "g")))' }, { lazy: false });
  await t.rejects(jit.addModule('other', { wat: '(module (func (export "g")))' }));
  t.equal(jit.session.getJITDylibByName('other.impl'), undefined);
});

t.test('after removing a dylib another module imported from', async (t) => {
  const jit = await withJIT(t);
  jit.createDylib('lib');
  await jit.addModule('lib', { wat: '(module (memory (export "mem") 1) (data (i32.const 0) "\\01") (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))' });
  jit.createDylib('user');
  await jit.addModule('user', {
    wat: `(module (import "lib" "mem" (memory 1)) (import "lib" "add" (func $add (param i32 i32) (result i32)))
      (func (export "peek") (result i32) (i32.load8_u (i32.const 0)))
      (func (export "add3") (param i32) (result i32) (call $add (local.get 0) (i32.const 3))))`,
  });
  await jit.removeDylib('lib');
  jit.createDylib('other');
  await jit.addModule('other', { wat: '(module (memory (export "secret") 1) (data (i32.const 0) "\\2a"))' });
  t.same((await jit.invoke('user', 'peek', args())).results, [i32(1)], 'the imported memory stays alive: never another dylib\'s memory');

  const err = await jit.invoke('user', 'add3', args(i32(1))).catch((e: unknown) => e);
  t.type(err, FailedToMaterialize, 'a call needing the removed function fails cleanly');
  t.match((err as Error).message, /import "lib" "add" .*resolves nowhere/, "naming the import");

  jit.createDylib('lib');
  await jit.addModule('lib', { wat: '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))' });
  t.same((await jit.invoke('user', 'add3', args(i32(1)))).results, [i32(4)], 'and works once the import resolves again');
});

t.test('a lazy add whose impl dylib name is taken by a plain dylib is refused and defines nothing', async (t) => {
  const jit = await withJIT(t);
  jit.createDylib('x.impl');
  jit.createDylib('x');
  await t.rejects(jit.addModule('x', { wat: '(module (func (export "f")))' }), DylibExists);
  t.same([...jit.getDylib('x').symbols()], []);
  await jit.addModule('x', { wat: '(module (func (export "f")))' }, { lazy: false });
  t.ok(jit.getDylib('x').entry('f'), 'an eager add needs no impl dylib');
});
