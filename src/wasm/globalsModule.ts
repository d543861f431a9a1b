// The globals module "G" of a split module (ORC's globals module): the module minus its function
// bodies. It imports everything the original imports, defines its memories, tables, globals and
// data and element segments, keeps the bodies it is asked to keep (functions that use segment
// instructions must live beside the segments), and imports every other function it refers to.
//
// G is written directly in the binary format from the binary of record rather than rebuilt
// through binaryen: segments, initializers and limits are copied byte for byte (binaryen.js
// cannot express null element items or read a data segment's non-constant offset), and the only
// thing that changes is the function index space, which is renumbered where indices occur.

import { ByteWriter } from './bytes.ts';
import { scanConstExpr, type FunctionIndexSite } from './codeScan.ts';
import type { CompiledPiece, PieceExport, PieceImport } from './compiledPiece.ts';
import { displayName } from './displayName.ts';
import { chooseFunctionModule, entityName } from './linkNames.ts';
import { encodeLimits } from './memoryLimits.ts';
import { SectionId, type ConstExpr, type ModuleBinary } from './moduleBinary.ts';
import type { EntityRef } from './moduleInfo.ts';
import type { WasmModule } from './WasmModule.ts';
import type { ExternKind } from './types.ts';

export interface GlobalsModuleOptions {
  /** Defined functions whose bodies G keeps (and exports as "function:<index>"). */
  readonly keepFunctions: readonly number[];
}

const EXPORT_KIND_BYTE: Record<ExternKind, number> = { function: 0, table: 1, memory: 2, global: 3 };
const DECLARATIVE_FUNCREF_SEGMENT = 3;

/** Copies bytes [start, end) with each function index site rewritten through `map`. */
function writeRelocated(
  w: ByteWriter,
  bytes: Uint8Array,
  start: number,
  end: number,
  sites: readonly FunctionIndexSite[],
  map: (index: number) => number,
): void {
  let pos = start;
  for (const site of sites) {
    if (site.offset < start || site.offset >= end) continue;
    w.bytes(bytes.subarray(pos, site.offset)).u32(map(site.index));
    pos = site.offset + site.length;
  }
  w.bytes(bytes.subarray(pos, end));
}

function constExprFunctions(bytes: Uint8Array, e: ConstExpr): readonly number[] {
  return scanConstExpr(bytes, e.start, e.end).functions;
}

function writeConstExpr(w: ByteWriter, bytes: Uint8Array, e: ConstExpr, map: (index: number) => number): void {
  writeRelocated(w, bytes, e.start, e.end, scanConstExpr(bytes, e.start, e.end).functionSites, map);
}

/** Every function G's declarations (not its kept bodies) refer to. */
function functionsReferencedByDeclarations(binary: ModuleBinary): Set<number> {
  const { bytes } = binary;
  const out = new Set<number>();
  const add = (list: readonly number[]) => list.forEach((i) => out.add(i));
  for (const g of binary.globals) if (g.init) add(constExprFunctions(bytes, g.init));
  for (const t of binary.tables) if (t.init) add(constExprFunctions(bytes, t.init));
  for (const seg of binary.elements) {
    if (seg.mode === 'declarative') continue;
    if (seg.funcIndices) add(seg.funcIndices);
    for (const e of seg.exprs ?? []) add(constExprFunctions(bytes, e));
  }
  return out;
}

function sectionPayload(binary: ModuleBinary, id: number): Uint8Array | null {
  const s = binary.sections.find((x) => x.id === id);
  return s ? binary.bytes.subarray(s.payloadStart, s.end) : null;
}

