// The session memory budget's hook in compiled code. Every `memory.grow` of a piece the JIT
// compiles becomes `call $hook` + `memory.grow`: the hook, a host function the executor
// provides, sees the requested delta and returns it unchanged when the session's memories can
// take that many more pages, or -1 (0xffffffff pages, more than any 32-bit memory can grow by)
// when they cannot. memory.grow itself still runs in wasm, on the piece's own memory, so its
// result keeps exact wasm semantics: the old size on success, -1 past the memory's maximum, on
// an allocation failure, or past the session budget. The hook needs no memory identity: the
// executor sums the sizes of the session's memories when asked, and the grow happens right
// after the hook returns.
//
// Why a rewrite of the emitted bytes rather than of binaryen IR: binaryen.js has no getters for
// the operands of table.fill, table.copy and table.init, so a walk over its IR can miss a
// memory.grow nested there; and binaryen's own instrument-memory pass adds functions with fixed
// names (load_ptr, memory_grow_pre, ...) that can collide with a user's function names (fatal
// in binaryen) and imports them from "env", where user imports live. Rewriting the final bytes
// works the same for every kind of piece (globals module, extracted bodies, whole module,
// re-optimized code) after binaryen is done with it, so no optimizer pass can move or drop it.
//
// The hook is a function import appended after the piece's own imports, so every defined
// function's index moves up by one and every place a function index occurs is renumbered:
// call, return_call and ref.func in bodies, constant expressions of globals, tables and element
// segments, exports, the start function and the name section's function-indexed maps.

import { ByteReader, ByteWriter, MalformedBinary } from './bytes.ts';
import { scanBody, scanConstExpr, skipLocals, type FunctionIndexSite } from './codeScan.ts';
import type { EntityRef } from './moduleInfo.ts';
import { decodeModuleBinary, SectionId, type ConstExpr, type ModuleBinary } from './moduleBinary.ts';
import type { FuncType } from './types.ts';

/** The hook's signature: the requested delta in, the delta to grow by (or -1) out. */
export const MEMORY_GROW_HOOK_TYPE: FuncType = { params: ['i32'], results: ['i32'] };

/**
 * How a piece's import of the hook is described among its imports: not an entity of the
 * original module (indices there are never negative) but one the executor provides at a fixed
 * address, which every WasmModuleRecord knows.
 */
export const MEMORY_GROW_HOOK: EntityRef = { kind: 'function', index: -1 };

const CALL = 0x10;

/** Sections in the order the binary format requires them (data count sits before code). */
function sectionRank(id: number): number {
  return id === SectionId.dataCount ? SectionId.element + 0.5 : id;
}

interface Edit {
  readonly offset: number;
  /** Bytes of the original replaced by `insert` (0: a pure insertion before `offset`). */
  readonly length: number;
  readonly insert: Uint8Array;
}

function writeEdited(w: ByteWriter, bytes: Uint8Array, start: number, end: number, edits: readonly Edit[]): void {
  let pos = start;
  for (const e of edits) {
    w.bytes(bytes.subarray(pos, e.offset)).bytes(e.insert);
    pos = e.offset + e.length;
  }
  w.bytes(bytes.subarray(pos, end));
}

function relocations(sites: readonly FunctionIndexSite[], map: (index: number) => number): Edit[] {
  return sites.map((s) => ({ offset: s.offset, length: s.length, insert: new ByteWriter(5).u32(map(s.index)).finish() }));
}

function writeConstExpr(w: ByteWriter, bytes: Uint8Array, e: ConstExpr, map: (index: number) => number): void {
  writeEdited(w, bytes, e.start, e.end, relocations(scanConstExpr(bytes, e.start, e.end).functionSites, map));
}

/** A vector section's payload with `extra` appended and its count raised by one. */
function appendToVector(payload: Uint8Array | null, extra: Uint8Array): Uint8Array {
  if (payload === null) return new ByteWriter(extra.length + 1).u32(1).bytes(extra).finish();
  const r = new ByteReader(payload);
  const count = r.u32();
  return new ByteWriter(payload.length + extra.length + 5)
    .u32(count + 1)
    .bytes(payload.subarray(r.pos))
    .bytes(extra)
    .finish();
}

