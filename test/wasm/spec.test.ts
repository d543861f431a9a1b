// Differential test over the WebAssembly core spec testsuite (shared/wasm-spec, converted with
// wast2json, cached by specModules.ts): every module is loaded (loadModule), instantiated
// directly and also split into a globals module plus baseline pieces cut from its bytes (one per
// function, and one per module), linked by hand; every action must give the same outcome. One
// more variant sends each module's piece through binaryen as the optimized tier does
// (optimizeBinary, describeOptimizedPiece). Binaries V8 rejects must be refused by loadModule.

import t, { type Test } from 'tap';
import { findSpecDir, listScripts } from '../spec/specDir.ts';
import type { SplitOptions } from './helpers.ts';
import { convertedScript } from './specModules.ts';
import { runSpecScript, type SpecReport } from './specRunner.ts';

const specDir = findSpecDir();
if (specDir === undefined) throw new Error('the spec scripts are missing (shared/wasm-spec or $WASM_SPEC_DIR)');
const scripts = listScripts(specDir).map(convertedScript);

t.test('the testsuite is there', async (tt) => {
  tt.ok(scripts.length >= 80, `${scripts.length} scripts`);
});

async function agree(tt: Test, opts: SplitOptions): Promise<void> {
  const report: SpecReport = { modules: 0, actions: 0, rejectedAlike: 0, mismatches: [] };
  for (const { dir, json } of scripts) await runSpecScript(dir, json, report, opts);
  tt.ok(report.modules > 1000, `${report.modules} modules`);
  tt.ok(report.actions > 20000, `${report.actions} actions`);
  tt.ok(report.rejectedAlike > 2000, `${report.rejectedAlike} invalid or malformed binaries refused`);
  tt.same(report.mismatches, [], 'no mismatches');
}

t.test('split modules agree with direct instantiation on every action (one baseline piece per function)', (tt) => agree(tt, {}));
t.test('split modules agree with direct instantiation on every action (one baseline piece per module)', (tt) => agree(tt, { onePiece: true }));
t.test("split modules agree with direct instantiation on every action (one piece per module, optimized by binaryen)", async (tt) => {
  let optimized = 0;
  const failures: string[] = [];
  await agree(tt, { onePiece: true, optimizeLevel: 2, optimized: (e) => (e === null ? optimized++ : failures.push(String(e))) });
  tt.ok(optimized > 800, `${optimized} pieces optimized`);
  tt.same(failures, [], 'none left as cut');
});
