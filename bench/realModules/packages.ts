// Brings the real modules the benchmark runs onto the machine: each pinned npm package is
// fetched with `npm pack` into bench/.cache (gitignored: the binaries never enter the
// repository), checked against the integrity the registry published for that version, and
// the one .wasm file the benchmark needs is extracted from it with tar. A later run finds the
// extracted file and asks nothing of the network. The WAT modules in wat/ (host imports, the
// server's warm-up) are compiled with wabt's wat2wasm, so both runs get the same bytes.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CACHE_DIR = path.resolve(here, '..', '.cache');
const WAT_DIR = path.join(here, 'wat');

/** One file of one pinned package version. */
export interface PackageFile {
  readonly name: string;
  readonly version: string;
  /** The registry's `dist.integrity` for this version (sha512 of the tarball). */
  readonly integrity: string;
  /** The file's path inside the tarball, below `package/`. */
  readonly file: string;
}

export class PackageFetchError extends Error {
  override name = 'PackageFetchError';
}

export class WatCompileError extends Error {
  override name = 'WatCompileError';
}

function run(cmd: string, args: readonly string[], cwd: string, what: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  if (r.error) throw new PackageFetchError(`${what}: ${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new PackageFetchError(`${what}: ${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-600)}`);
  return r.stdout;
}

/** `@scope/name` becomes `scope-name`, as npm names the tarball. */
const safeName = (name: string) => name.replace(/^@/, '').replace(/\//g, '-');

/** Where the extracted file of `pkg` lives in the cache. */
export function cachedPath(pkg: PackageFile): string {
  return path.join(CACHE_DIR, `${safeName(pkg.name)}-${pkg.version}`, pkg.file);
}

/** The file's bytes, fetching and extracting the package first if the cache lacks it. */
export function packageFile(pkg: PackageFile): Uint8Array {
  const target = cachedPath(pkg);
  if (!existsSync(target)) fetchInto(pkg, target);
  return readFileSync(target);
}

function fetchInto(pkg: PackageFile, target: string): void {
  const spec = `${pkg.name}@${pkg.version}`;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tgz = path.join(CACHE_DIR, `${safeName(pkg.name)}-${pkg.version}.tgz`);
  if (!existsSync(tgz)) run('npm', ['pack', spec, '--pack-destination', CACHE_DIR, '--silent'], CACHE_DIR, `fetching ${spec}`);
  if (!existsSync(tgz)) throw new PackageFetchError(`fetching ${spec}: npm pack left no ${path.basename(tgz)} in ${CACHE_DIR}`);
  const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (got !== pkg.integrity) {
    rmSync(tgz, { force: true });
    throw new PackageFetchError(`${spec}: tarball integrity ${got} is not the pinned ${pkg.integrity}`);
  }
  // Extract into a scratch folder and move the file into place, so an interrupted run never
  // leaves a partial file where the next run would trust it.
  const scratch = `${path.dirname(target)}.partial`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  run('tar', ['-xzf', tgz, '-C', scratch, `package/${pkg.file}`], CACHE_DIR, `extracting ${pkg.file} from ${spec}`);
  mkdirSync(path.dirname(target), { recursive: true });
  renameSync(path.join(scratch, 'package', pkg.file), target);
  rmSync(scratch, { recursive: true, force: true });
}

/** Compiles wat/<name>.wat with wat2wasm (cached by the text's hash) and returns the binary. */
export function watModule(name: string): Uint8Array {
  const source = path.join(WAT_DIR, `${name}.wat`);
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const out = path.join(CACHE_DIR, 'wat', `${name}-${hash}.wasm`);
  if (!existsSync(out)) {
    mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.partial`;
    const r = spawnSync('wat2wasm', [source, '-o', tmp], { encoding: 'utf8' });
    if (r.error) throw new WatCompileError(`wat2wasm (Debian's wabt) is needed for ${name}.wat: ${r.error.message}`);
    if (r.status !== 0) throw new WatCompileError(`wat2wasm ${name}.wat: ${r.stderr.slice(0, 600)}`);
    renameSync(tmp, out);
  }
  return readFileSync(out);
}
