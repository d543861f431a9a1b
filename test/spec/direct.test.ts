// Runs every spec script against DirectTarget (Node's own engine) and checks the baseline is
// sane: every script ran, about the README's ~25,000 assertions pass, and the only failures
// are the kinds the JS API and a newer engine explain (NaN payloads through JS numbers;
// binary modules that later proposals, shipped in Node 24's V8, made valid).

import t from 'tap';
import { DirectTarget } from './DirectTarget.ts';
import { runScript, type ScriptResult } from './runner.ts';
import { findSpecDir, listScripts, specDirCandidate } from './specDir.ts';
import { formatFailures, formatKindTable, formatTable, sumByKind, sumCounts } from './table.ts';

const dir = findSpecDir();

t.test(
  'spec scripts on the direct target',
  { skip: dir === undefined ? `no spec scripts at ${specDirCandidate()} (set WASM_SPEC_DIR); skipping` : false },
  async (t) => {
    const scripts = listScripts(dir!);
    const started = performance.now();
    const results: ScriptResult[] = [];
    for (const script of scripts) {
      results.push(await runScript(script, async () => new DirectTarget(), { maxFailures: 1000 }));
    }
    const wallMs = performance.now() - started;
    t.comment(`\n${formatTable(results)}\n\n${formatKindTable(results)}\n\nwall time ${(wallMs / 1000).toFixed(2)} s`);

    t.equal(results.length, scripts.length, 'one result per script');
    t.same(
      results.filter((r) => r.error !== undefined).map((r) => `${r.script}: ${r.error}`),
      [],
      'every script ran',
    );
    t.same(
      results.filter((r) => r.total.passed + r.total.failed + r.total.skipped === 0).map((r) => r.script),
      [],
      'every script has commands',
    );

    const total = sumCounts(results);
    if (scripts.length >= 81) t.ok(total.passed >= 20_000, `at least 20,000 assertions pass (${total.passed})`);
    else t.ok(total.passed > 0, `some assertions pass (${total.passed}; partial suite of ${scripts.length} scripts)`);
    t.ok(total.failed <= total.passed / 100, `failures stay under 1% (${total.failed})`);

    // Only assert_return (NaN payloads) and binary module assertions (newer proposals) may fail.
    const byKind = sumByKind(results);
    for (const kind of ['module', 'register', 'action', 'assert_trap', 'assert_exhaustion', 'assert_unlinkable', 'assert_uninstantiable'] as const) {
      t.equal(byKind[kind].failed, 0, `no ${kind} fails`);
    }
    const returnFailures = results.flatMap((r) =>
      r.failures.filter((f) => f.command.startsWith('assert_return')).map((f) => ({ script: r.script, ...f })),
    );
    t.same(
      returnFailures.filter((f) => !/NaN/.test(`${f.command} ${f.expected}`)).map((f) => `${f.script}:${f.line}`),
      [],
      'every assert_return failure involves a NaN (payloads cannot cross the JS API)',
    );
    // The full list only when something above failed: it is long, and known when all is well.
    if (!t.passing()) t.comment(`failures:\n${formatFailures(results)}`);
  },
);
