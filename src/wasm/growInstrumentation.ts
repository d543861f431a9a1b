// The rewrites the session's memory and table budgets need in every compiled piece, done in one
// pass over its bytes (rewriteForSession):
//
// - A defined memory becomes an import of the same limits, so the executor creates (and
//   counts) it before any code of the module runs.
// - Every `memory.grow` becomes `call $memoryHook` + `memory.grow`, and every `table.grow`
//   becomes `call $tableHook` + `table.grow`. Each hook, a host function the executor provides,
//   sees the requested delta (the operand on top of the stack for both instructions) and returns
//   it unchanged when the session's memories (tables) can take that much more, or -1 (0xffffffff
//   pages or elements, more than any memory or table can grow by) when they cannot. The grow
//   itself still runs in wasm, on the piece's own memory or table, so its result keeps exact
//   wasm semantics: the old size on success, -1 past the maximum, on an allocation failure, or
//   past the session budget. The hooks need no memory or table identity: the executor sums the
//   sizes of the session's memories (tables) when asked, and the grow happens right after the
//   hook returns.
// - With `exportTables`, every defined table the module does not export is exported, so the
//   executor can place it and keep counting it (tables, unlike memories, are created by the
//   module: a table with an initializer expression has no import form).
//
// Why a rewrite of the emitted bytes rather than of binaryen IR: binaryen.js has no getters for
// the operands of table.fill, table.copy and table.init, so a walk over its IR can miss a
// memory.grow nested there; and binaryen's own instrument-memory pass adds functions with fixed
// names (load_ptr, memory_grow_pre, ...) that can collide with a user's function names (fatal
// in binaryen) and imports them from "env", where user imports live. Rewriting the final bytes
// works the same for every kind of piece (globals module, extracted bodies, whole module,
// re-optimized code) after binaryen is done with it, so no optimizer pass can move or drop it.
//
// The hooks are function imports appended after the piece's own imports, so every defined
// function's index moves up by one per hook and every place a function index occurs is
// renumbered: call, return_call and ref.func in bodies, constant expressions of globals, tables
// and element segments, exports, the start function and the name section's function-indexed maps.

import { ByteReader, ByteWriter, MalformedBinary } from './bytes.ts';
import { scanBody, scanConstExpr, skipLocals, type CodeReferences, type FunctionIndexSite } from './codeScan.ts';
import { encodeLimits } from './memoryLimits.ts';
import { decodeModuleBinary, SectionId, type CodeEntry, type ConstExpr, type ModuleBinary } from './moduleBinary.ts';
import { entityName } from './linkNames.ts';
import type { FuncType } from './types.ts';

/** Both hooks' signature: the requested delta in, the delta to grow by (or -1) out. */
export const MEMORY_GROW_HOOK_TYPE: FuncType = { params: ['i32'], results: ['i32'] };


const CALL = 0x10;
const TABLE_KIND = 0x01;

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

/** What rewriteForSession does; the imports it adds come from `module`, which the binary must not import from. */
export interface SessionRewriteOptions {
  readonly module: string;
  /** Import name of the memory.grow hook; without it memory.grow is left as it is. */
  readonly memoryHook?: string;
  /** Import name of the table.grow hook; without it table.grow is left as it is. */
  readonly tableHook?: string;
  /** When set, every defined memory becomes an import of this name (see below). */
  readonly memory?: (index: number) => string;
  /** Export every defined table the module does not export yet (under tableExportName's name). */
  readonly exportTables?: boolean;
}

export interface SessionRewrite {
  readonly bytes: Uint8Array;
  /** The memory.grow hook was added (the module has a memory.grow). */
  readonly memoryHooked: boolean;
  /** The table.grow hook was added (the module has a table.grow). */
  readonly tableHooked: boolean;
  /** The defined memories that became imports (their indices, which do not change). */
  readonly memoriesImported: readonly number[];
  /** The exports added for defined tables (exportTables). */
  readonly tableExports: readonly TableExport[];
}

export interface TableExport {
  readonly name: string;
  /** The table's index in the module's table index space. */
  readonly index: number;
}

