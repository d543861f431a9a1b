// Tests the runner end to end on a small script written at test time (covering every command
// kind), against the direct target and against a target whose modules never instantiate, so
// both the passing paths and the failure bookkeeping are checked. Needs wast2json.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DirectTarget } from './DirectTarget.ts';
import { runScript } from './runner.ts';
import type { SpecTarget } from './SpecTarget.ts';

const SCRIPT = String.raw`
(module $A
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $loop (export "loop") (call $loop))
  (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (func (export "two") (result i64 f64) (i64.const -1) (f64.const -0))
  (func (export "ext") (param externref) (result externref) (local.get 0))
  (func $f (export "fref") (result funcref) (ref.func $f))
  (elem declare func $f)
  (func (export "v") (param v128) (result v128) (local.get 0))
  (global (export "g") i32 (i32.const 42))
)
(register "A" $A)
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_exhaustion (invoke "loop") "call stack exhausted")
(assert_return (invoke "nan") (f32.const nan:arithmetic))
(assert_return (invoke "two") (i64.const -1) (f64.const -0))
(assert_return (invoke "ext" (ref.extern 7)) (ref.extern 7))
(assert_return (invoke "ext" (ref.null extern)) (ref.null extern))
(assert_return (invoke "fref") (ref.func))
(assert_return (invoke "v" (v128.const i32x4 1 2 3 4)) (v128.const i32x4 1 2 3 4))
(assert_return (get "g") (i32.const 42))
(module
  (import "A" "add" (func $add (param i32 i32) (result i32)))
  (import "spectest" "global_i32" (global i32))
  (func (export "f") (result i32) (call $add (i32.const 2) (global.get 0))))
(assert_return (invoke "f") (i32.const 668))
(assert_return (get $A "g") (i32.const 42))
(assert_unlinkable (module (import "A" "missing" (func))) "unknown import")
(assert_trap (module (func $s unreachable) (start $s)) "unreachable")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_malformed (module binary "\00asm") "unexpected end")
(assert_malformed (module quote "(func") "unexpected token")
(module $B (func $s unreachable) (start $s) (func (export "h")))
(assert_return (invoke "h"))
(invoke $A "add" (i32.const 0) (i32.const 0))
`;

/** The script line (1-based) that starts with `prefix`. */
function lineOf(prefix: string): number {
  return SCRIPT.split('\n').findIndex((l) => l.startsWith(prefix)) + 1;
}

function hasWast2json(): boolean {
  try {
    execFileSync('wast2json', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'spec-runner-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'mini.wast');
writeFileSync(path, SCRIPT);

const skip = hasWast2json() ? false : 'wast2json is not installed; skipping';

t.test('direct target on the mini script', { skip }, async (t) => {
  const r = await runScript(path, async () => new DirectTarget(), { maxFailures: 100 });
  t.equal(r.error, undefined);
  t.equal(r.script, 'mini');
  t.same(r.counts.module, { passed: 2, failed: 1, skipped: 0 }, '$B traps in its start function');
  t.same(r.counts.register, { passed: 1, failed: 0, skipped: 0 });
  t.same(r.counts.action, { passed: 1, failed: 0, skipped: 0 }, 'a named module is still reachable after $B failed');
  t.same(r.counts.assert_return, { passed: 9, failed: 2, skipped: 1 }, 'v128 skipped; wrong sum and $B.h fail');
  for (const kind of ['assert_trap', 'assert_exhaustion', 'assert_unlinkable', 'assert_uninstantiable', 'assert_invalid'] as const) {
    t.same(r.counts[kind], { passed: 1, failed: 0, skipped: 0 }, kind);
  }
  t.same(r.counts.assert_malformed, { passed: 1, failed: 0, skipped: 1 }, 'the text module is skipped');
  t.same(r.total, { passed: 19, failed: 3, skipped: 2 });
  t.same(
    r.failures.map((f) => f.line),
    [lineOf('(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))'), lineOf('(module $B'), lineOf('(assert_return (invoke "h"))')],
    'recorded in script order',
  );
  t.match(r.failures[0]!.command, /^assert_return invoke "add"/);
  t.match(r.failures[0]!.expected, '(i32:4)');
  t.match(r.failures[0]!.got, '(i32:3)');
});

/** A target that cannot instantiate anything: every module, and all that use one, must fail. */
class BrokenTarget implements SpecTarget {
  async addModule(): Promise<unknown> {
    throw new Error('broken');
  }
  async register(): Promise<void> {}
  async invoke(): Promise<never> {
    throw new Error('unreachable: no module');
  }
  async get(): Promise<never> {
    throw new Error('unreachable: no module');
  }
  classify(err: unknown) {
    return { kind: 'other' as const, message: err instanceof Error ? err.message : String(err) };
  }
  async close(): Promise<void> {}
}

t.test('a target whose modules never instantiate', { skip }, async (t) => {
  const r = await runScript(path, async () => new BrokenTarget(), { maxFailures: 3 });
  t.equal(r.error, undefined);
  t.same(r.counts.module, { passed: 0, failed: 3, skipped: 0 });
  t.same(r.counts.register, { passed: 0, failed: 1, skipped: 0 });
  t.same(r.counts.assert_return, { passed: 0, failed: 12, skipped: 0 });
  t.same(r.total, { passed: 0, failed: 23, skipped: 1 }, 'only the text module is skipped');
  t.equal(r.failures.length, 3, 'failure descriptions are capped');
  t.match(r.failures[1]!.got, /module unavailable \(other: broken\)/);
});

t.test('a script that does not exist', async (t) => {
  const r = await runScript(join(dir, 'absent.wast'), async () => new DirectTarget());
  t.type(r.error, 'string');
  t.same(r.total, { passed: 0, failed: 0, skipped: 0 });
});
