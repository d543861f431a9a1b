// Removals of definitions that something else still uses, across kill -9 and a restart on the
// same SQLite file. The store keeps such a removal's records (recovery defines them at their
// place and removes them again), so the user can be defined again: a reexport of a removed
// module's or dylib's symbol, a module importing a memory or global of one, and chains of them
// through removals that are themselves kept. Each case is checked for the same dylibs, symbols
// and call outcomes after the restart as before the kill; then, once the users are removed too,
// the store forgets the kept records, and the server still recovers.
//
// Regressions: recovery used to fail (the server exited) when a reexport's target had been
// removed, and to hang (/health 503 "recovering" for ever) when replaying a kept removal gave
// executor addresses back.

import t from 'tap';
import type { ServerProcess } from '../support/serverProcess.ts';
import { dylibShape, kill9, ok, outcome, seg, sqliteStore, startOn, storedDefinitions, type DylibShape } from './support.ts';

const wat = (text: string) => ({ json: { wat: text } });

async function dylib(s: ServerProcess, name: string): Promise<void> {
  await ok(s.post('/dylibs', { name }), `create ${name}`);
}

async function add(s: ServerProcess, d: string, text: string, lazy = true): Promise<string> {
  const res = await ok(s.request<{ module: { id: string } }>('POST', `/dylibs/${seg(d)}/modules?lazy=${lazy}`, wat(text)), `add to ${d}`);
  return res.json.module.id;
}

async function reexport(s: ServerProcess, d: string, from: string, aliases: Record<string, string>, lazy = false): Promise<void> {
  await ok(s.post(`/dylibs/${seg(d)}/reexports`, { from, symbols: aliases, lazy }), `reexport into ${d}`);
}

async function remove(s: ServerProcess, path: string): Promise<void> {
  await ok(s.request('DELETE', path), `DELETE ${path}`);
}

/** The call outcome a client sees: the i32 result, or the error status and code. */
async function call(s: ServerProcess, d: string, symbol: string): Promise<string> {
  const res = await s.post<{ results?: { value: unknown }[] }>(`/dylibs/${seg(d)}/invoke`, { symbol, args: [] });
  return res.status === 200 ? `= ${String(res.json.results?.[0]?.value)}` : outcome(res);
}

const NAMES = ['ra-src', 'ra-user', 'rb-src', 'rb-user', 'rc-x', 'rc-y', 'rc-z', 'dx', 'dy', 'dz', 'e-def', 'e-use'];
// ra-user:g is left uncalled: a failed lookup stays failed (as in ORC), and the test defines
// its target again after the restart.
const CALLS: [string, string][] = [
  ['rb-user', 'g'],
  ['rb-user', 'gl'],
  ['rc-z', 'h'],
  ['dz', 'get'],
  ['e-use', 'get'],
];

async function snapshot(s: ServerProcess): Promise<{ dylibs: Record<string, DylibShape | undefined>; calls: Record<string, string> }> {
  const dylibs: Record<string, DylibShape | undefined> = {};
  for (const n of NAMES) dylibs[n] = await dylibShape(s, n);
  const calls: Record<string, string> = {};
  for (const [d, f] of CALLS) calls[`${d}:${f}`] = await call(s, d, f);
  return { dylibs, calls };
}

