// Differential test over the WebAssembly core spec testsuite (shared/wasm-spec, converted with
// wast2json at test time): every module is instantiated directly and also split into a globals
// module plus one piece per function, linked by hand; every action must give the same outcome.
// Binaries V8 rejects must be rejected by parseModule.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { runSpecScript, type SpecReport } from './specRunner.ts';

const specDir = process.env['WASM_SPEC_DIR'] ?? resolve(import.meta.dirname, '../../../shared/wasm-spec');
const outDir = mkdtempSync(join(tmpdir(), 'wasm-spec-'));
t.teardown(() => rmSync(outDir, { recursive: true, force: true }));

const scripts = readdirSync(specDir).filter((f) => f.endsWith('.wast'));
for (const file of scripts) {
  execFileSync('wast2json', ['--enable-all', join(specDir, file), '-o', join(outDir, file.replace(/\.wast$/, '.json'))]);
}

t.test('the testsuite is there', async (tt) => {
  tt.ok(scripts.length >= 80, `${scripts.length} scripts`);
});

for (const optimizeLevel of [0, 2]) {
  t.test(`split modules agree with direct instantiation on every action (optimize ${optimizeLevel})`, async (tt) => {
    const report: SpecReport = { modules: 0, actions: 0, rejectedAlike: 0, mismatches: [] };
    for (const file of readdirSync(outDir).filter((f) => f.endsWith('.json')).sort()) {
      runSpecScript(outDir, file, report, { optimizeLevel });
    }
    tt.ok(report.modules > 1000, `${report.modules} modules`);
    tt.ok(report.actions > 20000, `${report.actions} actions`);
    tt.ok(report.rejectedAlike > 2000, `${report.rejectedAlike} invalid or malformed binaries rejected`);
    tt.same(report.mismatches, [], 'no mismatches');
  });
}
