// Converts a .wast script with wabt's wast2json once per machine: the output (the JSON command
// list and the .wasm files) is kept under os.tmpdir() in a directory named by a hash of the
// script's content, the wast2json version and this conversion's flags, and every spec test file
// (direct, jit, http, each in a process of its own) reads it from there. A conversion is written
// to a private directory and renamed into place, so processes converting the same script at once
// never see each other's half-written files.

import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Bump when the conversion below changes, so older cached output is not used. */
const SCHEME = 'v1: --enable-all, plain flags as fallback';

export interface Conversion {
  /** Whether wast2json converted without complaint. */
  readonly ok: boolean;
  /** The directory holding the JSON file and the .wasm files it names. */
  readonly dir: string;
  readonly jsonPath: string;
  /** wast2json's complaints, when it had any. */
  readonly stderr: string;
}

interface Meta {
  readonly ok: boolean;
  readonly jsonFile: string;
  readonly stderr: string;
}

export class Wast2jsonMissing extends Error {
  override readonly name = 'Wast2jsonMissing';
  constructor() {
    super('wast2json not found on PATH (install wabt)');
  }
}

export function cacheRoot(): string {
  return process.env['WAST2JSON_CACHE_DIR'] ?? join(tmpdir(), 'wasm-orc-jit-wast2json');
}

let version: Promise<string> | undefined;

function wast2jsonVersion(): Promise<string> {
  version ??= execFileAsync('wast2json', ['--version']).then(
    ({ stdout }) => stdout.trim(),
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new Wast2jsonMissing();
      throw err;
    },
  );
  return version;
}

interface Attempt {
  readonly ok: boolean;
  readonly produced: boolean;
  readonly stderr: string;
}

async function runWast2json(path: string, jsonPath: string, flags: readonly string[]): Promise<Attempt> {
  try {
    const { stderr } = await execFileAsync('wast2json', [...flags, path, '-o', jsonPath], { maxBuffer: 64 << 20 });
    // wabt 1.0.32 reports validation errors yet exits 0; treat any error line as misbehaviour.
    return { ok: !/error:/.test(stderr), produced: existsSync(jsonPath), stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Wast2jsonMissing();
    return { ok: false, produced: existsSync(jsonPath), stderr: e.stderr ?? String(err) };
  }
}

/** Runs the conversion into `dir` (empty, private to this process) and says how it went. */
async function convertInto(path: string, dir: string, name: string): Promise<Meta> {
  const jsonFile = `${name}.json`;
  // --enable-all first (it is what the scripts' proposals need); plain defaults if it misbehaves,
  // e.g. ref_func.wast, which the typed-function-references rules of --enable-all reject.
  const allDir = join(dir, 'all');
  mkdirSync(allDir);
  const all = await runWast2json(path, join(allDir, jsonFile), ['--enable-all']);
  let chosen = { attempt: all, sub: 'all' };
  if (!all.ok) {
    const plainDir = join(dir, 'plain');
    mkdirSync(plainDir);
    const plain = await runWast2json(path, join(plainDir, jsonFile), []);
    if (plain.ok || !all.produced) chosen = { attempt: plain, sub: 'plain' };
  }
  const meta: Meta = { ok: chosen.attempt.ok && chosen.attempt.produced, jsonFile: join(chosen.sub, jsonFile), stderr: chosen.attempt.stderr };
  if (!chosen.attempt.produced) {
    throw new Error(`wast2json could not convert ${path}: ${meta.stderr.trim().split('\n').slice(0, 5).join(' / ')}`);
  }
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
  return meta;
}

function readMeta(dir: string): Meta | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    return undefined;
  }
}

function conversionAt(dir: string, meta: Meta): Conversion {
  const jsonPath = join(dir, meta.jsonFile);
  return { ok: meta.ok, dir: dirname(jsonPath), jsonPath, stderr: meta.stderr };
}

/** The script converted, from the cache when another run already converted the same content. */
export async function convertCached(path: string): Promise<Conversion> {
  const content = readFileSync(path);
  const key = createHash('sha256').update(SCHEME).update('\0').update(await wast2jsonVersion()).update('\0').update(content).digest('hex');
  const root = cacheRoot();
  const final = join(root, key.slice(0, 32));
  const cached = readMeta(final);
  if (cached) return conversionAt(final, cached);

  mkdirSync(root, { recursive: true });
  const scratch = mkdtempSync(join(root, 'tmp-'));
  try {
    const meta = await convertInto(path, scratch, basename(path, '.wast'));
    try {
      renameSync(scratch, final);
    } catch (err) {
      // Another process renamed its conversion of the same content into place first: use that.
      const code = (err as NodeJS.ErrnoException).code;
      const theirs = code === 'EEXIST' || code === 'ENOTEMPTY' ? readMeta(final) : undefined;
      if (!theirs) throw err;
      return conversionAt(final, theirs);
    }
    return conversionAt(final, meta);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
