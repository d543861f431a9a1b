// @chainsafe/as-sha256 1.2.5 (AssemblyScript): SHA-256, its non-SIMD build. Workload: hash a
// 32 KiB chunk written once into the module's one page of memory, fed to update() again and
// again (init, updates, final), and checked against node:crypto. The package's glue feeds
// 512-byte slices through its `input` buffer; update() takes any pointer and length, so the
// chunk lives above the heap AssemblyScript's allocator has used (a few KiB at start) and
// below the tail it keeps at the end of the page.

import { createHash } from 'node:crypto';
import { watModule, type PackageFile, packageFile } from './packages.ts';
import { type Json, type RealModule, type Setup, type Target } from './target.ts';

const PKG: PackageFile = {
  name: '@chainsafe/as-sha256',
  version: '1.2.5',
  integrity: 'sha512-8LzmWxBC/2O5BgbP+aRom/FaDJMrM04VZMlVIivYTc6yNQKYrONmIv27m3q/1VBgxrfrNNqmibitb2hE2tQzIw==',
  file: 'build/optimized.wasm',
};

const DYLIB = 'sha256';
const HOST = 'env';
const MEMORY = 'memory';
const CHUNK_OFFSET = 16 * 1024;
const CHUNK_BYTES = 32 * 1024;

const updatesFor = (quick: boolean) => (quick ? 4 : 32);

function chunk(): Uint8Array {
  const b = new Uint8Array(CHUNK_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

async function run(t: Target, quick: boolean) {
  const updates = updatesFor(quick);
  const data = chunk();
  await t.writeMemory(DYLIB, MEMORY, CHUNK_OFFSET, data);
  await t.invoke(DYLIB, 'init');
  for (let i = 0; i < updates; i++) await t.invoke(DYLIB, 'update', [CHUNK_OFFSET, CHUNK_BYTES]);
  const output = await t.readGlobal(DYLIB, 'output');
  await t.invoke(DYLIB, 'final', [output]);
  const digest = Buffer.from(await t.readMemory(DYLIB, MEMORY, output, 32)).toString('hex');

  const oracle = createHash('sha256');
  for (let i = 0; i < updates; i++) oracle.update(data);
  const expected = oracle.digest('hex');
  const problems = digest === expected ? [] : [`digest ${digest}, node:crypto says ${expected}`];
  const result: Json = { bytes: updates * CHUNK_BYTES, digest };
  return { result, problems };
}

export const sha256: RealModule = {
  id: 'sha256',
  title: `SHA-256 (${PKG.name} ${PKG.version}, AssemblyScript)`,
  describe: (quick) => `SHA-256 of ${(updatesFor(quick) * CHUNK_BYTES) / 1024} KiB in ${updatesFor(quick)} updates`,
  setup(): Setup {
    return {
      // The module imports from "env", which resolves through its dylib's link order.
      dylibs: [{ name: HOST }, { name: DYLIB, linkOrder: [DYLIB, HOST] }],
      modules: [
        { dylib: HOST, name: 'as-env', bytes: watModule('as-env') },
        { dylib: DYLIB, name: 'as-sha256', bytes: packageFile(PKG) },
      ],
    };
  },
  run,
};
