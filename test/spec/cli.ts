// Command line for the spec runner:
//   npx node test/spec/cli.ts [--target direct] [--failures N] [--skips] [--check-trap-messages] [--json] [script...]
// Runs the named scripts (names like "i32" or paths; all scripts when none are given) against
// one target and prints the results table. Exits 1 if a script could not be run at all, 2 on
// bad usage; assertion failures alone do not change the exit code, since the baseline has some.

import { parseArgs } from 'node:util';
import { runScript, type ScriptResult } from './runner.ts';
import { findSpecDir, listScripts, resolveScript, specDirCandidate } from './specDir.ts';
import { formatFailures, formatKindTable, formatSkipReasons, formatTable } from './table.ts';
import { targetFactory, targetNames } from './targets.ts';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        target: { type: 'string', default: 'direct' },
        failures: { type: 'string' },
        skips: { type: 'boolean', default: false },
        'check-trap-messages': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(
      `usage: npx node test/spec/cli.ts [--target ${targetNames().join('|')}] [--failures N] [--skips] [--check-trap-messages] [--json] [script...]`,
    );
    return 0;
  }
  const maxFailures = values.failures === undefined ? 0 : Number(values.failures);
  if (!Number.isInteger(maxFailures) || maxFailures < 0) {
    console.error(`--failures wants a count, got ${values.failures}`);
    return 2;
  }

  let factory;
  let scripts: string[];
  try {
    factory = targetFactory(values.target);
    const dir = findSpecDir();
    if (positionals.length === 0 && dir === undefined) {
      console.error(`No spec scripts: ${specDirCandidate()} is absent or empty (set WASM_SPEC_DIR). Nothing to run.`);
      return 0;
    }
    scripts = positionals.length > 0 ? positionals.map((p) => resolveScript(p, dir)) : listScripts(dir!);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }

  const started = performance.now();
  const results: ScriptResult[] = [];
  for (const script of scripts) {
    results.push(await runScript(script, factory, { maxFailures, checkTrapMessages: values['check-trap-messages'] }));
  }
  const wallMs = performance.now() - started;

  if (values.json) {
    console.log(JSON.stringify({ target: values.target, wallMs, results }, null, 2));
  } else {
    console.log(`target: ${values.target}\n`);
    console.log(formatTable(results));
    console.log(`\n${formatKindTable(results)}`);
    if (values.skips) console.log(`\nskipped, by reason:\n${formatSkipReasons(results)}`);
    const failures = formatFailures(results);
    if (maxFailures > 0 && failures) console.log(`\nfailures:\n${failures}`);
    console.log(`\nwall time: ${(wallMs / 1000).toFixed(2)} s`);
  }
  return results.some((r) => r.error !== undefined) ? 1 : 0;
}

process.exitCode = await main();
