// Runs every spec script against one target and against direct instantiation (Node's own
// engine), script by script, and checks that every assertion the direct target passes also
// passes on the target. The target may pass more: the JIT's values cross exactly (NaN payloads
// included). Shared by the conformance test files, one target each, so tap runs them in parallel.

import type { Test } from 'tap';
import { DirectTarget } from './DirectTarget.ts';
import { runScript, type ScriptResult } from './runner.ts';
import type { TargetFactory } from './SpecTarget.ts';
import { findSpecDir, listScripts } from './specDir.ts';
import { formatTable, sumCounts } from './table.ts';

export async function compareWithDirect(t: Test, name: string, factory: TargetFactory): Promise<{ direct: ScriptResult[]; target: ScriptResult[] }> {
  const dir = findSpecDir();
  if (dir === undefined) throw new Error('no spec scripts (set WASM_SPEC_DIR)');
  const scripts = listScripts(dir);
  const direct: ScriptResult[] = [];
  const target: ScriptResult[] = [];
  for (const script of scripts) {
    direct.push(await runScript(script, async () => new DirectTarget(), { maxFailures: 100_000 }));
    target.push(await runScript(script, factory, { maxFailures: 100_000 }));
  }
  const line = (label: string, r: ScriptResult[]) => {
    const c = sumCounts(r);
    return `${label.padEnd(7)} passed ${c.passed}  failed ${c.failed}  skipped ${c.skipped}`;
  };
  t.comment(`\n${line('direct', direct)}\n${line(name, target)}`);
  const regressions: string[] = [];
  target.forEach((r, i) => {
    const d = direct[i] as ScriptResult;
    if (r.error) regressions.push(`${r.script}: ${r.error}`);
    const directFailed = new Set(d.failures.map((f) => f.line));
    for (const f of r.failures) {
      if (!directFailed.has(f.line)) regressions.push(`${r.script}:${f.line} ${f.command}: expected ${f.expected}, got ${f.got}`);
    }
  });
  t.same(regressions.slice(0, 50), [], `${name}: every assertion direct instantiation passes also passes (${regressions.length} regressions)`);
  if (regressions.length > 0) t.comment(`${name} per script:\n${formatTable(target)}`);
  t.ok(sumCounts(target).passed >= sumCounts(direct).passed, `${name} passes at least as many as direct`);
  return { direct, target };
}
