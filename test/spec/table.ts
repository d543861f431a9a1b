// Renders script results as a plain-text table (script, passed, failed, skipped), a totals
// row, a per-command-kind breakdown and the recorded failures: the report the CLI prints and
// the direct test logs.

import type { Counts, ScriptResult } from './runner.ts';
import { COMMAND_KINDS, type CommandKind } from './wast.ts';

function pad(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows
    .map((r) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  '))
    .join('\n');
}

export function sumCounts(results: readonly ScriptResult[]): Counts {
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const r of results) {
    total.passed += r.total.passed;
    total.failed += r.total.failed;
    total.skipped += r.total.skipped;
  }
  return total;
}

export function sumByKind(results: readonly ScriptResult[]): Record<CommandKind, Counts> {
  const byKind = {} as Record<CommandKind, Counts>;
  for (const kind of COMMAND_KINDS) {
    const c = { passed: 0, failed: 0, skipped: 0 };
    for (const r of results) {
      c.passed += r.counts[kind].passed;
      c.failed += r.counts[kind].failed;
      c.skipped += r.counts[kind].skipped;
    }
    byKind[kind] = c;
  }
  return byKind;
}

export function formatTable(results: readonly ScriptResult[]): string {
  const rows: string[][] = [['script', 'passed', 'failed', 'skipped', 'ms']];
  for (const r of results) {
    const name = r.error === undefined ? r.script : `${r.script} (ERROR)`;
    rows.push([name, String(r.total.passed), String(r.total.failed), String(r.total.skipped), r.durationMs.toFixed(0)]);
  }
  const t = sumCounts(results);
  const ms = results.reduce((s, r) => s + r.durationMs, 0);
  rows.push([`TOTAL (${results.length} scripts)`, String(t.passed), String(t.failed), String(t.skipped), ms.toFixed(0)]);
  return pad(rows);
}

export function formatKindTable(results: readonly ScriptResult[]): string {
  const byKind = sumByKind(results);
  const rows: string[][] = [['command kind', 'passed', 'failed', 'skipped']];
  for (const kind of COMMAND_KINDS) {
    const c = byKind[kind];
    if (c.passed + c.failed + c.skipped > 0) rows.push([kind, String(c.passed), String(c.failed), String(c.skipped)]);
  }
  return pad(rows);
}

export function formatFailures(results: readonly ScriptResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.error !== undefined) lines.push(`${r.script}: ERROR ${r.error}`);
    for (const f of r.failures) {
      lines.push(`${r.script}.wast:${f.line}: ${f.command}\n    expected ${f.expected}\n    got      ${f.got}`);
    }
    if (r.total.failed > r.failures.length) lines.push(`${r.script}: ... and ${r.total.failed - r.failures.length} more failures`);
  }
  return lines.join('\n');
}

export function formatSkipReasons(results: readonly ScriptResult[]): string {
  const reasons = new Map<string, number>();
  for (const r of results) for (const [reason, n] of Object.entries(r.skipReasons)) reasons.set(reason, (reasons.get(reason) ?? 0) + n);
  return [...reasons].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${String(n).padStart(6)}  ${reason}`).join('\n');
}
