// Where the spec scripts live: $WASM_SPEC_DIR if set, else ../shared/wasm-spec beside the
// project root. The scripts are test data read in place, never copied into the project.

import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/** The directory that should hold the scripts, whether or not it exists. */
export function specDirCandidate(): string {
  const fromEnv = process.env['WASM_SPEC_DIR'];
  return fromEnv ? resolve(fromEnv) : resolve(PROJECT_ROOT, '..', 'shared', 'wasm-spec');
}

/** The scripts directory, or undefined when it is absent or holds no .wast file. */
export function findSpecDir(): string | undefined {
  const dir = specDirCandidate();
  return existsSync(dir) && listScripts(dir).length > 0 ? dir : undefined;
}

/** Every .wast file in `dir`, sorted by name, as absolute paths. */
export function listScripts(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.wast'))
    .sort()
    .map((f) => join(dir, f));
}

/** A CLI argument: a path to a .wast file, or a script name ("i32", "i32.wast") in `dir`. */
export function resolveScript(arg: string, dir: string | undefined): string {
  if ((isAbsolute(arg) || arg.includes('/')) && existsSync(arg)) return resolve(arg);
  if (dir === undefined) throw new Error(`script ${arg}: no spec directory (looked in ${specDirCandidate()}; set WASM_SPEC_DIR)`);
  const path = join(dir, arg.endsWith('.wast') ? arg : `${arg}.wast`);
  if (!existsSync(path)) throw new Error(`script ${arg}: ${path} does not exist`);
  return path;
}
