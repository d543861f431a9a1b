// Every module of every spec script, cut into baseline pieces: for each defined function that
// does not use segment instructions, the piece holding it alone, and one piece holding all of
// them, must validate in V8 and declare exactly the imports and exports its description lists.
// Functions the scanner cannot read, and functions using segments, must be refused with the
// documented errors instead. (spec.test.ts runs the scripts' assertions against linked pieces.)

import t from 'tap';
import { MalformedBinary } from '../../src/wasm/bytes.ts';
import { scanBody, skipLocals, type CodeReferences } from '../../src/wasm/codeScan.ts';
import { cutPiece, type CompiledPiece } from '../../src/wasm/index.ts';
import { decodeModuleBinary, type ModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { findSpecDir } from '../spec/specDir.ts';
import { specModules } from './specModules.ts';

/** Why V8 refuses `bytes`, or null when it accepts them. */
function v8Refusal(bytes: Uint8Array): string | null {
  if (WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) return null;
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    return 'WebAssembly.validate refuses it, yet it compiles';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** What V8 says the piece imports and exports, against what the piece says it does. */
function describedAsEmitted(piece: CompiledPiece): string | null {
  const mod = new WebAssembly.Module(piece.bytes as Uint8Array<ArrayBuffer>);
  const actual = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`);
  const described = [
    ...piece.imports.map((i) => `${i.module}.${i.name}:${i.ref.kind}`),
    ...piece.hostImports.map((h) => `${h.module}.${h.name}:function`),
  ];
  if (actual.join() !== described.join()) return `imports ${actual.join()} described as ${described.join()}`;
  const exports = WebAssembly.Module.exports(mod).map((e) => `${e.name}:${e.kind}`);
  const describedExports = piece.exports.map((e) => `${e.name}:${e.ref.kind}`);
  if (exports.join() !== describedExports.join()) return `exports ${exports.join()} described as ${describedExports.join()}`;
  return null;
}

function scanner(binary: ModuleBinary): (index: number) => CodeReferences {
  const cache = new Map<number, CodeReferences>();
  return (index) => {
    let refs = cache.get(index);
    if (!refs) {
      const entry = binary.code[index - binary.importedFunctions]!;
      refs = scanBody(binary.bytes, skipLocals(binary.bytes, entry.start, entry.end), entry.end);
      cache.set(index, refs);
    }
    return refs;
  };
}

const specDir = findSpecDir();
if (specDir === undefined) throw new Error('the spec scripts are missing (shared/wasm-spec or $WASM_SPEC_DIR)');

t.test('baseline pieces of every spec module validate in V8', async (tt) => {
  const counts = { modules: 0, refusedByV8: 0, undecodable: 0, functions: 0, usingSegments: 0, unscannable: 0, singlePieces: 0, wholePieces: 0 };
  const failures: string[] = [];
  const kinds = new Set<string>();
  for (const { where, bytes } of specModules(specDir)) {
    if (v8Refusal(bytes) !== null) {
      counts.refusedByV8++; // assert_unlinkable modules can be invalid too; V8 is the reference
      continue;
    }
    counts.modules++;
    let binary: ModuleBinary;
    try {
      binary = decodeModuleBinary(bytes);
    } catch (e) {
      if (!(e instanceof MalformedBinary)) throw e;
      counts.undecodable++;
      failures.push(`${where}: the decoder refuses a module V8 accepts: ${e.message}`);
      continue;
    }
    const references = scanner(binary);
    const cuttable: number[] = [];
    for (let index = binary.importedFunctions; index < binary.funcTypes.length; index++) {
      counts.functions++;
      let refs: CodeReferences;
      try {
        refs = references(index);
      } catch (e) {
        if (!(e instanceof MalformedBinary)) throw e;
        counts.unscannable++;
        if (!throws(() => cutPiece(binary, references, { functions: [index] }), MalformedBinary)) {
          failures.push(`${where} func ${index}: unscannable, yet cut`);
        }
        continue;
      }
      if (refs.usesSegments) {
        counts.usingSegments++;
        if (!throws(() => cutPiece(binary, references, { functions: [index] }), RangeError)) {
          failures.push(`${where} func ${index}: uses segments, yet cut`);
        }
        continue;
      }
      cuttable.push(index);
      const piece = cutPiece(binary, references, { functions: [index] });
      const refusal = v8Refusal(piece.bytes);
      if (refusal !== null) failures.push(`${where} func ${index}: ${refusal}`);
      else counts.singlePieces++;
      for (const imp of piece.imports) kinds.add(imp.identity ? 'identity' : imp.ref.kind);
      for (const h of piece.hostImports) kinds.add(h.host);
    }
    if (cuttable.length === 0) continue;
    const whole = cutPiece(binary, references, { functions: cuttable });
    const refusal = v8Refusal(whole.bytes) ?? describedAsEmitted(whole);
    if (refusal !== null) failures.push(`${where} all ${cuttable.length} functions: ${refusal}`);
    else counts.wholePieces++;
  }
  tt.comment(JSON.stringify(counts));
  tt.same(failures, [], 'every piece validates and is described as emitted');
  tt.ok(counts.modules > 1000, `${counts.modules} modules V8 accepts`);
  tt.ok(counts.singlePieces > 4000, `${counts.singlePieces} one-function pieces validated`);
  tt.ok(counts.wholePieces > 800, `${counts.wholePieces} whole-module pieces validated`);
  tt.ok(counts.usingSegments > 0, `${counts.usingSegments} functions using segments refused`);
  // The scripts exercise every kind of import a piece can have.
  tt.same([...kinds].sort(), ['function', 'global', 'identity', 'memory', 'memoryGrow', 'table', 'tableGrow'].sort());
});

function throws(fn: () => unknown, type: new (...args: never[]) => Error): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    return e instanceof type;
  }
}
