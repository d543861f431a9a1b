// The rewrites the session's memory budget needs in every compiled piece, done in one pass
// over its bytes (rewriteForSession):
//
// - A defined memory becomes an import of the same limits, so the executor creates (and
//   counts) it before any code of the module runs.
// - Every `memory.grow` becomes `call $hook` + `memory.grow`. The hook, a host function the
//   executor provides, sees the requested delta and returns it unchanged when the session's
//   memories can take that many more pages, or -1 (0xffffffff pages, more than any 32-bit
//   memory can grow by) when they cannot. memory.grow itself still runs in wasm, on the piece's
//   own memory, so its result keeps exact wasm semantics: the old size on success, -1 past the
//   memory's maximum, on an allocation failure, or past the session budget. The hook needs no
//   memory identity: the executor sums the sizes of the session's memories when asked, and the
//   grow happens right after the hook returns.
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
import { scanBody, scanConstExpr, skipLocals, type CodeReferences, type FunctionIndexSite } from './codeScan.ts';
import { encodeLimits } from './memoryLimits.ts';
import { decodeModuleBinary, SectionId, type CodeEntry, type ConstExpr, type ModuleBinary } from './moduleBinary.ts';
import type { FuncType } from './types.ts';

/** The hook's signature: the requested delta in, the delta to grow by (or -1) out. */
export const MEMORY_GROW_HOOK_TYPE: FuncType = { params: ['i32'], results: ['i32'] };


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

/** A vector section's payload with `extras` appended and its count raised to match. */
function appendToVector(payload: Uint8Array | null, extras: readonly Uint8Array[]): Uint8Array {
  const size = extras.reduce((n, e) => n + e.length, 0);
  const w = new ByteWriter((payload?.length ?? 0) + size + 5);
  if (payload === null) {
    w.u32(extras.length);
  } else {
    const r = new ByteReader(payload);
    w.u32(r.u32() + extras.length).bytes(payload.subarray(r.pos));
  }
  for (const e of extras) w.bytes(e);
  return w.finish();
}

/** What rewriteForSession does; both imports come from `module`, which the binary must not import from. */
export interface SessionRewriteOptions {
  readonly module: string;
  /** Import name of the memory.grow hook. */
  readonly hook: string;
  /** When set, a defined memory becomes an import of this name (see below). */
  readonly memory?: string;
}

export interface SessionRewrite {
  readonly bytes: Uint8Array;
  /** The memory.grow hook was added (the module has a memory.grow). */
  readonly hooked: boolean;
  /** The defined memory became an import. */
  readonly memoryImported: boolean;
}

/**
 * In one pass over the binary: every memory.grow preceded by a call to a new function import
 * (`module`.`hook`, of type MEMORY_GROW_HOOK_TYPE), and, with `memory`, the module's defined
 * memory turned into an import of the same limits. Returns null when neither applies.
 *
 * The memory import is how the executor creates every memory of the session itself, counting
 * it before any code of the module runs; the memory's index does not change (a module has at
 * most one memory), and active data segments still initialize it at instantiation, as they
 * would a defined memory.
 */