t.test('removals something still uses survive kill -9, and are forgotten once nothing does', async (t) => {
  const store = await sqliteStore(t);
  let s = await startOn(t, store);

  // A. A reexport of a module's function, then the module is removed.
  await dylib(s, 'ra-src');
  await dylib(s, 'ra-user');
  const ra = await add(s, 'ra-src', '(module (func (export "f") (result i32) (i32.const 11)))');
  await reexport(s, 'ra-user', 'ra-src', { g: 'f' });
  await remove(s, `/dylibs/ra-src/modules/${ra}`);

  // B. Reexports (plain and lazy) of a dylib's symbols, then the dylib is removed.
  await dylib(s, 'rb-src');
  await dylib(s, 'rb-user');
  await add(s, 'rb-src', '(module (func (export "f") (result i32) (i32.const 21)))');
  await reexport(s, 'rb-user', 'rb-src', { g: 'f' });
  await reexport(s, 'rb-user', 'rb-src', { gl: 'f' }, true);
  t.equal(await call(s, 'rb-user', 'gl'), '= 21', 'the lazy reexport works before the removal');
  await remove(s, '/dylibs/rb-src');

  // C. A chain: z reexports y's reexport of x's function; x's module goes, then y.
  await dylib(s, 'rc-x');
  await dylib(s, 'rc-y');
  await dylib(s, 'rc-z');
  const rc = await add(s, 'rc-x', '(module (func (export "f") (result i32) (i32.const 31)))');
  await reexport(s, 'rc-y', 'rc-x', { g: 'f' });
  await reexport(s, 'rc-z', 'rc-y', { h: 'g' });
  await remove(s, `/dylibs/rc-x/modules/${rc}`);
  await remove(s, '/dylibs/rc-y');

  // D. A chain of imports: dy's module imports dx's memory and exports a global dz imports;
  // dx's module goes (kept: dy imports its memory), then dy (kept: dz imports its global).
  await dylib(s, 'dx');
  await dylib(s, 'dy');
  await dylib(s, 'dz');
  const dm = await add(s, 'dx', '(module (memory (export "mem") 1))');
  await add(s, 'dy', '(module (import "dx" "mem" (memory 1)) (global (export "g") i32 (i32.const 41)) (func (export "ld") (result i32) (i32.load (i32.const 0))))');
  await add(s, 'dz', '(module (import "dy" "g" (global i32)) (func (export "get") (result i32) (global.get 0)))');
  await remove(s, `/dylibs/dx/modules/${dm}`);
  await remove(s, '/dylibs/dy');

  // E. A kept module that also defined what nobody imports (its release must not hang recovery).
  await dylib(s, 'e-def');
  await dylib(s, 'e-use');
  const em = await add(s, 'e-def', '(module (global (export "g") i32 (i32.const 51)) (global (export "h") i32 (i32.const 52)) (func (export "k") (result i32) (i32.const 53)))');
  t.equal(await call(s, 'e-def', 'k'), '= 53');
  await add(s, 'e-use', '(module (import "e-def" "g" (global i32)) (func (export "get") (result i32) (global.get 0)))');
  await remove(s, `/dylibs/e-def/modules/${em}`);

  const before = await snapshot(s);
  t.match(before.calls, { 'dz:get': '= 41', 'e-use:get': '= 51' }, 'imports of removed definitions keep working');
  t.equal(before.dylibs['rb-src'], undefined, 'rb-src is gone');
  t.match(before.dylibs['rc-z']?.symbols, [{ name: 'h', target: { dylib: 'rc-y', name: 'g' } }]);

  await kill9(s);
  s = await startOn(t, store, { healthyWithinMs: 30_000 });
  const after = await snapshot(s);
  t.same(after.dylibs, before.dylibs, 'the same dylibs, modules, symbols and targets after kill -9 and a restart');
  // A call that worked works the same; one that failed still fails (not always with the same
  // code: a lazy reexport compiled before its target's dylib was removed traps in the process
  // that removed it, and is not found after a restart).
  const failed = (o: string) => !o.startsWith('= ');
  t.same(
    Object.fromEntries(Object.entries(after.calls).map(([k, v]) => [k, failed(v) ? 'fails' : v])),
    Object.fromEntries(Object.entries(before.calls).map(([k, v]) => [k, failed(v) ? 'fails' : v])),
    `the same call outcomes (before: ${JSON.stringify(before.calls)}, after: ${JSON.stringify(after.calls)})`,
  );

  // A removed reexport target defined again: the reexport leads to it, as it would have without the restart.
  await add(s, 'ra-src', '(module (func (export "f") (result i32) (i32.const 12)))');
  t.equal(await call(s, 'ra-user', 'g'), '= 12', 'a reexport of a removed function finds its new definition');

  const kept = (await storedDefinitionsAfter(s, store)).filter((r) => r.removed);
  t.ok(kept.length >= 6, `the store kept the removals that are still used (${kept.length})`);

  // Once the users go, nothing is kept any more (purged, chains included), and recovery still works.
  s = await startOn(t, store, { healthyWithinMs: 30_000 });
  for (const d of ['ra-user', 'rb-user', 'rc-z', 'dz', 'e-use']) await remove(s, `/dylibs/${d}`);
  const left = await storedDefinitionsAfter(s, store);
  t.same(left.filter((r) => r.removed), [], 'no removed record is left in the store');
  t.same(
    left.filter((r) => r.kind === 'dylib').map((r) => (r.kind === 'dylib' ? r.name : '')).sort(),
    ['dx', 'e-def', 'ra-src', 'rc-x'],
    'the live dylibs are what is left',
  );
  s = await startOn(t, store, { healthyWithinMs: 30_000 });
  t.equal(await call(s, 'ra-src', 'f'), '= 12', 'and the store recovers once more');
});

/** Stops the server gracefully and reads the store. */
async function storedDefinitionsAfter(s: ServerProcess, store: { url: string }) {
  await s.stop();
  return storedDefinitions(store);
}