/**
 * Returns `bytes` with every memory.grow preceded by a call to a new function import
 * `module`.`name` of type MEMORY_GROW_HOOK_TYPE, or null when the module has no memory.grow.
 * The caller picks a module name none of the module's own imports uses.
 */
export function instrumentMemoryGrow(bytes: Uint8Array, module: string, name: string): Uint8Array | null {
  const binary = decodeModuleBinary(bytes);
  if (binary.memories.length === 0) return null; // memory.grow does not validate without a memory
  const bodies = binary.code.map((entry) => {
    const exprStart = skipLocals(bytes, entry.start, entry.end);
    return { entry, exprStart, refs: scanBody(bytes, exprStart, entry.end) };
  });
  if (bodies.every((b) => b.refs.memoryGrowSites.length === 0)) return null;

  const hook = binary.importedFunctions;
  const map = (index: number): number => (index < hook ? index : index + 1);
  const existingType = binary.types.findIndex(
    (t) => t.params.length === 1 && t.params[0] === 'i32' && t.results.length === 1 && t.results[0] === 'i32',
  );
  const hookType = existingType >= 0 ? existingType : binary.types.length;
  const hookCall = new ByteWriter(6).u8(CALL).u32(hook).finish();
  const hookTypeBytes = new Uint8Array([0x60, 1, 0x7f, 1, 0x7f]);
  const hookImport = new ByteWriter(module.length + name.length + 16).name(module).name(name).u8(0x00).u32(hookType).finish();

  const out = new ByteWriter(bytes.length + 64 + 6 * bodies.reduce((n, b) => n + b.refs.memoryGrowSites.length, 0));
  out.bytes(bytes.subarray(0, 8));
  let typesWritten = existingType >= 0;
  let importWritten = false;
  // A module without a type or import section gets one just before the first later section.
  const before = (id: number): void => {
    if (id === SectionId.custom) return;
    if (!typesWritten && sectionRank(id) > SectionId.type) {
      out.section(SectionId.type, appendToVector(null, hookTypeBytes));
      typesWritten = true;
    }
    if (!importWritten && sectionRank(id) > SectionId.import) {
      out.section(SectionId.import, appendToVector(null, hookImport));
      importWritten = true;
    }
  };

  for (const s of binary.sections) {
    before(s.id);
    const payload = bytes.subarray(s.payloadStart, s.end);
    switch (s.id) {
      case SectionId.type:
        out.section(SectionId.type, existingType >= 0 ? payload : appendToVector(payload, hookTypeBytes));
        typesWritten = true;
        break;
      case SectionId.import:
        out.section(SectionId.import, appendToVector(payload, hookImport));
        importWritten = true;
        break;
      case SectionId.table:
        out.section(SectionId.table, tableSection(binary, map));
        break;
      case SectionId.global:
        out.section(SectionId.global, globalSection(binary, map));
        break;
      case SectionId.export:
        out.section(SectionId.export, exportSection(binary, map));
        break;
      case SectionId.start:
        out.section(SectionId.start, new ByteWriter(5).u32(map(binary.start as number)).finish());
        break;
      case SectionId.element:
        out.section(SectionId.element, elementSection(binary, map));
        break;
      case SectionId.code: {
        const w = new ByteWriter(payload.length + 16);
        w.u32(bodies.length);
        for (const { entry, exprStart, refs } of bodies) {
          const edits: Edit[] = [
            ...relocations(refs.functionSites, map),
            ...refs.memoryGrowSites.map((offset) => ({ offset, length: 0, insert: hookCall })),
          ].sort((a, b) => a.offset - b.offset);
          const body = new ByteWriter(entry.end - entry.start + 8 * edits.length);
          body.bytes(bytes.subarray(entry.start, exprStart));
          writeEdited(body, bytes, exprStart, entry.end, edits);
          const encoded = body.finish();
          w.u32(encoded.length).bytes(encoded);
        }
        out.section(SectionId.code, w.finish());
        break;
      }
      case SectionId.custom: {
        if (s.name !== 'name') {
          out.bytes(bytes.subarray(s.headerStart, s.end));
          break;
        }
        // Names are a debugging aid: a name section this cannot renumber is left out.
        const names = renumberNameSection(bytes, s.payloadStart, s.end, map);
        if (names !== null) out.section(SectionId.custom, names);
        break;
      }
      default:
        out.bytes(bytes.subarray(s.headerStart, s.end));
    }
  }
  return out.finish();
}

