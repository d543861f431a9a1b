// Conformance of the optimized tier: every spec script through the JIT, lazily, with
// re-optimization forced (threshold 1: every function gets its optimized tier at its first
// entry, compiled beside the program; the target waits for it after each call, so every later
// call runs re-optimized code).

import t from 'tap';
import { compareWithDirect } from './compareWithDirect.ts';
import { JITTarget } from './JITTarget.ts';

t.test('spec scripts through the JIT, lazily, every function re-optimized', async (t) => {
  const reported: string[] = [];
  let reoptimizations = 0;
  await compareWithDirect(t, 'reopt', async () => {
    const target = await JITTarget.create({
      lazy: true,
      reoptimizeThreshold: 1,
      onReportedError: (err) => {
        const message = err instanceof Error ? err.message : String(err);
        // Instantiations still queued when a script's session closes settle with this; not a failure.
        if (message !== 'The executor is closed.') reported.push(message);
      },
    });
    const close = target.close.bind(target);
    target.close = async () => {
      reoptimizations += target.jit.counters.reoptimizations;
      await close();
    };
    return target;
  });
  t.comment(`reopt: ${reoptimizations} functions re-optimized`);
  t.ok(reoptimizations > 1000, 'the run re-optimized the functions it called');
  t.same(reported.slice(0, 20), [], `no re-optimization failed (${reported.length} reported)`);
});
