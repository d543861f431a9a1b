// Lazy call-through: stubs whose first call runs a trampoline that asks main (the handler) to
// materialize the body, then continues into it; later calls go straight to the body. Each test
// runs twice: with the worker in this process, and in an executor host (the worker blocks in
// the host while the handler runs here).

import { AsyncLocalStorage } from 'node:async_hooks';
import t, { type Test } from 'tap';
import type { Executor } from '../../src/executor/Executor.ts';
import type { FuncType } from '../../src/wasm/types.ts';
import { forEachExecutorKind, i32, link, v, wat, type StartExecutor } from './helpers.ts';

/** Which (test) caller an invoke or apply was made for, to see whose async context a call-through runs in. */
const caller = new AsyncLocalStorage<string>();
const opts = { timeoutMs: 5000 };
const unary: FuncType = { params: ['i32'], results: ['i32'] };

// Address plan for these tests: stub / pointer / body / caller slots per function.
const SQ = { stubAddr: 100, ptrAddr: 101, callThroughId: 1, type: unary };
const SQ_BODY = 102;
const CALLER = 103;

const SQUARE = `(module $impl (func $square (export "square") (param i32) (result i32) local.get 0 local.get 0 i32.mul))`;
const CALLER_WAT = `(module $main
  (import "env" "square" (func $square (param i32) (result i32)))
  (func $caller (export "caller") (param i32) (result i32) local.get 0 call $square i32.const 1 i32.add))`;

async function setup(t: Test, start: StartExecutor): Promise<Executor> {
  const ex = await start(t);
  await ex.apply({ op: 'createStubs', stubs: [SQ] });
  await link(ex, CALLER_WAT, { caller: CALLER }, [{ module: 'env', name: 'square', kind: 'function', addr: SQ.stubAddr }]);
  return ex;
}

/** The JIT's side of a call-through for `square`, done the way the JIT must: posted, not awaited. */
function materializeSquare(ex: Executor): void {
  void link(ex, SQUARE, { square: SQ_BODY });
  void ex.apply({ op: 'updatePointer', ptrAddr: SQ.ptrAddr, targetAddr: SQ_BODY });
}