function tableSection(binary: ModuleBinary, map: (index: number) => number): Uint8Array {
  const defined = binary.tables.slice(binary.importedTables);
  const w = new ByteWriter();
  w.u32(defined.length);
  for (const t of defined) {
    if (t.init) {
      w.u8(0x40).u8(0x00).bytes(t.rawType);
      writeConstExpr(w, binary.bytes, t.init, map);
    } else {
      w.bytes(t.rawType);
    }
  }
  return w.finish();
}

function globalSection(binary: ModuleBinary, map: (index: number) => number): Uint8Array {
  const defined = binary.globals.slice(binary.importedGlobals);
  const w = new ByteWriter();
  w.u32(defined.length);
  for (const g of defined) {
    if (!g.init) throw new MalformedBinary('a defined global without an initializer');
    w.bytes(g.rawType);
    writeConstExpr(w, binary.bytes, g.init, map);
  }
  return w.finish();
}

const EXPORT_KIND_BYTE = { function: 0, table: 1, memory: 2, global: 3 } as const;

function exportSection(binary: ModuleBinary, map: (index: number) => number): Uint8Array {
  const w = new ByteWriter();
  w.u32(binary.exports.length);
  for (const e of binary.exports) w.name(e.name).u8(EXPORT_KIND_BYTE[e.kind]).u32(e.kind === 'function' ? map(e.index) : e.index);
  return w.finish();
}

function elementSection(binary: ModuleBinary, map: (index: number) => number): Uint8Array {
  const w = new ByteWriter();
  w.u32(binary.elements.length);
  for (const seg of binary.elements) {
    w.u32(seg.flags);
    if (seg.mode === 'active' && (seg.flags & 2) !== 0) w.u32(seg.table);
    if (seg.offset) writeConstExpr(w, binary.bytes, seg.offset, map);
    if (seg.rawKind) w.bytes(seg.rawKind);
    if (seg.funcIndices) {
      w.u32(seg.funcIndices.length);
      for (const f of seg.funcIndices) w.u32(map(f));
    } else {
      const exprs = seg.exprs ?? [];
      w.u32(exprs.length);
      for (const e of exprs) writeConstExpr(w, binary.bytes, e, map);
    }
  }
  return w.finish();
}

/** Subsections of the name section keyed by function index: function, local and label names. */
const FUNCTION_NAMES = 1;
const INDIRECT_BY_FUNCTION: ReadonlySet<number> = new Set([2, 3]);

/** The name section's payload (its name included) with function indices renumbered, or null if unreadable. */
function renumberNameSection(bytes: Uint8Array, start: number, end: number, map: (index: number) => number): Uint8Array | null {
  try {
    const r = new ByteReader(bytes, start, end);
    const w = new ByteWriter(end - start + 16);
    w.name(r.name());
    while (!r.atEnd()) {
      const id = r.u8();
      const size = r.u32();
      const subEnd = r.pos + size;
      if (subEnd > end) r.fail('name subsection past the end');
      if (id !== FUNCTION_NAMES && !INDIRECT_BY_FUNCTION.has(id)) {
        w.u8(id).u32(size).bytes(bytes.subarray(r.pos, subEnd));
        r.pos = subEnd;
        continue;
      }
      const sub = new ByteReader(bytes, r.pos, subEnd);
      const content = new ByteWriter(size + 8);
      const n = sub.u32();
      content.u32(n);
      for (let i = 0; i < n; i++) {
        content.u32(map(sub.u32()));
        if (id === FUNCTION_NAMES) {
          content.name(sub.name());
          continue;
        }
        const innerStart = sub.pos;
        for (let k = sub.u32(); k > 0; k--) {
          sub.u32();
          sub.name();
        }
        content.bytes(bytes.subarray(innerStart, sub.pos));
      }
      if (sub.pos !== subEnd) sub.fail('name subsection has trailing bytes');
      const encoded = content.finish();
      w.u8(id).u32(encoded.length).bytes(encoded);
      r.pos = subEnd;
    }
    return w.finish();
  } catch (e) {
    if (e instanceof MalformedBinary) return null;
    throw e;
  }
}
