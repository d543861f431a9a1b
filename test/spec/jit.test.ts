// Conformance: every spec script through the JIT, lazily and eagerly, against direct
// instantiation on Node's own engine. Every assertion the direct target passes must pass both
// ways; the JIT may pass more (its values cross exactly, NaN payloads included). A third run,
// `reopt`, is lazy with re-optimization forced: every function gets its optimized tier on its
// first call, so every later call of the script runs re-optimized code.

import t from 'tap';
import { DirectTarget } from './DirectTarget.ts';
import { JITTarget } from './JITTarget.ts';
import { runScript, type ScriptResult } from './runner.ts';
import type { TargetFactory } from './SpecTarget.ts';
import { findSpecDir, listScripts, specDirCandidate } from './specDir.ts';
import { formatTable, sumCounts } from './table.ts';

const dir = findSpecDir();



/** What the reopt sessions reported: a re-optimization that failed (the calls went on in the baseline). */
const reoptReported: string[] = [];
let reoptimizations = 0;

const targets: Record<string, TargetFactory> = {
  direct: async () => new DirectTarget(),
  lazy: () => JITTarget.create({ lazy: true }),
  eager: () => JITTarget.create({ lazy: false }),
  reopt: async () => {
    const target = await JITTarget.create({
      lazy: true,
      reoptimizeThreshold: 1,
      onReportedError: (err) => {
        const message = err instanceof Error ? err.message : String(err);
        // Instantiations still queued when a script's session closes settle with this; not a failure.
        if (message !== 'The executor is closed.') reoptReported.push(message);
      },
    });
    const close = target.close.bind(target);
    target.close = async () => {
      reoptimizations += target.jit.counters.reoptimizations;
      await close();
    };
    return target;
  },
};

t.test(
  'spec scripts through the JIT: lazily, eagerly, and lazily with every function re-optimized',
  { skip: dir === undefined ? `no spec scripts at ${specDirCandidate()} (set WASM_SPEC_DIR); skipping` : false },
  async (t) => {
    const scripts = listScripts(dir as string);
    const results: Record<string, ScriptResult[]> = { direct: [], lazy: [], eager: [], reopt: [] };
    for (const script of scripts) {
      for (const [name, factory] of Object.entries(targets)) {
        results[name]?.push(await runScript(script, factory, { maxFailures: 100_000 }));
      }
    }
    const totals = Object.entries(results).map(([name, r]) => {
      const c = sumCounts(r);
      return `${name.padEnd(7)} passed ${c.passed}  failed ${c.failed}  skipped ${c.skipped}`;
    });
    t.comment(`\n${totals.join('\n')}`);

    for (const name of ['lazy', 'eager', 'reopt'] as const) {
      const regressions: string[] = [];
      scripts.forEach((_, i) => {
        const direct = results.direct?.[i] as ScriptResult;
        const jit = results[name]?.[i] as ScriptResult;
        if (jit.error) regressions.push(`${jit.script}: ${jit.error}`);
        const directFailed = new Set(direct.failures.map((f) => f.line));
        for (const f of jit.failures) {
          if (!directFailed.has(f.line)) regressions.push(`${jit.script}:${f.line} ${f.command}: expected ${f.expected}, got ${f.got}`);
        }
      });
      t.same(regressions.slice(0, 50), [], `${name}: every assertion direct instantiation passes also passes (${regressions.length} regressions)`);
      if (regressions.length > 0) t.comment(`${name} per script:\n${formatTable(results[name] as ScriptResult[])}`);
      t.ok(sumCounts(results[name] as ScriptResult[]).passed >= sumCounts(results.direct as ScriptResult[]).passed, `${name} passes at least as many as direct`);
    }
    t.comment(`reopt: ${reoptimizations} functions re-optimized`);
    t.ok(reoptimizations > 1000, 'the reopt run re-optimized the functions it called');
    t.same(reoptReported.slice(0, 20), [], `no re-optimization failed (${reoptReported.length} reported)`);
  },
);
