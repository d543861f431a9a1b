// Section 1's two sides (bench/firstResult.ts): V8 compiling, instantiating and calling a module
// in a fresh `node` process, and the service adding it and calling it once over HTTP against the
// real server process. Both must give the value the chain computes; the service's first call
// compiles the whole chain it reaches in one partition, and each trial leaves no dylib behind.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FirstResultError, serviceFirstCall, v8FirstCallInChild } from '../../bench/firstResult.ts';
import { firstCall, V8FirstCallError } from '../../bench/v8FirstCall.ts';
import { addModule, chainModule, chainResult } from '../../bench/wasmgen.ts';
import { startServerProcess } from '../support/serverProcess.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'first-result-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('V8 in this process and in a fresh node process compute the chain', async (t) => {
  const bytes = chainModule(400, 37, 9001);
  const want = String(chainResult(37, 9001));
  const here = firstCall(bytes, 'main');
  t.equal(here.bits, want, 'in this process');
  const file = path.join(dir, 'chain.wasm');
  writeFileSync(file, bytes);
  const child = v8FirstCallInChild(file);
  t.equal(child.bits, want, 'in a child process');
  for (const k of ['ms', 'compileMs', 'instantiateMs', 'callMs', 'wallMs'] as const) t.ok(Number.isFinite(child[k]) && child[k] >= 0, `${k} is a time`);
  t.ok(child.compileMs + child.instantiateMs + child.callMs <= child.ms + 1e-6, 'the parts add up to at most the whole');
});

t.test('a module without the export fails in both places', async (t) => {
  t.throws(() => firstCall(addModule(), 'main'), V8FirstCallError);
  const file = path.join(dir, 'add.wasm');
  writeFileSync(file, addModule());
  t.throws(() => v8FirstCallInChild(file), FirstResultError);
});

t.test('the service adds the module, compiles the reached chain at the first call and leaves nothing behind', async (t) => {
  const server = await startServerProcess(t);
  const chain = 25;
  for (const nonce of [7, 8]) {
    const r = await serviceFirstCall(server, `trial ${nonce}`, chainModule(300, chain, nonce));
    t.equal(r.bits, String(chainResult(chain, nonce)), `main() of module ${nonce}`);
    t.equal(r.compiled, chain, 'one partition: every function the call reaches, no other');
    t.ok(r.addMs >= 0 && r.invokeMs >= 0 && r.addMs + r.invokeMs <= r.ms + 1e-6, 'the add and the invoke make up the trial');
    const after = await server.get(`/dylibs/${encodeURIComponent(`trial ${nonce}`)}`);
    t.equal(after.status, 404, 'the trial deleted its dylib');
  }
});

t.test('a refused add fails the trial', async (t) => {
  const server = await startServerProcess(t);
  await t.rejects(serviceFirstCall(server, 'bad', new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9])), FirstResultError);
});
