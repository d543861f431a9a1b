// Random valid modules from binaryen's translate-to-fuzz (`wasm-opt -ttf`), which turns any
// bytes into a module that validates. The JS build of wasm-opt shipped in the binaryen npm
// package is run with this process's Node, so no native binaryen install is needed.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const WASM_OPT = join(dirname(createRequire(import.meta.url).resolve('binaryen/package.json')), 'bin', 'wasm-opt');

// Only features Node 24 ships without flags and the JIT supports. Left out on purpose: GC,
// exception handling, strings, multi-memory and memory64 (binaryen.js cannot list several
// memories; V8 24 lacks exnref and stringref), threads (shared memory), and relaxed SIMD,
// whose results binaryen may constant-fold differently from V8.
export const FEATURE_FLAGS: readonly string[] = [
  '--mvp-features',
  '--enable-sign-ext',
  '--enable-mutable-globals',
  '--enable-nontrapping-float-to-int',
  '--enable-bulk-memory',
  '--enable-bulk-memory-opt',
  '--enable-multivalue',
  '--enable-reference-types',
  '--enable-simd',
  '--enable-tail-call',
  '--enable-extended-const',
];

export interface TtfOptions {
  /**
   * Also run binaryen's --denan, which turns every NaN a float operation makes into 0: then
   * float results compare bit for bit with direct instantiation, whose JS numbers may lose
   * NaN payloads. Without it the comparison falls back to NaN-ness for NaN results.
   */
  readonly denan: boolean;
}

/** Runs wasm-opt -ttf on `seedBytes`; resolves to the module's binary. */
export async function translateToFuzz(seedBytes: Uint8Array, opts: TtfOptions): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await mkdtemp(join(tmpdir(), 'ttf-'));
  try {
    const input = join(dir, 'in.dat');
    const output = join(dir, 'out.wasm');
    await writeFile(input, seedBytes);
    const args = [WASM_OPT, input, '-ttf', ...FEATURE_FLAGS, ...(opts.denan ? ['--denan'] : []), '-o', output];
    await run(process.execPath, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return new Uint8Array(await readFile(output));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Starts `fn` on every item, at most `limit` at a time, in order; returns the promises so a
 * consumer can take each result as soon as it is ready while later ones are still running.
 */
export function startLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R>[] {
  const out: Promise<R>[] = [];
  for (const [i, item] of items.entries()) {
    // Item i runs in lane i % limit, after that lane's previous item settled.
    const previous = i >= limit ? out[i - limit]!.then(() => undefined, () => undefined) : Promise.resolve();
    const p = previous.then(() => fn(item));
    // Handled here so a failure does not count as unhandled before its consumer awaits it.
    p.catch(() => undefined);
    out.push(p);
  }
  return out;
}
