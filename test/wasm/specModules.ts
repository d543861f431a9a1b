// The spec scripts (shared/wasm-spec) as wast2json converts them: the command list of a script
// (convertedScript), or just the binary modules of every script (specModules), for tests that do
// not need the scripts' assertions. wast2json runs once per script and wabt version: its output
// is cached under the system temp directory, keyed by the script's contents, so later runs (and
// other test processes) read the .json and .wasm files instead of converting 80 scripts again.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface SpecModule {
  /** Script name and line, e.g. "i32.wast:12". */
  readonly where: string;
  readonly bytes: Uint8Array;
}

const CACHE_ROOT = join(tmpdir(), 'wasm-orc-jit-cut-spec-modules');
const MODULE_COMMANDS: ReadonlySet<string> = new Set(['module', 'assert_unlinkable', 'assert_uninstantiable', 'assert_trap']);

let wabtVersion: string | undefined;

function convert(path: string, into: string): void {
  const name = basename(path, '.wast');
  const run = (flags: readonly string[]): boolean => {
    try {
      const out = execFileSync('wast2json', [...flags, path, '-o', join(into, `${name}.json`)], { stdio: 'pipe', encoding: 'utf8' });
      return !/error:/.test(out);
    } catch {
      return false;
    }
  };
  // As test/spec/wast.ts does: every proposal first, plain defaults if that misbehaves.
  if (!run(['--enable-all'])) run([]);
}

/** The directory holding wast2json's output for `path`, converting it when no cached copy exists. */
function converted(path: string): string {
  wabtVersion ??= execFileSync('wast2json', ['--version'], { encoding: 'utf8' }).trim();
  const key = createHash('sha256').update(wabtVersion).update('\0').update(readFileSync(path)).digest('hex').slice(0, 24);
  const dir = join(CACHE_ROOT, `${basename(path, '.wast')}-${key}`);
  if (existsSync(dir)) return dir;
  mkdirSync(CACHE_ROOT, { recursive: true });
  const scratch = mkdtempSync(join(CACHE_ROOT, 'tmp-'));
  convert(path, scratch);
  if (!existsSync(join(scratch, `${basename(path, '.wast')}.json`))) {
    rmSync(scratch, { recursive: true, force: true });
    throw new Error(`wast2json could not convert ${path}`);
  }
  try {
    renameSync(scratch, dir); // atomic: a concurrent run either wins or finds ours complete
  } catch {
    rmSync(scratch, { recursive: true, force: true });
  }
  return dir;
}

/** wast2json's output for the script at `path`: the directory of its .wasm files and its .json file's name there. */
export function convertedScript(path: string): { dir: string; json: string } {
  return { dir: converted(path), json: `${basename(path, '.wast')}.json` };
}

interface JsonCommand {
  readonly type?: string;
  readonly line?: number;
  readonly filename?: string;
  readonly module_type?: string;
}

/** Every binary module the scripts in `specDir` define (valid or not: callers decide). */
export function specModules(specDir: string): SpecModule[] {
  const out: SpecModule[] = [];
  for (const file of readdirSync(specDir).filter((f) => f.endsWith('.wast')).sort()) {
    const dir = converted(join(specDir, file));
    const json = join(dir, `${basename(file, '.wast')}.json`);
    const { commands } = JSON.parse(readFileSync(json, 'utf8')) as { commands: JsonCommand[] };
    for (const c of commands) {
      if (!MODULE_COMMANDS.has(c.type ?? '') || !c.filename?.endsWith('.wasm') || (c.module_type ?? 'binary') !== 'binary') continue;
      out.push({ where: `${file}:${c.line ?? 0}`, bytes: new Uint8Array(readFileSync(join(dir, c.filename))) });
    }
  }
  return out;
}
