// Differential test over the WebAssembly core spec testsuite (shared/wasm-spec, converted with
// wast2json at test time): every module is loaded (loadModule), instantiated directly and also
// split into a globals module plus baseline pieces cut from its bytes (one per function, and one
// per module), linked by hand; every action must give the same outcome. Binaries V8 rejects must
// be refused by loadModule.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import t from 'tap';
import { findSpecDir, listScripts } from '../spec/specDir.ts';
import type { SplitOptions } from './helpers.ts';
import { runSpecScript, type SpecReport } from './specRunner.ts';

const specDir = findSpecDir();
if (specDir === undefined) throw new Error('the spec scripts are missing (shared/wasm-spec or $WASM_SPEC_DIR)');
const outDir = mkdtempSync(join(tmpdir(), 'wasm-spec-'));
t.teardown(() => rmSync(outDir, { recursive: true, force: true }));

const scripts = listScripts(specDir);
for (const path of scripts) {
  execFileSync('wast2json', ['--enable-all', path, '-o', join(outDir, `${basename(path, '.wast')}.json`)]);
}

t.test('the testsuite is there', async (tt) => {
  tt.ok(scripts.length >= 80, `${scripts.length} scripts`);
});

const variants: readonly [string, SplitOptions][] = [
  ['one baseline piece per function', {}],
  ['one baseline piece per module', { onePiece: true }],
];
for (const [label, opts] of variants) {
  t.test(`split modules agree with direct instantiation on every action (${label})`, async (tt) => {
    const report: SpecReport = { modules: 0, actions: 0, rejectedAlike: 0, mismatches: [] };
    for (const file of readdirSync(outDir).filter((f) => f.endsWith('.json')).sort()) {
      await runSpecScript(outDir, file, report, opts);
    }
    tt.ok(report.modules > 1000, `${report.modules} modules`);
    tt.ok(report.actions > 20000, `${report.actions} actions`);
    tt.ok(report.rejectedAlike > 2000, `${report.rejectedAlike} invalid or malformed binaries refused`);
    tt.same(report.mismatches, [], 'no mismatches');
  });
}
