// Exhausting the executor's JavaScript heap, against the real server process started with a small
// EXECUTOR_HEAP_LIMIT_MB: every way a client can grow that heap must end in a documented answer,
// never in a dead process, and what the server accepted must still work afterwards. Output lines
// through spectest.print_* end in success or in 422 ResourceExhausted with details.limit
// "memory" (the heap itself). Tables are held to the session's table budget, which defaults to
// a quarter of that heap: a big table, or many modules with tables, are refused with
// details.limit "sessionTableElements", and table.grow in a loop gets -1 at the budget. Each way
// gets a server of its own, so one that kills the process does not hide what the others do.

import t, { type Test } from 'tap';
import { defaultSessionTableLimitElements } from '../../src/config.ts';
import type { ApiResponse, ServerProcess } from '../support/serverProcess.ts';
import { startServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import { addWasm, createDylib, expectHealthy, invoke, seg, type InvokeResult } from './api.ts';

const HEAP_LIMIT_MB = 64;
/** V8's own table limit, the server's default TABLE_LIMIT_ELEMENTS: 320 MB of funcref slots. */
const TABLE_ELEMENTS = 10_000_000;
/** What all tables of the session may hold at this heap limit (SESSION_TABLE_LIMIT_ELEMENTS unset). */
const SESSION_TABLE_ELEMENTS = defaultSessionTableLimitElements(HEAP_LIMIT_MB);

const OTHER_WAT = `(module (func (export "square") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))`;

async function heapServer(t: Test): Promise<ServerProcess> {
  const server = await startServerProcess(t, { env: { EXECUTOR_HEAP_LIMIT_MB: String(HEAP_LIMIT_MB) } });
  await createDylib(server, 'other');
  await addWasm(server, 'other', wat2wasm(OTHER_WAT));
  return server;
}

/** A request whose connection failed because the process died reports the death as a failure. */
async function send<T>(t: Test, server: ServerProcess, what: string, request: Promise<ApiResponse<T>>): Promise<ApiResponse<T> | undefined> {
  try {
    return await request;
  } catch (err) {
    const exit = await Promise.race([server.exited, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
    t.fail(
      exit
        ? `the server process died during ${what} (code ${exit.code}, signal ${exit.signal}): ${server.unloggedOutput(600)}`
        : `${what} failed: ${String(err)}`,
    );
    return undefined;
  }
}

/** Success, or the documented error: 422 ResourceExhausted with details.limit `limit` ("memory": the heap). */
function successOrExhausted(t: Test, res: ApiResponse | undefined, okStatus: number, what: string, limit = 'memory'): 'ok' | 'exhausted' | undefined {
  if (res === undefined) return undefined;
  if (res.status === okStatus) return 'ok';
  const error = (res.json as { error?: { code?: string; limit?: string } } | undefined)?.error;
  t.equal(res.status, 422, `${what}: ${okStatus} or 422 (got ${res.status}: ${res.text.slice(0, 300)})`);
  t.same({ code: error?.code, limit: error?.limit }, { code: 'ResourceExhausted', limit }, `${what}: ResourceExhausted naming ${limit}`);
  return 'exhausted';
}

/** The process is alive and serving, and a function nothing touched still computes. */
async function expectServing(t: Test, server: ServerProcess): Promise<void> {
  if (server.exitStatus !== undefined) {
    t.fail(`the server process is not running (it exited: ${JSON.stringify(server.exitStatus)})`);
    return;
  }
  await expectHealthy(t, server);
  const res = await invoke(server, 'other', 'square', [9]);
  t.same(res.json.results, [{ type: 'i32', value: 81, bits: '81' }], "another dylib's function still answers");
  t.notOk(/FATAL ERROR/.test(server.unloggedOutput(100_000)), 'no fatal error in the output');
}

t.test('many output lines through spectest.print_*', async (t) => {
  const server = await heapServer(t);
  await createDylib(server, 'printer');
  await addWasm(
    server,
    'printer',
    wat2wasm(`(module
      (import "spectest" "print_f64" (func $print (param f64)))
      (func (export "spam") (param i32) (local i32)
        (loop
          (call $print (f64.const 123456.789))
          (local.set 1 (i32.add (local.get 1) (i32.const 1)))
          (br_if 0 (i32.lt_u (local.get 1) (local.get 0))))))`),
  );
  const lines = 300_000;
  const res = await send(t, server, 'the printing call', invoke(server, 'printer', 'spam', [lines], 30_000));
  const outcome = successOrExhausted(t, res, 200, 'printing');
  if (outcome === 'ok') {
    const output = (res?.json as InvokeResult).output;
    t.ok(output.length > 0 && output.length <= lines + 1, `the output holds the lines kept (${output.length})`);
    t.equal(output[0], '123_456.789 : f64');
  }
  t.comment(`${lines} print lines: ${outcome}`);
  await expectServing(t, server);
});

t.test(`a table of ${TABLE_ELEMENTS} elements at add`, async (t) => {
  const server = await heapServer(t);
  await createDylib(server, 'bigtable');
  const wasm = wat2wasm(`(module (table ${TABLE_ELEMENTS} funcref) (func (export "size") (result i32) (table.size 0)))`);
  const res = await send(t, server, 'the add', server.request('POST', '/dylibs/bigtable/modules', { wasm }));
  const outcome = successOrExhausted(t, res, 201, 'adding the module', 'sessionTableElements');
  t.equal(outcome, 'exhausted', `refused: ${TABLE_ELEMENTS} elements are past the session's ${SESSION_TABLE_ELEMENTS}`);
  t.comment(`a table of ${TABLE_ELEMENTS} elements: ${outcome ?? 'the process died'}`);
  await expectServing(t, server);
});

t.test('table.grow in a loop up to the table limit', async (t) => {
  const server = await heapServer(t);
  await createDylib(server, 'grower');
  await addWasm(
    server,
    'grower',
    wat2wasm(`(module
      (table 1 funcref)
      (func (export "grow_all") (param i32) (result i32)
        (loop
          (br_if 0 (i32.ne (table.grow 0 (ref.null func) (local.get 0)) (i32.const -1))))
        (table.size 0)))`),
  );
  const step = 100_000;
  const res = await send(t, server, 'the growing call', invoke(server, 'grower', 'grow_all', [step], 30_000));
  const outcome = successOrExhausted(t, res, 200, 'growing', 'sessionTableElements');
  t.equal(outcome, 'ok', 'the loop ends: table.grow returned -1');
  if (outcome === 'ok') {
    const size = Number((res?.json as InvokeResult).results[0]?.value);
    t.ok(size <= SESSION_TABLE_ELEMENTS && size + step > SESSION_TABLE_ELEMENTS, `-1 at the session's budget of ${SESSION_TABLE_ELEMENTS} (${size} elements)`);
  }
  t.comment(`table.grow by 100,000 until -1: ${outcome ?? 'the process died'}`);
  await expectServing(t, server);
});

t.test('many modules, each with a table of 1,000,000 elements', async (t) => {
  const server = await heapServer(t);
  const accepted: string[] = [];
  const outcomes: string[] = [];
  // 8 MB of slots each: 24 of them hold three times the heap limit.
  for (let i = 0; i < 24 && server.exitStatus === undefined; i++) {
    const dylib = `tables${i}`;
    await createDylib(server, dylib);
    const wasm = wat2wasm(`(module (table 1000000 funcref) (func (export "size") (result i32) (table.size 0)))`);
    const res = await send(t, server, `adding module ${i}`, server.request('POST', `/dylibs/${seg(dylib)}/modules`, { wasm }));
    const outcome = successOrExhausted(t, res, 201, `adding module ${i}`, 'sessionTableElements');
    if (outcome === undefined) break;
    outcomes.push(outcome);
    if (outcome === 'ok') accepted.push(dylib);
  }
  t.comment(`adds: ${outcomes.join(' ')}`);
  const fit = Math.floor(SESSION_TABLE_ELEMENTS / 1_000_000);
  t.same(outcomes, Array.from({ length: 24 }, (_, i) => (i < fit ? 'ok' : 'exhausted')), `the first ${fit} fit the session's ${SESSION_TABLE_ELEMENTS} elements, the rest are refused`);
  // What the server accepted must still work, or fail the documented way.
  const broken: string[] = [];
  for (const dylib of accepted) {
    if (server.exitStatus !== undefined) break;
    const res = await send(t, server, `calling ${dylib}`, invoke(server, dylib, 'size'));
    if (res === undefined) break;
    const value = res.status === 200 ? res.json.results[0]?.value : undefined;
    const exhausted = res.status === 422 && res.json.error?.code === 'ResourceExhausted';
    if (value !== 1_000_000 && !exhausted) broken.push(`${dylib}: ${res.status} ${res.text.slice(0, 200)}`);
  }
  if (server.exitStatus === undefined) {
    t.same(broken.slice(0, 5), [], `every accepted module still works (${broken.length} of ${accepted.length} do not)`);
  }
  await expectServing(t, server);
});
