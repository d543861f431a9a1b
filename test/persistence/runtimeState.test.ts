// Runtime state after kill -9 and a restart is what instantiating the modules again, in the
// order they were added, produces (API.md "Persistence"): a mutable global bumped before the kill
// starts again from its initial value; a memory written before the kill holds its data segment
// again; and start functions run again, once each, in order: three modules write into a fourth
// module's memory from their start functions (a log: a count, then each writer's mark), one of
// them is removed before the kill, so after the restart the log holds the other two, in order.

import t from 'tap';
import type { ServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import { kill9, ok, sqliteStore, startOn } from './support.ts';

// The log's memory, with a data segment the test can see come back: "seed" at offset 100.
const LOG_WAT = `(module
  (memory (export "mem") 1)
  (data (i32.const 100) "seed")
  (global $n (export "n") (mut i32) (i32.const 5))
  (func (export "bump") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (global.get $n)))`;

/** A module whose start appends `mark` to the log in dylib "log": count at 0, entries from 4 on. */
const writerWat = (mark: number) => `(module
  (import "log" "mem" (memory 1))
  (func $start
    (local $n i32)
    (local.set $n (i32.load (i32.const 0)))
    (i32.store (i32.add (i32.const 4) (i32.mul (local.get $n) (i32.const 4))) (i32.const ${mark}))
    (i32.store (i32.const 0) (i32.add (local.get $n) (i32.const 1))))
  (start $start)
  (func (export "mark${mark}") (result i32) (i32.const ${mark})))`;

/** The log as numbers: [count, entries...]. */
async function readLog(s: ServerProcess): Promise<number[]> {
  const r = await ok(s.get<{ base64: string }>('/dylibs/log/memories/mem?offset=0&length=20'), 'read the log');
  const b = Buffer.from(r.json.base64, 'base64');
  const count = b.readInt32LE(0);
  return [count, ...Array.from({ length: Math.min(count, 4) }, (_, i) => b.readInt32LE(4 + 4 * i))];
}

async function readSeed(s: ServerProcess): Promise<string> {
  const r = await ok(s.get<{ base64: string }>('/dylibs/log/memories/mem?offset=100&length=4'), 'read the seed');
  return Buffer.from(r.json.base64, 'base64').toString('latin1');
}

async function globalValue(s: ServerProcess): Promise<unknown> {
  const r = await ok(s.get<{ value?: { value: unknown } }>('/dylibs/log/symbols/n'), 'GET n');
  return r.json.value?.value;
}

t.test('after kill -9 a global starts again from its initial value and a memory holds its data segment again', async (t) => {
  const store = await sqliteStore(t);
  let s = await startOn(t, store);
  await ok(s.post('/dylibs', { name: 'log' }), 'create log');
  await ok(s.post('/dylibs/log/modules', { wat: LOG_WAT }), 'the log module');
  t.same([await bump(s), await bump(s), await bump(s)], [6, 7, 8], 'the global counts up');
  await ok(s.request('PUT', '/dylibs/log/memories/mem', { json: { offset: 100, base64: Buffer.from('gone').toString('base64') } }), 'overwrite the seed');
  t.equal(await readSeed(s), 'gone');

  await kill9(s);
  s = await startOn(t, store);
  t.equal(await globalValue(s), 5, 'the global is back at its initial value');
  t.equal(await bump(s), 6, 'and counts up from there');
  t.equal(await readSeed(s), 'seed', 'the memory holds its data segment again');
});

// A replay posts every op at once; a start function that reaches a lazy call-through applies
// the ops posted after it while it waits, and the next module's start function must not run
// inside it (src/executor/OpSequencer.ts). The same holds when an idle tenant's executor starts again.
t.test('after kill -9 start functions run again, once each, in the order their modules were added', async (t) => {
  const store = await sqliteStore(t);
  let s = await startOn(t, store);
  for (const d of ['log', 'w1', 'w2', 'w3']) await ok(s.post('/dylibs', { name: d }), `create ${d}`);
  await ok(s.post('/dylibs/log/modules', { wat: LOG_WAT }), 'the log module');
  // Added in this order: lazily (WAT), eagerly (binary, its start runs at add), lazily (binary).
  await ok(s.post('/dylibs/w1/modules', { wat: writerWat(11) }), 'writer 11');
  const w2 = await ok(s.request<{ module: { id: string } }>('POST', '/dylibs/w2/modules?lazy=false', { wasm: wat2wasm(writerWat(22)) }), 'writer 22');
  await ok(s.request('POST', '/dylibs/w3/modules', { wasm: wat2wasm(writerWat(33)) }), 'writer 33');
  t.same(await readLog(s), [3, 11, 22, 33], 'the start functions ran at add, in order');
  await ok(s.request('DELETE', `/dylibs/w2/modules/${w2.json.module.id}`), 'remove writer 22');
  t.same(await readLog(s), [3, 11, 22, 33], 'a removal does not undo what its start function did in the running session');

  await kill9(s);
  s = await startOn(t, store);
  t.same(await readLog(s), [2, 11, 33], 'the remaining start functions ran again, once each, in the order their modules were added');
  for (const [d, mark] of [['w1', 11], ['w3', 33]] as const) {
    const r = await ok(s.post<{ results: { value: number }[] }>(`/dylibs/${d}/invoke`, { symbol: `mark${mark}`, args: [] }), `mark${mark}`);
    t.equal(r.json.results[0]?.value, mark);
  }
});

async function bump(s: ServerProcess): Promise<number> {
  const r = await ok(s.post<{ results: { value: number }[] }>('/dylibs/log/invoke', { symbol: 'bump', args: [] }), 'bump');
  return r.json.results[0]?.value as number;
}