export function buildGlobalsModule(m: WasmModule, opts: GlobalsModuleOptions): CompiledPiece {
  const { binary } = m;
  const functionModule = chooseFunctionModule(binary.imports.map((i) => i.module));
  const { bytes } = binary;
  const totalFunctions = binary.funcTypes.length;

  const kept = [...new Set(opts.keepFunctions)].sort((a, b) => a - b);
  for (const i of kept) {
    if (!Number.isInteger(i) || i < binary.importedFunctions || i >= totalFunctions) {
      throw new RangeError(`keepFunctions: ${i} is not a function the module defines`);
    }
  }
  const keptSet = new Set(kept);
  const keptRefs = kept.map((i) => m.references(i));

  const needed = functionsReferencedByDeclarations(binary);
  const declared = new Set<number>();
  for (const refs of keptRefs) {
    refs.functions.forEach((f) => needed.add(f));
    refs.refFuncs.forEach((f) => declared.add(f));
  }
  const functionImports = [...needed].filter((i) => i >= binary.importedFunctions && !keptSet.has(i)).sort((a, b) => a - b);

  // G's function index space: the original imports, then the imported bodies, then the kept ones.
  const remap = new Int32Array(totalFunctions).fill(-1);
  for (let i = 0; i < binary.importedFunctions; i++) remap[i] = i;
  functionImports.forEach((f, k) => (remap[f] = binary.importedFunctions + k));
  kept.forEach((f, k) => (remap[f] = binary.importedFunctions + functionImports.length + k));
  const map = (index: number): number => {
    const r = remap[index];
    if (r === undefined || r < 0) throw new Error(`function ${index} has no place in the globals module`);
    return r;
  };

  const out = new ByteWriter(bytes.length + 64);
  out.bytes(bytes.subarray(0, 8)); // magic and version

  const types = sectionPayload(binary, SectionId.type);
  if (types) out.section(SectionId.type, types);

  const imports: PieceImport[] = [];
  {
    const w = new ByteWriter();
    w.u32(binary.imports.length + functionImports.length);
    for (const imp of binary.imports) {
      w.bytes(imp.raw);
      imports.push({ module: imp.module, name: imp.name, ref: { kind: imp.kind, index: imp.index } });
    }
    for (const f of functionImports) {
      w.name(functionModule).name(String(f)).u8(0x00).u32(binary.funcTypes[f]!);
      imports.push({ module: functionModule, name: String(f), ref: { kind: 'function', index: f } });
    }
    if (imports.length > 0) out.section(SectionId.import, w.finish());
  }

  if (kept.length > 0) {
    const w = new ByteWriter();
    w.u32(kept.length);
    for (const f of kept) w.u32(binary.funcTypes[f]!);
    out.section(SectionId.function, w.finish());
  }

  const definedTables = binary.tables.slice(binary.importedTables);
  if (definedTables.length > 0) {
    const w = new ByteWriter();
    w.u32(definedTables.length);
    for (const t of definedTables) {
      if (t.init) {
        w.u8(0x40).u8(0x00).bytes(t.rawType);
        writeConstExpr(w, bytes, t.init, map);
      } else {
        w.bytes(t.rawType);
      }
    }
    out.section(SectionId.table, w.finish());
  }

  const definedMemories = binary.memories.slice(binary.importedMemories);
  if (definedMemories.length > 0) {
    const w = new ByteWriter();
    w.u32(definedMemories.length);
    for (const mem of definedMemories) encodeLimits(w, mem);
    out.section(SectionId.memory, w.finish());
  }

  const definedGlobals = binary.globals.slice(binary.importedGlobals);
  if (definedGlobals.length > 0) {
    const w = new ByteWriter();
    w.u32(definedGlobals.length);
    for (const g of definedGlobals) {
      w.bytes(g.rawType);
      if (!g.init) throw new Error('a defined global without an initializer');
      writeConstExpr(w, bytes, g.init, map);
    }
    out.section(SectionId.global, w.finish());
  }

  const exports: PieceExport[] = [];
  {
    const refs: EntityRef[] = [
      ...binary.memories.map((_, index) => ({ kind: 'memory' as const, index })),
      ...binary.tables.map((_, index) => ({ kind: 'table' as const, index })),
      ...binary.globals.map((_, index) => ({ kind: 'global' as const, index })),
      ...kept.map((index) => ({ kind: 'function' as const, index })),
    ];
    if (refs.length > 0) {
      const w = new ByteWriter();
      w.u32(refs.length);
      for (const ref of refs) {
        const name = entityName(ref);
        w.name(name).u8(EXPORT_KIND_BYTE[ref.kind]).u32(ref.kind === 'function' ? map(ref.index) : ref.index);
        exports.push({ name, ref });
      }
      out.section(SectionId.export, w.finish());
    }
  }

  // Element segments keep their indices (table.init / elem.drop in kept bodies name them).
  // Declarative ones are emptied, so G imports no function just because it was declared, and
  // one declarative segment at the end declares what the kept bodies take by ref.func.
  const extraDeclaration = [...declared].sort((a, b) => a - b);
  if (binary.elements.length > 0 || extraDeclaration.length > 0) {
    const w = new ByteWriter();
    w.u32(binary.elements.length + (extraDeclaration.length > 0 ? 1 : 0));
    for (const seg of binary.elements) {
      w.u32(seg.flags);
      if (seg.mode === 'active' && (seg.flags & 2) !== 0) w.u32(seg.table);
      if (seg.offset) writeConstExpr(w, bytes, seg.offset, map);
      if (seg.rawKind) w.bytes(seg.rawKind);
      if (seg.mode === 'declarative') {
        w.u32(0);
      } else if (seg.funcIndices) {
        w.u32(seg.funcIndices.length);
        for (const f of seg.funcIndices) w.u32(map(f));
      } else {
        const exprs = seg.exprs ?? [];
        w.u32(exprs.length);
        for (const e of exprs) writeConstExpr(w, bytes, e, map);
      }
    }
    if (extraDeclaration.length > 0) {
      w.u32(DECLARATIVE_FUNCREF_SEGMENT).u8(0x00).u32(extraDeclaration.length);
      for (const f of extraDeclaration) w.u32(map(f));
    }
    out.section(SectionId.element, w.finish());
  }

  if (binary.dataCount !== null) out.section(SectionId.dataCount, new ByteWriter(5).u32(binary.dataCount).finish());

  if (kept.length > 0) {
    const w = new ByteWriter();
    w.u32(kept.length);
    kept.forEach((f, k) => {
      const entry = binary.code[f - binary.importedFunctions]!;
      const body = new ByteWriter(entry.end - entry.start + 8);
      writeRelocated(body, bytes, entry.start, entry.end, keptRefs[k]!.functionSites, map);
      const encoded = body.finish();
      w.u32(encoded.length).bytes(encoded);
    });
    out.section(SectionId.code, w.finish());
  }

  const data = sectionPayload(binary, SectionId.data);
  if (data) out.section(SectionId.data, data);

  out.bytes(nameSection([...Array(binary.importedFunctions).keys(), ...functionImports, ...kept].map((f) => displayName(binary, f))));

  return {
    bytes: out.finish(),
    imports,
    hostImports: [],
    exports,
    ...(binary.start !== null ? { start: { kind: 'function' as const, index: binary.start } } : {}),
  };
}

/** A "name" custom section giving each function of G (in G's index order) its original name. */
function nameSection(names: readonly string[]): Uint8Array {
  const fnNames = new ByteWriter();
  fnNames.u32(names.length);
  names.forEach((name, i) => fnNames.u32(i).name(name));
  const sub = fnNames.finish();
  const payload = new ByteWriter().name('name').u8(1).u32(sub.length).bytes(sub).finish();
  return new ByteWriter(payload.length + 6).section(SectionId.custom, payload).finish();
}
