// Differential test over the WebAssembly core spec testsuite (shared/wasm-spec, converted with
// wast2json at test time): every module is instantiated directly and also split into a globals
// module plus one piece per function (binaryen's extraction at two optimization levels, and the
// baseline tier's cut pieces, also as one piece per module), linked by hand; every action must
// give the same outcome. Binaries V8 rejects must be rejected by parseModule.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import type { SplitOptions } from './helpers.ts';
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

const variants: readonly [string, SplitOptions][] = [
  ['optimize 0', { optimizeLevel: 0 }],
  ['optimize 2', { optimizeLevel: 2 }],
  ['baseline pieces', { tier: 'baseline' }],
  ['one baseline piece per module', { tier: 'baseline', onePiece: true }],
];
for (const [label, opts] of variants) {
  t.test(`split modules agree with direct instantiation on every action (${label})`, async (tt) => {
    const report: SpecReport = { modules: 0, actions: 0, rejectedAlike: 0, mismatches: [] };
    for (const file of readdirSync(outDir).filter((f) => f.endsWith('.json')).sort()) {
      runSpecScript(outDir, file, report, opts);
    }
    tt.ok(report.modules > 1000, `${report.modules} modules`);
    tt.ok(report.actions > 20000, `${report.actions} actions`);
    tt.ok(report.rejectedAlike > 2000, `${report.rejectedAlike} invalid or malformed binaries rejected`);
    tt.same(report.mismatches, [], 'no mismatches');
  });
}
