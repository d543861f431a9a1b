// The baseline tier's piece cutter on its own (no executor, no HTTP): `node bench/cutPiece.ts`.
// 1. Cutting one small leaf out of a 20,000-function module against one out of a 20-function
//    module (the same body): the cost must follow the function, not the module.
// 2. Cutting every function of the 20,000-function module into one piece, and V8 compiling it,
//    next to V8 compiling the original.
// 3. cutPiece against binaryen's extractFunctions (optimize 0 and 2) for the same function,
//    alone and up to a callable export (WebAssembly.Module + Instance).
// Each comparison alternates its contenders within every round so both see the same machine
// load; ratios matter more than absolute times. ROUNDS (default 7) rounds of ITER cuts each.

import { scanBody, skipLocals, type CodeReferences } from '../src/wasm/codeScan.ts';
import { cutPiece, extractFunctions, parseModule, type CompiledPiece, type ParsedModule } from '../src/wasm/index.ts';
import type { ModuleBinary } from '../src/wasm/moduleBinary.ts';
import { median, now } from './lib.ts';
import { chainModule } from './wasmgen.ts';

const ROUNDS = Number(process.env['ROUNDS'] ?? 7);
const ITER = Number(process.env['ITER'] ?? 500);
const BIG = 20_000;
const SMALL = 20;

/** A scanner without a cache, so every cut pays for scanning the bodies it copies. */
function freshScans(binary: ModuleBinary): (index: number) => CodeReferences {
  return (index) => {
    const entry = binary.code[index - binary.importedFunctions]!;
    return scanBody(binary.bytes, skipLocals(binary.bytes, entry.start, entry.end), entry.end);
  };
}

function instantiate(piece: CompiledPiece): WebAssembly.Instance {
  return new WebAssembly.Instance(new WebAssembly.Module(piece.bytes as Uint8Array<ArrayBuffer>), {});
}

/** Median over rounds of the mean time per call of `fn`, in microseconds. */
function timeEach(contenders: Record<string, (i: number) => void>, iter = ITER): Record<string, number> {
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      const t0 = now();
      for (let i = 0; i < iter; i++) fn(i);
      (samples[name] ??= []).push(((now() - t0) * 1000) / iter);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

const us = (x: number | undefined) => `${(x ?? NaN).toFixed(1)} µs`;

const big = parseModule({ wasm: chainModule(BIG, 5, 1, true) });
const small = parseModule({ wasm: chainModule(SMALL, 5, 1, true) });
const leaf = (m: ParsedModule) => m.info.functions.length - 3; // the same body in both: (i32.const nonce+i) * 3 differs only in i
const binaries = { big: big.layout.binary, small: small.layout.binary };
const scans = { big: freshScans(binaries.big), small: freshScans(binaries.small) };

// Warm up the JIT of the cutter itself.
for (let i = 0; i < 2000; i++) cutPiece(binaries.small, scans.small, { functions: [leaf(small)] });

console.log(`1. one leaf, ${BIG}-function module vs ${SMALL}-function module`);
const one = timeEach({
  big: () => void cutPiece(binaries.big, scans.big, { functions: [leaf(big)] }),
  small: () => void cutPiece(binaries.small, scans.small, { functions: [leaf(small)] }),
  'big + compile + instantiate': () => void instantiate(cutPiece(binaries.big, scans.big, { functions: [leaf(big)] })),
  'small + compile + instantiate': () => void instantiate(cutPiece(binaries.small, scans.small, { functions: [leaf(small)] })),
});
console.log(`   cut: ${us(one['big'])} vs ${us(one['small'])} (${((one['big'] ?? 0) / (one['small'] ?? 1)).toFixed(2)}x)`);
console.log(
  `   cut + WebAssembly.Module + Instance: ${us(one['big + compile + instantiate'])} vs ${us(one['small + compile + instantiate'])}` +
    ` (${((one['big + compile + instantiate'] ?? 0) / (one['small + compile + instantiate'] ?? 1)).toFixed(2)}x)`,
);

console.log(`2. every function of the ${BIG}-function module in one piece`);
const everyFunction = Array.from({ length: BIG }, (_, i) => i);
let wholePiece: CompiledPiece | undefined;
const whole = timeEach(
  {
    cut: () => void (wholePiece = cutPiece(binaries.big, scans.big, { functions: everyFunction, exports: [0] })),
    'V8 compiles the piece': () => void new WebAssembly.Module(wholePiece!.bytes as Uint8Array<ArrayBuffer>),
    'V8 compiles the original': () => void new WebAssembly.Module(big.bytes as Uint8Array<ArrayBuffer>),
  },
  3,
);
console.log(
  `   cut ${((whole['cut'] ?? 0) / 1000).toFixed(2)} ms (${big.bytes.length} bytes in, ${wholePiece!.bytes.length} out, ` +
    `${((whole['cut'] ?? 0) / BIG).toFixed(2)} µs per function); V8 compiles it in ${((whole['V8 compiles the piece'] ?? 0) / 1000).toFixed(2)} ms, ` +
    `the original in ${((whole['V8 compiles the original'] ?? 0) / 1000).toFixed(2)} ms`,
);

console.log('3. cutPiece vs extractFunctions (binaryen), the same leaf of the 20-function module');
const f = leaf(small);
const versus = timeEach(
  {
    cut: () => void cutPiece(binaries.small, scans.small, { functions: [f] }),
    'extract O0': () => void extractFunctions(small, [f], { optimizeLevel: 0 }),
    'extract O2': () => void extractFunctions(small, [f], { optimizeLevel: 2 }),
    'cut → instance': () => void instantiate(cutPiece(binaries.small, scans.small, { functions: [f] })),
    'extract O0 → instance': () => void instantiate(extractFunctions(small, [f], { optimizeLevel: 0 })),
    'extract O2 → instance': () => void instantiate(extractFunctions(small, [f], { optimizeLevel: 2 })),
  },
  Math.max(20, ITER / 10),
);
for (const [k, v] of Object.entries(versus)) console.log(`   ${k.padEnd(24)} ${us(v)}`);
console.log(
  `   extract O0 / cut: ${((versus['extract O0'] ?? 0) / (versus['cut'] ?? 1)).toFixed(0)}x, extract O2 / cut: ${((versus['extract O2'] ?? 0) / (versus['cut'] ?? 1)).toFixed(0)}x; ` +
    `to an instance: ${((versus['extract O2 → instance'] ?? 0) / (versus['cut → instance'] ?? 1)).toFixed(1)}x (O2)`,
);

big.dispose();
small.dispose();