/**
 * In one pass over the binary: every memory.grow preceded by a call to a new function import
 * `module`.`memoryHook` and every table.grow by a call to `module`.`tableHook` (both of type
 * MEMORY_GROW_HOOK_TYPE), with `memory` the module's defined memory turned into an import of the
 * same limits, and with `exportTables` its unexported defined tables exported. Returns null
 * when none of these applies.
 *
 * The memory imports are how the executor creates every memory of the session itself, counting
 * each before any code of the module runs. Appended after every original import, they keep the
 * defined memories' indices (imported memories come first in the index space, in import order),
 * so no memory index in the code changes; active data segments still initialize them at
 * instantiation, as they would defined memories.
 */
export function rewriteForSession(input: Uint8Array | ModuleBinary, options: SessionRewriteOptions): SessionRewrite | null {
  const binary = input instanceof Uint8Array ? decodeModuleBinary(input) : input;
  const { bytes } = binary;
  const definedMemories = options.memory === undefined ? [] : binary.memories.slice(binary.importedMemories);
  // memory.grow does not validate without a memory, nor table.grow without a table.
  const memoryHook = binary.memories.length > 0 ? options.memoryHook : undefined;
  const tableHook = binary.tables.length > 0 ? options.tableHook : undefined;

  // Only a body holding a 0x40 byte can hold a memory.grow, and only one holding 0xfc a
  // table.grow; the other bodies need no scan.
  const scans = binary.code.map((entry) => {
    const body = bytes.subarray(entry.start, entry.end);
    const mayGrow = (memoryHook !== undefined && body.includes(0x40)) || (tableHook !== undefined && body.includes(0xfc));
    return mayGrow ? scanCode(bytes, entry) : undefined;
  });
  const memoryHooked = memoryHook !== undefined && scans.some((b) => b !== undefined && b.refs.memoryGrowSites.length > 0);
  const tableHooked = tableHook !== undefined && scans.some((b) => b !== undefined && b.refs.tableGrowSites.length > 0);
  const tableExports = options.exportTables ? unexportedTables(binary) : [];
  if (!memoryHooked && !tableHooked && definedMemories.length === 0 && tableExports.length === 0) return null;

  // The hooks' indices once appended after the original imports; every defined function moves up.
  const hooks = (memoryHooked ? 1 : 0) + (tableHooked ? 1 : 0);
  const renumber = hooks > 0;
  const memoryHookIndex = binary.importedFunctions;
  const tableHookIndex = binary.importedFunctions + (memoryHooked ? 1 : 0);
  const map = renumber ? (index: number): number => (index < binary.importedFunctions ? index : index + hooks) : (index: number): number => index;
  const existingType = binary.types.findIndex(
    (t) => t.params.length === 1 && t.params[0] === 'i32' && t.results.length === 1 && t.results[0] === 'i32',
  );
  const hookType = existingType >= 0 ? existingType : binary.types.length;
  const hookTypeBytes = new Uint8Array([0x60, 1, 0x7f, 1, 0x7f]);

  const extraImports: Uint8Array[] = [];
  const importEntry = (name: string) => new ByteWriter(options.module.length + name.length + 16).name(options.module).name(name);
  definedMemories.forEach((memory, k) => {
    const entry = importEntry((options.memory as (index: number) => string)(binary.importedMemories + k)).u8(0x02);
    encodeLimits(entry, memory);
    extraImports.push(entry.finish());
  });
  if (memoryHooked) extraImports.push(importEntry(memoryHook as string).u8(0x00).u32(hookType).finish());
  if (tableHooked) extraImports.push(importEntry(tableHook as string).u8(0x00).u32(hookType).finish());
  const memoryHookCall = new ByteWriter(6).u8(CALL).u32(memoryHookIndex).finish();
  const tableHookCall = new ByteWriter(6).u8(CALL).u32(tableHookIndex).finish();
  const tableExportEntries = tableExports.map((e) => new ByteWriter(e.name.length + 12).name(e.name).u8(TABLE_KIND).u32(e.index).finish());

  const out = new ByteWriter(bytes.length + 64 + (renumber ? bytes.length >> 6 : 0));
  out.bytes(bytes.subarray(0, 8));
  let typesWritten = !renumber || existingType >= 0;
  let importWritten = extraImports.length === 0;
  let exportWritten = tableExportEntries.length === 0;
  // A module without a type, import or export section gets one just before the first later section.
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
    if (!exportWritten && sectionRank(id) > SectionId.export) {
      out.section(SectionId.export, appendToVector(null, tableExportEntries));
      exportWritten = true;
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
        if (extraImports.length > 0) out.section(SectionId.import, appendToVector(payload, extraImports));
        else raw();
        importWritten = true;
        break;
      case SectionId.memory:
        if (definedMemories.length === 0) raw(); // else: the memories are imported now
        break;
      case SectionId.table:
        if (renumber) out.section(SectionId.table, tableSection(binary, map));
        else raw();
        break;
      case SectionId.global:
        if (renumber) out.section(SectionId.global, globalSection(binary, map));
        else raw();
        break;
      case SectionId.export:
        if (renumber || tableExportEntries.length > 0) out.section(SectionId.export, appendToVector(exportSection(payload, map), tableExportEntries));
        else raw();
        exportWritten = true;
        break;
      case SectionId.start:
        if (renumber) out.section(SectionId.start, new ByteWriter(5).u32(map(binary.start as number)).finish());
        else raw();
        break;
      case SectionId.element:
        if (renumber) out.section(SectionId.element, elementSection(binary, map));
        else raw();
        break;
      case SectionId.code: {
        if (!renumber) {
          raw();
          break;
        }
        const w = new ByteWriter(payload.length + (payload.length >> 6) + 16);
        w.u32(binary.code.length);
        binary.code.forEach((entry, i) => {
          const { exprStart, refs } = scans[i] ?? scanCode(bytes, entry);
          const edits: Edit[] = [
            ...relocations(refs.functionSites, map),
            ...(memoryHooked ? refs.memoryGrowSites.map((offset) => ({ offset, length: 0, insert: memoryHookCall })) : []),
            ...(tableHooked ? refs.tableGrowSites.map((offset) => ({ offset, length: 0, insert: tableHookCall })) : []),
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
        if (!renumber || s.name !== 'name') {
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
  return {
    bytes: out.finish(),
    memoryHooked,
    tableHooked,
    memoriesImported: definedMemories.map((_, k) => binary.importedMemories + k),
    tableExports,
  };
}

/**
 * `bytes` with every memory.grow preceded by a call to a new function import `module`.`name`
 * of type MEMORY_GROW_HOOK_TYPE, or null when the module has no memory.grow: the rewrite any
 * compiled code needs to stay within the session's memory budget (it leaves the module's own
 * memory, and its table.grows, as they are).
 */
export function instrumentMemoryGrow(bytes: Uint8Array, module: string, name: string): Uint8Array | null {
  const r = rewriteForSession(bytes, { module, memoryHook: name });
  return r?.bytes ?? null;
}

/** As instrumentMemoryGrow, for table.grow and the session's table budget. */
export function instrumentTableGrow(bytes: Uint8Array, module: string, name: string): Uint8Array | null {
  const r = rewriteForSession(bytes, { module, tableHook: name });
  return r?.bytes ?? null;
}

/** The name a table gets when exported for the session: "table:<index>", or with "$"s added until no export has it. */
export function tableExportName(binary: ModuleBinary, index: number): string {
  const taken = new Set(binary.exports.map((e) => e.name));
  let name = entityName({ kind: 'table', index });
  while (taken.has(name)) name += '$';
  return name;
}

function unexportedTables(binary: ModuleBinary): TableExport[] {
  const exported = new Set(binary.exports.filter((e) => e.kind === 'table').map((e) => e.index));
  const out: TableExport[] = [];
  for (let index = binary.importedTables; index < binary.tables.length; index++) {
    if (!exported.has(index)) out.push({ name: tableExportName(binary, index), index });
  }
  return out;
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