export function rewriteForSession(bytes: Uint8Array, options: SessionRewriteOptions): SessionRewrite | null {
  const binary = decodeModuleBinary(bytes);
  if (binary.memories.length === 0) return null; // memory.grow does not validate without a memory
  if (binary.memories.length > 1) throw new RangeError('multiple memories are not supported');
  const definedMemory = options.memory !== undefined && binary.importedMemories === 0 ? binary.memories[0] : undefined;

  // Only a body holding a 0x40 byte can hold a memory.grow; if none does, no body needs a scan.
  const scans = binary.code.map((entry) => (bytes.subarray(entry.start, entry.end).includes(0x40) ? scanCode(bytes, entry) : undefined));
  const hooked = scans.some((b) => b !== undefined && b.refs.memoryGrowSites.length > 0);
  if (!hooked && definedMemory === undefined) return null;

  const extraImports: Uint8Array[] = [];
  if (definedMemory !== undefined && options.memory !== undefined) {
    const entry = new ByteWriter(options.module.length + options.memory.length + 16).name(options.module).name(options.memory).u8(0x02);
    encodeLimits(entry, definedMemory);
    extraImports.push(entry.finish());
  }
  // The hook's index once appended after the original imports; every defined function moves up.
  const hook = binary.importedFunctions;
  const map = hooked ? (index: number): number => (index < hook ? index : index + 1) : (index: number): number => index;
  const existingType = binary.types.findIndex(
    (t) => t.params.length === 1 && t.params[0] === 'i32' && t.results.length === 1 && t.results[0] === 'i32',
  );
  const hookTypeBytes = new Uint8Array([0x60, 1, 0x7f, 1, 0x7f]);
  if (hooked) {
    const hookType = existingType >= 0 ? existingType : binary.types.length;
    extraImports.push(new ByteWriter(options.module.length + options.hook.length + 16).name(options.module).name(options.hook).u8(0x00).u32(hookType).finish());
  }
  const hookCall = new ByteWriter(6).u8(CALL).u32(hook).finish();

  const out = new ByteWriter(bytes.length + 64 + (hooked ? bytes.length >> 6 : 0));
  out.bytes(bytes.subarray(0, 8));
  let typesWritten = !hooked || existingType >= 0;
  let importWritten = false;
  // A module without a type or import section gets one just before the first later section.
  const before = (id: number): void => {
    if (id === SectionId.custom) return;
    if (!typesWritten && sectionRank(id) > SectionId.type) {
      out.section(SectionId.type, appendToVector(null, [hookTypeBytes]));
      typesWritten = true;
    }
    if (!importWritten && sectionRank(id) > SectionId.import) {
      out.section(SectionId.import, appendToVector(null, extraImports));
      importWritten = true;
    }
  };

  for (const s of binary.sections) {
    before(s.id);
    const payload = bytes.subarray(s.payloadStart, s.end);
    const raw = (): void => void out.bytes(bytes.subarray(s.headerStart, s.end));
    switch (s.id) {
      case SectionId.type:
        if (typesWritten) raw();
        else out.section(SectionId.type, appendToVector(payload, [hookTypeBytes]));
        typesWritten = true;
        break;
      case SectionId.import:
        out.section(SectionId.import, appendToVector(payload, extraImports));
        importWritten = true;
        break;
      case SectionId.memory:
        if (definedMemory === undefined) raw(); // else: the memory is imported now
        break;
      case SectionId.table:
        if (hooked) out.section(SectionId.table, tableSection(binary, map));
        else raw();
        break;
      case SectionId.global:
        if (hooked) out.section(SectionId.global, globalSection(binary, map));
        else raw();
        break;
      case SectionId.export:
        if (hooked) out.section(SectionId.export, exportSection(payload, map));
        else raw();
        break;
      case SectionId.start:
        if (hooked) out.section(SectionId.start, new ByteWriter(5).u32(map(binary.start as number)).finish());
        else raw();
        break;
      case SectionId.element:
        if (hooked) out.section(SectionId.element, elementSection(binary, map));
        else raw();
        break;
      case SectionId.code: {
        if (!hooked) {
          raw();
          break;
        }
        const w = new ByteWriter(payload.length + (payload.length >> 6) + 16);
        w.u32(binary.code.length);
        binary.code.forEach((entry, i) => {
          const { exprStart, refs } = scans[i] ?? scanCode(bytes, entry);
          const edits: Edit[] = [
            ...relocations(refs.functionSites, map),
            ...refs.memoryGrowSites.map((offset) => ({ offset, length: 0, insert: hookCall })),
          ].sort((a, b) => a.offset - b.offset);
          if (edits.length === 0) {
            w.u32(entry.end - entry.start).bytes(bytes.subarray(entry.start, entry.end));
            return;
          }
          const body = new ByteWriter(entry.end - entry.start + 6 * edits.length);
          body.bytes(bytes.subarray(entry.start, exprStart));
          writeEdited(body, bytes, exprStart, entry.end, edits);
          const encoded = body.finish();
          w.u32(encoded.length).bytes(encoded);
        });
        out.section(SectionId.code, w.finish());
        break;
      }
      case SectionId.custom: {
        if (!hooked || s.name !== 'name') {
          raw();
          break;
        }
        // Names are a debugging aid: a name section this cannot renumber is left out.
        const names = renumberNameSection(bytes, s.payloadStart, s.end, map);
        if (names !== null) out.section(SectionId.custom, names);
        break;
      }
      default:
        raw();
    }
  }
  before(0xff); // nothing followed them: the sections still missing go at the end
  return { bytes: out.finish(), hooked, memoryImported: definedMemory !== undefined };
}

/**
 * `bytes` with every memory.grow preceded by a call to a new function import `module`.`name`
 * of type MEMORY_GROW_HOOK_TYPE, or null when the module has no memory.grow: the rewrite any
 * compiled code needs to stay within the session's memory budget (it leaves the module's own
 * memory as it is).
 */
export function instrumentMemoryGrow(bytes: Uint8Array, module: string, name: string): Uint8Array | null {
  const r = rewriteForSession(bytes, { module, hook: name });
  return r?.bytes ?? null;
}

function scanCode(bytes: Uint8Array, entry: CodeEntry): { exprStart: number; refs: CodeReferences } {
  const exprStart = skipLocals(bytes, entry.start, entry.end);
  return { exprStart, refs: scanBody(bytes, exprStart, entry.end) };
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

/** The export section with function indices renumbered; names are copied as they are. */
function exportSection(payload: Uint8Array, map: (index: number) => number): Uint8Array {
  const r = new ByteReader(payload);
  const w = new ByteWriter(payload.length + 16);
  const n = r.u32();
  w.u32(n);
  for (let i = 0; i < n; i++) {
    const start = r.pos;
    r.skip(r.u32()); // the name
    const kind = r.u8();
    w.bytes(payload.subarray(start, r.pos)).u32(kind === 0x00 ? map(r.u32()) : r.u32());
  }
  if (!r.atEnd()) r.fail('export section has trailing bytes');
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
        // The rest of the entry (a name, or a map of names) is copied as it is.
        const rest = sub.pos;
        if (id === FUNCTION_NAMES) {
          sub.skip(sub.u32());
        } else {
          for (let k = sub.u32(); k > 0; k--) {
            sub.u32();
            sub.skip(sub.u32());
          }
        }
        content.bytes(bytes.subarray(rest, sub.pos));
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
