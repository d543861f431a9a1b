// @jsquash/png 3.1.1 (Rust, wasm-bindgen): Squoosh's PNG codec. Workload: encode an RGBA
// gradient (the package's first encode, as its glue drives it: stack slot for the result,
// input copied in with __wbindgen_malloc), then decode the PNG back, whose ImageData the host
// module (wat/wbg.wat) records as globals.

import { createHash } from 'node:crypto';
import { watModule, type PackageFile, packageFile } from './packages.ts';
import { invokeI32, type Json, type RealModule, readI32, type Setup, type Target } from './target.ts';

const PKG: PackageFile = {
  name: '@jsquash/png',
  version: '3.1.1',
  integrity: 'sha512-C10pc+0H6j0h8fENOfnGOvkXCmvpSQTDGlfGd0sHphZhPSGTyLjIrHba0FaZZdsKqA/wlmhYicUHb92vfZphaw==',
  file: 'codec/pkg/squoosh_png_bg.wasm',
};

const DYLIB = 'png';
const HOST = 'wbg';
const MEMORY = 'memory';

const sideFor = (quick: boolean) => (quick ? 64 : 256);

function image(side: number): Uint8Array {
  const px = new Uint8Array(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const o = (y * side + x) * 4;
      px[o] = x & 255;
      px[o + 1] = y & 255;
      px[o + 2] = (x * y) & 255;
      px[o + 3] = 255 - ((x + y) & 127);
    }
  }
  return px;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function copyIn(t: Target, bytes: Uint8Array): Promise<number> {
  const ptr = await invokeI32(t, DYLIB, '__wbindgen_malloc', [bytes.length, 1]);
  await t.writeMemory(DYLIB, MEMORY, ptr, bytes);
  return ptr;
}

async function run(t: Target, quick: boolean) {
  const side = sideFor(quick);
  const input = image(side);
  const problems: string[] = [];

  const retptr = await invokeI32(t, DYLIB, '__wbindgen_add_to_stack_pointer', [-16]);
  const inPtr = await copyIn(t, input);
  await t.invoke(DYLIB, 'encode', [retptr, inPtr, input.length, side, side, 8]);
  const pngPtr = await readI32(t, DYLIB, MEMORY, retptr);
  const pngLen = await readI32(t, DYLIB, MEMORY, retptr + 4);
  const png = await t.readMemory(DYLIB, MEMORY, pngPtr, pngLen);
  await t.invoke(DYLIB, '__wbindgen_free', [pngPtr, pngLen, 1]);
  await t.invoke(DYLIB, '__wbindgen_add_to_stack_pointer', [16]);

  const handle = await invokeI32(t, DYLIB, 'decode', [await copyIn(t, png), png.length]);
  const pixels = await t.readGlobal(HOST, 'pixels');
  const bytes = await t.readGlobal(HOST, 'bytes');
  const width = await t.readGlobal(HOST, 'width');
  const height = await t.readGlobal(HOST, 'height');
  const decoded = await t.readMemory(DYLIB, MEMORY, pixels, bytes);
  await t.invoke(DYLIB, '__wbindgen_free', [pixels, bytes, 1]);

  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!signature.every((b, i) => png[i] === b)) problems.push('the encoded bytes do not start with the PNG signature');
  const ihdr = new DataView(png.buffer, png.byteOffset, Math.min(png.length, 24));
  if (png.length < 24 || ihdr.getUint32(16) !== side || ihdr.getUint32(20) !== side) problems.push(`IHDR does not say ${side}x${side}`);
  if (width !== side || height !== side || Buffer.compare(Buffer.from(decoded), Buffer.from(input)) !== 0) {
    problems.push(`decoding gave ${width}x${height}, ${bytes} bytes, not the ${side}x${side} image encoded`);
  }
  const result: Json = { side, pngBytes: png.length, pngSha256: sha256(png), decoded: { handle, width, height, sha256: sha256(decoded) } };
  return { result, problems };
}

export const png: RealModule = {
  id: 'png',
  title: `PNG codec (${PKG.name} ${PKG.version}, Rust/wasm-bindgen)`,
  describe: (quick) => `first encode of a ${sideFor(quick)}x${sideFor(quick)} RGBA image, decode back`,
  setup(): Setup {
    return {
      dylibs: [{ name: HOST }, { name: DYLIB, linkOrder: [DYLIB, HOST] }],
      modules: [
        { dylib: HOST, name: 'wbg-host', bytes: watModule('wbg') },
        { dylib: DYLIB, name: 'squoosh_png', bytes: packageFile(PKG) },
      ],
    };
  },
  run,
};
