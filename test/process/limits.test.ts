// Linear-memory limits against the real server process started with small MEMORY_LIMIT_PAGES and
// SESSION_MEMORY_LIMIT_PAGES: memory.grow returns -1 past either, a module whose memory does not
// fit is refused with ResourceExhausted naming the limit, removing a dylib gives its pages back,
// and the process serves throughout.

import t from 'tap';
import { startServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import { addWasm, createDylib, expectError, expectHealthy, invoke, seg } from './api.ts';

const MEMORY_LIMIT_PAGES = 4;
const SESSION_MEMORY_LIMIT_PAGES = 6;

const server = await startServerProcess(t, {
  env: { MEMORY_LIMIT_PAGES: String(MEMORY_LIMIT_PAGES), SESSION_MEMORY_LIMIT_PAGES: String(SESSION_MEMORY_LIMIT_PAGES) },
});

const growable = (pages: number, max = '') =>
  wat2wasm(`(module
    (memory ${pages} ${max})
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "size") (result i32) (memory.size)))`);

async function call(dylib: string, symbol: string, args: readonly number[] = []): Promise<unknown> {
  const res = await invoke(server, dylib, symbol, args);
  if (res.status !== 200) return `${res.status} ${res.text}`;
  return res.json.results[0]?.value;
}

t.test('memory.grow stops at MEMORY_LIMIT_PAGES with -1', async (t) => {
  await createDylib(server, 'a');
  // A declared maximum above the limit is capped to it, like no maximum at all.
  await addWasm(server, 'a', growable(1, '100'));
  t.equal(await call('a', 'grow', [MEMORY_LIMIT_PAGES - 1]), 1, 'growing up to the limit returns the old size');
  t.equal(await call('a', 'size'), MEMORY_LIMIT_PAGES);
  t.equal(await call('a', 'grow', [1]), -1, 'one page past the limit: -1');
  t.equal(await call('a', 'size'), MEMORY_LIMIT_PAGES, 'the memory is unchanged');
});

t.test('a memory starting above MEMORY_LIMIT_PAGES is refused', async (t) => {
  await createDylib(server, 'big');
  const res = await server.request('POST', '/dylibs/big/modules', { wasm: growable(MEMORY_LIMIT_PAGES + 1) });
  const error = expectError(t, res, 422, 'ResourceExhausted');
  t.equal(error?.['limit'], 'memoryPages');
  const dylib = await server.get<{ symbols: unknown[]; modules: unknown[] }>('/dylibs/big');
  t.same([dylib.json.symbols, dylib.json.modules], [[], []], 'nothing was defined');
});

t.test('the session budget: grows get -1 and adds get ResourceExhausted', async (t) => {
  // "a" holds MEMORY_LIMIT_PAGES pages; "b" starts with one more.
  await createDylib(server, 'b');
  await addWasm(server, 'b', growable(1));
  const room = SESSION_MEMORY_LIMIT_PAGES - MEMORY_LIMIT_PAGES - 1;
  t.equal(await call('b', 'grow', [room]), 1, 'growing into the rest of the budget works');
  t.equal(await call('b', 'grow', [1]), -1, 'one page past the session budget: -1, though the memory limit would allow it');
  t.equal(await call('b', 'size'), 1 + room);

  await createDylib(server, 'c');
  const res = await server.request('POST', '/dylibs/c/modules', { wasm: growable(1) });
  const error = expectError(t, res, 422, 'ResourceExhausted');
  t.equal(error?.['limit'], 'sessionMemoryPages');
});

t.test('removing a dylib gives its pages back', async (t) => {
  const removed = await server.request('DELETE', `/dylibs/${seg('a')}`);
  t.equal(removed.status, 204);
  await addWasm(server, 'c', growable(1));
  t.equal(await call('c', 'grow', [MEMORY_LIMIT_PAGES - 1]), 1, "a's pages are free again");
  await expectHealthy(t, server);
  t.equal(server.exitStatus, undefined, 'the process is running');
});
