// GET /metrics: what an operator runs on. After some activity of each kind (adds lazy and eager,
// a refused add, first calls, a trap, a limit hit), the exposition holds the metrics README's
// table describes, and Prometheus' own linter (`promtool check metrics`, from Debian's
// prometheus package) finds nothing wrong with any of them.

import { execFileSync, spawnSync } from 'node:child_process';
import t from 'tap';
import { addWat, build, call, createDylib, invoke } from './helper.ts';

function promtool(text: string): { ok: boolean; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is not installed (apt-get install -y prometheus): ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

t.test('the exposition covers the service and passes promtool', async (t) => {
  const { app } = await build(t, { sessionCodeLimitBytes: 4096 });
  await createDylib(app, 'main');
  await addWat(app, 'main', '(module (memory (export "mem") 2) (func (export "f") (param i32) (result i32) (i32.div_u (i32.const 6) (local.get 0))))');
  await addWat(app, 'main', '(module (func (export "g") (result i32) (i32.const 1)))', { lazy: false, optimize: 0 });
  await call(app, 'POST', '/dylibs/main/modules', { wat: '(module (func (export "bad") (result i32) (i64.const 1)))' });
  await invoke(app, 'main', 'f', [3]);
  await invoke(app, 'main', 'f', [0]); // a trap
  await invoke(app, 'main', 'g');
  // A module whose code does not fit the 4 KiB code budget: ResourceExhausted(sessionCodeBytes).
  const big = `(module ${Array.from({ length: 200 }, (_, i) => `(func (export "h${i}") (result i32) (i32.const ${i}))`).join(' ')})`;
  await call(app, 'POST', '/dylibs/main/modules', { wat: big, lazy: false });
  const refused = await call(app, 'POST', '/dylibs/main/symbols/h1/invoke', { args: [] });
  t.equal(refused.statusCode, 422, 'the first call finds the code budget spent');
  t.equal(refused.json().error.code, 'ResourceExhausted');

  const res = await call(app, 'GET', '/metrics');
  t.equal(res.statusCode, 200);
  const text = res.body;
  for (const name of [
    'wasmjit_invoke_duration_seconds_count{outcome="ok"}',
    'wasmjit_invoke_duration_seconds_count{outcome="Trap"}',
    'wasmjit_compile_duration_seconds_count{tier="baseline"}',
    'wasmjit_compile_duration_seconds_count{tier="globals"}',
    'wasmjit_compile_duration_seconds_count{tier="eager"}',
    'wasmjit_module_add_duration_seconds_count{mode="lazy"}',
    'wasmjit_module_add_failures_total{mode="lazy",code="InvalidModule"}',
    'wasmjit_limit_exceeded_total{limit="sessionCodeBytes"} 1',
    'wasmjit_session_code_bytes{tenant="default"}',
    'wasmjit_session_code_limit_bytes{tenant="default"} 4096',
    'wasmjit_session_memory_pages{tenant="default"} 2',
    'wasmjit_session_memory_limit_pages{tenant="default"}',
    'wasmjit_executor_heap_used_bytes{tenant="default"}',
    'wasmjit_invokes_in_flight 0',
    'wasmjit_invokes_queued 0',
    'wasmjit_executor_restarts_total 0',
    'wasmjit_traps_total 1',
    'wasmjit_modules 3',
    'wasmjit_live_sessions 1',
    'http_requests_total{method="POST",route="/dylibs/:dylib/symbols/:symbol/invoke",status_code="200"}',
  ]) {
    t.ok(text.includes(name), `exposes ${name}`);
  }
  t.notOk(/^nodejs_active_\w+_total /m.test(text), 'no gauge named like a counter');
  t.match(text, /# HELP wasmjit_modules Modules currently added/);
  const lint = promtool(text);
  t.ok(lint.ok, `promtool check metrics: ${lint.output || 'clean'}`);
  t.equal(lint.output.trim(), '', 'no warnings either');
});

t.test('promtool is what CI runs', async (t) => {
  t.match(execFileSync('promtool', ['--version'], { encoding: 'utf8' }) + '', /promtool, version/);
});