forEachExecutorKind(t, (t, start) => {
  t.test('the first call compiles through the handler, later calls do not', async (t) => {
    const ex = await setup(t, start);
    const seen: { id: number; caller: string | undefined }[] = [];
    ex.setCallThroughHandler(async (id) => {
      seen.push({ id, caller: caller.getStore() });
      materializeSquare(ex);
    });
    const r1 = await caller.run('first', () => ex.invoke(CALLER, unary, [i32(5)], opts));
    t.same(r1.results, [i32(26)]);
    t.same(seen, [{ id: 1, caller: 'first' }], 'handler called once, in the async context of the invoke that reached it');
    t.same((await ex.invoke(CALLER, unary, [i32(6)], opts)).results, [i32(37)]);
    t.same((await ex.invoke(SQ.stubAddr, unary, [i32(7)], opts)).results, [i32(49)], 'the stub itself is callable');
    t.equal(seen.length, 1, 'no more call-throughs once the pointer is updated');
    t.equal(ex.stats().callThroughs, 1);
  });

  t.test('a handler rejection rejects the invoke with the same error, and nothing is patched', async (t) => {
    const ex = await setup(t, start);
    const boom = new Error('no body for you');
    let calls = 0;
    ex.setCallThroughHandler(async () => {
      calls++;
      throw boom;
    });
    const err = await ex.invoke(CALLER, unary, [i32(5)], opts).catch((e: unknown) => e);
    t.equal(err, boom, 'the very same object');
    ex.setCallThroughHandler(async () => {
      calls++;
      materializeSquare(ex);
    });
    t.same((await ex.invoke(CALLER, unary, [i32(3)], opts)).results, [i32(10)], 'a later call retries the call-through');
    t.equal(calls, 2);
  });

  t.test('a handler that resolves without updating the pointer is reported, not looped', async (t) => {
    const ex = await setup(t, start);
    ex.setCallThroughHandler(async () => {});
    await t.rejects(ex.invoke(CALLER, unary, [i32(5)], opts), { name: 'ExecutorLinkError', message: /still holds the trampoline/ });
  });

  t.test('a handler may await its link ops (the worker applies them while it waits)', async (t) => {
    const ex = await setup(t, start);
    ex.setCallThroughHandler(async () => {
      await link(ex, SQUARE, { square: SQ_BODY });
      await ex.apply({ op: 'updatePointer', ptrAddr: SQ.ptrAddr, targetAddr: SQ_BODY });
    });
    t.same((await ex.invoke(CALLER, unary, [i32(4)], opts)).results, [i32(17)]);
  });

  t.test('call-through from a start function, during apply(instantiate)', async (t) => {
    const ex = await setup(t, start);
    const tags: unknown[] = [];
    ex.setCallThroughHandler(async () => {
      tags.push(caller.getStore());
      materializeSquare(ex);
    });
    await caller.run('adding starter', () =>
      ex.apply({
        op: 'instantiate',
        label: 'starter',
        bytes: wat(`(module
          (import "env" "square" (func $square (param i32) (result i32)))
          (global $g (mut i32) (i32.const 0))
          (func $init i32.const 9 call $square global.set $g)
          (start $init)
          (func (export "get") (result i32) global.get $g))`),
        imports: [{ module: 'env', name: 'square', kind: 'function', addr: SQ.stubAddr }],
        tableElements: 0,
        exports: [{ name: 'get', kind: 'function', addr: 110 }],
      }),
    );
    t.same(tags, ['adding starter'], 'the handler runs in the async context of the apply whose start function reached it');
    t.same((await ex.invoke(110, { params: [], results: ['i32'] }, [], opts)).results, [i32(81)]);
  });

  t.test('nested call-throughs: a body whose start function calls another stub', async (t) => {
    const ex = await setup(t, start);
    const CUBE = { stubAddr: 120, ptrAddr: 121, callThroughId: 2, type: unary };
    await ex.apply({ op: 'createStubs', stubs: [CUBE] });
    const order: number[] = [];
    ex.setCallThroughHandler(async (id) => {
      order.push(id);
      if (id === 1) {
        // square's "body" module has a start function that calls cube through its stub.
        void link(
          ex,
          `(module
            (import "env" "cube" (func $cube (param i32) (result i32)))
            (global $k (mut i32) (i32.const 0))
            (func $init i32.const 2 call $cube global.set $k)
            (start $init)
            (func (export "square") (param i32) (result i32) local.get 0 local.get 0 i32.mul global.get $k i32.add))`,
          { square: SQ_BODY },
          [{ module: 'env', name: 'cube', kind: 'function', addr: CUBE.stubAddr }],
        );
        void ex.apply({ op: 'updatePointer', ptrAddr: SQ.ptrAddr, targetAddr: SQ_BODY });
      } else {
        void link(ex, `(module (func (export "cube") (param i32) (result i32) local.get 0 local.get 0 i32.mul local.get 0 i32.mul))`, { cube: 122 });
        void ex.apply({ op: 'updatePointer', ptrAddr: CUBE.ptrAddr, targetAddr: 122 });
      }
    });
    // caller(5) = square(5) + 1 = 25 + cube(2) + 1
    t.same((await ex.invoke(CALLER, unary, [i32(5)], opts)).results, [i32(34)]);
    t.same(order, [1, 2]);
  });

  t.test('traps inside a lazily compiled body name user functions only', async (t) => {
    const ex = await setup(t, start);
    ex.setCallThroughHandler(async () => {
      void link(ex, `(module $impl (func $square (export "square") (param i32) (result i32) unreachable))`, { square: SQ_BODY });
      void ex.apply({ op: 'updatePointer', ptrAddr: SQ.ptrAddr, targetAddr: SQ_BODY });
    });
    await t.rejects(ex.invoke(CALLER, unary, [i32(1)], opts), { code: 'Trap', wasmStack: ['square', 'caller'] });
    await t.rejects(ex.invoke(CALLER, unary, [i32(1)], opts), { code: 'Trap', wasmStack: ['square', 'caller'] }, 'warm path too');
  });

  t.test('stubs of every value kind forward exactly', async (t) => {
    const ex = await start(t);
    const type: FuncType = { params: ['f64', 'v128', 'externref'], results: ['externref', 'v128', 'f64'] };
    await ex.apply({ op: 'createStubs', stubs: [{ stubAddr: 130, ptrAddr: 131, callThroughId: 9, type }] });
    ex.setCallThroughHandler(async () => {
      void link(
        ex,
        `(module (func (export "rev") (param f64 v128 externref) (result externref v128 f64) local.get 2 local.get 1 local.get 0))`,
        { rev: 132 },
      );
      void ex.apply({ op: 'updatePointer', ptrAddr: 131, targetAddr: 132 });
    });
    const args = [v('f64', String(0x7ff0000000000abcn)), v('v128', '0123456789abcdef0123456789abcdef'), v('externref', 'x')];
    for (let i = 0; i < 2; i++) t.same((await ex.invoke(130, type, args, opts)).results, [...args].reverse(), `call ${i + 1}`);
  });

  t.test('requests from inside a handler are refused instead of deadlocking', async (t) => {
    const ex = await setup(t, start);
    let refusal: unknown;
    ex.setCallThroughHandler(async () => {
      await Promise.resolve(); // still the handler's context after an await
      refusal = await ex.readGlobal(99, { type: 'i32', mutable: false }).catch((e: unknown) => e);
      materializeSquare(ex);
    });
    t.same((await ex.invoke(CALLER, unary, [i32(2)], opts)).results, [i32(5)]);
    t.match(refusal, { message: /from inside a call-through handler/ });
  });

  t.test('a handler that never settles fails the call after callThroughTimeoutMs', async (t) => {
    const ex = await start(t, { callThroughTimeoutMs: 300 });
    await ex.apply({ op: 'createStubs', stubs: [SQ] });
    ex.setCallThroughHandler(() => new Promise<void>(() => {}));
    await t.rejects(ex.invoke(SQ.stubAddr, unary, [i32(2)], opts), { message: /did not settle within 300 ms/ });
    t.equal(ex.stats().restarts, 0, 'no restart needed: the worker was only waiting');
  });
});
