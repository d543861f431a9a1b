// The baseline tier's piece cutter on its own (no executor, no HTTP): `node bench/cutPiece.ts`.
// 1. Cutting one small leaf out of a 20,000-function module against one out of a 20-function
//    module (the same body): the cost must follow the function, not the module.
// 2. Cutting every function of the 20,000-function module into one piece (scanning the bodies,
//    as WasmModule.references does once per function, and cutting from those scans), and V8
//    compiling that piece, next to V8 compiling the original.
// 3. The baseline tier against the optimized tier for the same function: cutPiece alone, and
//    cutPiece followed by binaryen's optimizeBinary at level 2 (what the optimized tier runs, in
//    its own thread), alone and up to a callable export (WebAssembly.Module + Instance).
// Each comparison alternates its contenders within every round so both see the same machine
// load, and reports the fastest round (the least disturbed by other processes); ratios matter
// more than absolute times. ROUNDS (default 9) rounds of ITER (default 300) calls each.

import { scanBody, skipLocals, type CodeReferences } from '../src/wasm/codeScan.ts';
import { cutPiece, loadModule, type WasmModule } from '../src/wasm/index.ts';
import type { ModuleBinary } from '../src/wasm/moduleBinary.ts';
import { optimizeBinary } from '../src/wasm/optimizing.ts';
import { now } from './lib.ts';
import { chainModule } from './wasmgen.ts';

const ROUNDS = Number(process.env['ROUNDS'] ?? 9);
const ITER = Number(process.env['ITER'] ?? 300);
const BIG = 20_000;
const SMALL = 20;

/** A scanner without a cache: every cut pays for scanning the bodies it copies. */
function freshScans(binary: ModuleBinary): (index: number) => CodeReferences {
  return (index) => {
    const entry = binary.code[index - binary.importedFunctions]!;
    return scanBody(binary.bytes, skipLocals(binary.bytes, entry.start, entry.end), entry.end);
  };
}

function instantiate(bytes: Uint8Array): WebAssembly.Instance {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
}

/** The fastest round's mean time per call of each contender, in microseconds. */
function timeEach(contenders: Record<string, (i: number) => void>, iter = ITER): Record<string, number> {
  const best: Record<string, number> = {};
  let serial = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      const t0 = now();
      for (let i = 0; i < iter; i++) fn(serial++);
      best[name] = Math.min(best[name] ?? Infinity, ((now() - t0) * 1000) / iter);
    }
  }
  return best;
}

const us = (x: number | undefined) => `${(x ?? NaN).toFixed(1)} µs`;
const ms = (x: number | undefined) => `${((x ?? NaN) / 1000).toFixed(2)} ms`;
const ratio = (a: number | undefined, b: number | undefined) => `${((a ?? NaN) / (b ?? NaN)).toFixed(2)}x`;

const big = await loadModule(chainModule(BIG, 5, 1, true));
const small = await loadModule(chainModule(SMALL, 5, 1, true));
// The same leaf body in both modules (only its constant differs).
const leaf = (m: WasmModule) => m.info.functions.length - 3;
const binaries = { big: big.binary, small: small.binary };
const fresh = { big: freshScans(binaries.big), small: freshScans(binaries.small) };
const cached = { big: (i: number) => big.references(i), small: (i: number) => small.references(i) };

for (let i = 0; i < 3000; i++) cutPiece(binaries.small, fresh.small, { functions: [leaf(small)] }); // warm the cutter up

console.log(`1. one leaf, ${BIG}-function module vs ${SMALL}-function module`);
const one = timeEach({
  big: () => void cutPiece(binaries.big, cached.big, { functions: [leaf(big)] }),
  small: () => void cutPiece(binaries.small, cached.small, { functions: [leaf(small)] }),
  'big, scan': () => void cutPiece(binaries.big, fresh.big, { functions: [leaf(big)] }),
  'small, scan': () => void cutPiece(binaries.small, fresh.small, { functions: [leaf(small)] }),
  'big → instance': () => void instantiate(cutPiece(binaries.big, cached.big, { functions: [leaf(big)] }).bytes),
  'small → instance': () => void instantiate(cutPiece(binaries.small, cached.small, { functions: [leaf(small)] }).bytes),
});
console.log(`   cut (scan cached): ${us(one['big'])} vs ${us(one['small'])}: ${ratio(one['big'], one['small'])}`);
console.log(`   scan + cut:        ${us(one['big, scan'])} vs ${us(one['small, scan'])}: ${ratio(one['big, scan'], one['small, scan'])}`);
console.log(`   cut + WebAssembly.Module + Instance: ${us(one['big → instance'])} vs ${us(one['small → instance'])}: ${ratio(one['big → instance'], one['small → instance'])}`);

console.log(`2. every function of the ${BIG}-function module in one piece`);
const everyFunction = Array.from({ length: BIG }, (_, i) => i);
const wholePiece = cutPiece(binaries.big, cached.big, { functions: everyFunction, exports: [0] });
const originals = Array.from({ length: ROUNDS * 2 }, (_, i) => chainModule(BIG, 5, 1000 + i, true));
// Distinct bytes for every compile, so V8's module cache never answers.
const pieces = Array.from({ length: ROUNDS * 2 }, (_, i) => cutPiece(binaries.big, cached.big, { functions: everyFunction, exports: [0], moduleName: `p${i}` }));
const whole = timeEach(
  {
    'scan every body': () => void everyFunction.forEach((i) => fresh.big(i)),
    cut: () => void cutPiece(binaries.big, cached.big, { functions: everyFunction, exports: [0] }),
    'V8 compiles the piece': (i) => void new WebAssembly.Module(pieces[i % pieces.length]!.bytes as Uint8Array<ArrayBuffer>),
    'V8 compiles the original': (i) => void new WebAssembly.Module(originals[i % originals.length]!),
  },
  1,
);
console.log(`   ${big.bytes.length} bytes in, ${wholePiece.bytes.length} out`);
console.log(`   scanning every body: ${ms(whole['scan every body'])}; cutting from the scans: ${ms(whole['cut'])} (${((whole['cut'] ?? 0) / BIG).toFixed(2)} µs per function)`);
console.log(`   V8 compiles the piece in ${ms(whole['V8 compiles the piece'])}, the original in ${ms(whole['V8 compiles the original'])}`);

console.log('3. baseline (cutPiece) vs optimized tier (cutPiece + optimizeBinary at level 2), the same leaf of the 20-function module');
const f = leaf(small);
const cutLeaf = () => cutPiece(binaries.small, fresh.small, { functions: [f] });
const optimizeLeaf = () => optimizeBinary(cutLeaf().bytes, { level: 2, keepImports: false });
const versus = timeEach(
  {
    'scan + cut': () => void cutLeaf(),
    'scan + cut → instance': () => void instantiate(cutLeaf().bytes),
    'scan + cut + O2': () => void optimizeLeaf(),
    'scan + cut + O2 → instance': () => void instantiate(optimizeLeaf()),
  },
  Math.max(10, ITER / 10),
);
for (const [k, v] of Object.entries(versus)) console.log(`   ${k.padEnd(28)} ${us(v)}`);
console.log(
  `   optimized / baseline: ${ratio(versus['scan + cut + O2'], versus['scan + cut'])}; ` +
    `up to an instance: ${ratio(versus['scan + cut + O2 → instance'], versus['scan + cut → instance'])}`,
);
