// An eager module as one piece (ORC's addIRModule): the binary of record, fitted to the
// session (its memory imported from the executor, every memory.grow and table.grow asking the
// budget hooks first, its unexported tables exported so the executor counts them), with the
// module's own imports, exports and start section otherwise as they are, so linking checks what
// direct instantiation would and the start function runs at instantiation.
// Optionally optimized as a whole by binaryen afterwards: describeOptimizedWhole reads back
// what binaryen emitted.

import { ByteWriter } from './bytes.ts';
import type { CompiledPiece, HostImport, PieceImport } from './compiledPiece.ts';
import { displayName } from './displayName.ts';
import { decodeModuleBinary, SectionId } from './moduleBinary.ts';

const NAME_MODULE = 0;
const NAME_FUNCTIONS = 1;
import type { EntityRef } from './moduleInfo.ts';
import { prepareForSession } from './sessionPiece.ts';
import { definedTableElements } from './tableLimits.ts';
import type { ExternKind } from './types.ts';
import type { WasmModule } from './WasmModule.ts';

export function wholeModulePiece(m: WasmModule, moduleName?: string): CompiledPiece {
  const { info } = m;
  return prepareForSession({
    bytes: withDisplayNames(m, moduleName),
    imports: info.imports.map(({ module, name, kind, index }) => ({ module, name, ref: { kind, index } })),
    hostImports: [],
    exports: info.exports.map(({ name, kind, index }) => ({ name, ref: { kind, index } })),
  });
}

/**
 * The module's bytes with its name section replaced by one that names every function as a trap
 * stack must (API v2: the name section's name, else the first export name, else
 * `func[<index>]`; displayName.ts), and the module as `moduleName`.
 */
function withDisplayNames(m: WasmModule, moduleName: string | undefined): Uint8Array {
  const { binary } = m;
  const out = new ByteWriter(binary.bytes.length + 32 * binary.funcTypes.length + 64);
  out.bytes(binary.bytes.subarray(0, 8));
  for (const s of binary.sections) {
    if (s.id === SectionId.custom && s.name === 'name') continue;
    out.bytes(binary.bytes.subarray(s.headerStart, s.end));
  }
  const payload = new ByteWriter().name('name');
  if (moduleName !== undefined) {
    const sub = new ByteWriter().name(moduleName).finish();
    payload.u8(NAME_MODULE).u32(sub.length).bytes(sub);
  }
  const fns = new ByteWriter(32 * binary.funcTypes.length + 5).u32(binary.funcTypes.length);
  for (let i = 0; i < binary.funcTypes.length; i++) fns.u32(i).name(displayName(binary, i));
  const sub = fns.finish();
  payload.u8(NAME_FUNCTIONS).u32(sub.length).bytes(sub);
  out.section(SectionId.custom, payload.finish());
  return out.finish();
}

/**
 * The piece binaryen made of `baseline` (a whole module, optimized with its imports kept):
 * imports matched to the baseline's in order per (module, name, kind), exports by name (the
 * baseline's: the module's own, and the tables prepareForSession exported).
 */
export function describeOptimizedWhole(baseline: CompiledPiece, bytes: Uint8Array): CompiledPiece {
  const exports = new Map(baseline.exports.map((e) => [e.name, e.ref] as const));
  return describeAgainst(baseline, bytes, (name) => {
    const ref = exports.get(name);
    if (!ref) throw new Error(`the optimized module exports ${name}, which the original does not`);
    return ref;
  });
}

/**
 * The piece binaryen made of a cut piece (`cut`): its imports are a subset of the cut's (the
 * optimizer may drop unused ones), matched by module and name, identity marks kept; exports by
 * name.
 */
export function describeOptimizedPiece(cut: CompiledPiece, bytes: Uint8Array): CompiledPiece {
  const exports = new Map(cut.exports.map((e) => [e.name, e.ref] as const));
  return describeAgainst(cut, bytes, (name) => {
    const ref = exports.get(name);
    if (!ref) throw new Error(`the optimized piece exports ${name}, which the cut piece does not`);
    return ref;
  });
}

function describeAgainst(original: CompiledPiece, bytes: Uint8Array, exportRef: (name: string) => EntityRef): CompiledPiece {
  const pending = new Map<string, PieceImport[]>();
  for (const imp of original.imports) {
    const key = importKey(imp.module, imp.name, imp.ref.kind);
    let list = pending.get(key);
    if (!list) pending.set(key, (list = []));
    list.push(imp);
  }
  const hosts = new Map(original.hostImports.map((h) => [importKey(h.module, h.name, 'function'), h] as const));
  const binary = decodeModuleBinary(bytes);
  const imports: PieceImport[] = [];
  const hostImports: HostImport[] = [];
  for (const { module, name, kind } of binary.imports) {
    const key = importKey(module, name, kind);
    const host = hosts.get(key);
    if (host) {
      hostImports.push(host);
      continue;
    }
    const imp = pending.get(key)?.shift();
    if (!imp) throw new Error(`the optimized module imports ${kind} ${module}.${name}, which the original does not`);
    imports.push(imp);
  }
  const elements = definedTableElements(binary);
  return {
    bytes,
    imports,
    hostImports,
    exports: binary.exports.map(({ name }) => ({ name, ref: exportRef(name) })),
    ...(elements > 0 ? { tableElements: elements } : {}),
  };
}

function importKey(module: string, name: string, kind: ExternKind): string {
  return `${kind}\0${module}\0${name}`;
}
