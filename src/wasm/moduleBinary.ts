// The structure of a module binary, decoded once: sections, types, imports, the index spaces of
// functions, tables, memories and globals (imports first, as in wasm), exports, start, element
// segments and where each function body lives. Function bodies themselves are not decoded here;
// codeScan.ts reads them one at a time, when they are needed.

import { ByteReader, ByteWriter, MalformedBinary } from './bytes.ts';
import { scanConstExpr, skipValType } from './codeScan.ts';
import type { ExternKind, FuncType, GlobalType, MemoryType, TableType, ValType } from './types.ts';

export const SectionId = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

export interface SectionSpan {
  readonly id: number;
  /** Offset of the section id byte. */
  readonly headerStart: number;
  readonly payloadStart: number;
  readonly end: number;
  /** For custom sections. */
  readonly name?: string;
}

export interface ImportEntry {
  readonly module: string;
  readonly name: string;
  readonly kind: ExternKind;
  /** Index in the index space of `kind`. */
  readonly index: number;
  /** The whole entry as encoded, to be copied verbatim. */
  readonly raw: Uint8Array;
}

/** A constant expression as encoded, `end` included. */
export interface ConstExpr {
  readonly start: number;
  readonly end: number;
}

export interface TableEntry {
  readonly type: TableType;
  /** The table type's bytes (reference type and limits). */
  readonly rawType: Uint8Array;
  /** Present for tables declared with an initializer (0x40 0x00 form). */
  readonly init: ConstExpr | null;
}

export interface GlobalEntry {
  readonly type: GlobalType;
  readonly rawType: Uint8Array;
  readonly init: ConstExpr | null;
}

export type SegmentMode = 'active' | 'passive' | 'declarative';

export interface ElementSegment {
  readonly flags: number;
  readonly mode: SegmentMode;
  readonly table: number;
  readonly offset: ConstExpr | null;
  /** The element kind byte or the reference type bytes, when the encoding carries one. */
  readonly rawKind: Uint8Array | null;
  /** Items as function indices (flags 0-3) ... */
  readonly funcIndices: readonly number[] | null;
  /** ... or as constant expressions (flags 4-7). */
  readonly exprs: readonly ConstExpr[] | null;
}

export interface CodeEntry {
  /** Offset of the body (local declarations first), just past its size. */
  readonly start: number;
  readonly end: number;
}

export interface ModuleBinary {
  readonly bytes: Uint8Array;
  readonly sections: readonly SectionSpan[];
  readonly types: readonly FuncType[];
  readonly imports: readonly ImportEntry[];
  /** Type index of every function, imported ones first. */
  readonly funcTypes: readonly number[];
  readonly importedFunctions: number;
  readonly tables: readonly TableEntry[];
  readonly importedTables: number;
  readonly memories: readonly MemoryType[];
  readonly importedMemories: number;
  readonly globals: readonly GlobalEntry[];
  readonly importedGlobals: number;
  readonly exports: readonly { readonly name: string; readonly kind: ExternKind; readonly index: number }[];
  /**
   * By function index, the first name the function is exported under (undefined: not exported).
   * Built with the decode, where the exports are in hand anyway: built later, on the first
   * compile that names a function, it cost that compile time in proportion to the module.
   */
  readonly firstExportNames: readonly (string | undefined)[];
  readonly start: number | null;
  readonly elements: readonly ElementSegment[];
  readonly dataCount: number | null;
  readonly dataSegments: number;
  /** Bodies of the defined functions, in order. */
  readonly code: readonly CodeEntry[];
  /** Names from the "name" custom section, when present and readable. */
  readonly functionNames: ReadonlyMap<number, string>;
  readonly memoryNames: ReadonlyMap<number, string>;
}

const KIND_BY_BYTE: readonly ExternKind[] = ['function', 'table', 'memory', 'global'];

function readRefHeap(r: ByteReader): 'funcref' | 'externref' {
  const heap = r.s33();
  if (heap === -0x10) return 'funcref';
  if (heap === -0x11) return 'externref';
  return r.fail('unsupported reference type');
}

export function readValType(r: ByteReader): ValType {
  const b = r.u8();
  switch (b) {
    case 0x7f:
      return 'i32';
    case 0x7e:
      return 'i64';
    case 0x7d:
      return 'f32';
    case 0x7c:
      return 'f64';
    case 0x7b:
      return 'v128';
    case 0x70:
      return 'funcref';
    case 0x6f:
      return 'externref';
    case 0x63:
      return readRefHeap(r);
    default:
      return r.fail(`unsupported value type 0x${b.toString(16)}`);
  }
}

function readRefType(r: ByteReader): 'funcref' | 'externref' {
  const t = readValType(r);
  if (t !== 'funcref' && t !== 'externref') r.fail('expected a reference type');
  return t;
}

function readLimits(r: ByteReader, allowShared: boolean): { initial: number; maximum?: number; shared?: boolean } {
  const flags = r.u8();
  if (flags > 3 || (!allowShared && flags > 1)) r.fail(`unsupported limits flags 0x${flags.toString(16)}`);
  const initial = r.u32();
  const maximum = flags & 1 ? r.u32() : undefined;
  const shared = (flags & 2) !== 0;
  return shared ? { initial, maximum, shared } : maximum === undefined ? { initial } : { initial, maximum };
}

function readTableType(r: ByteReader): TableType {
  const elementType = readRefType(r);
  return { elementType, ...readLimits(r, false) };
}

function readGlobalType(r: ByteReader): GlobalType {
  const type = readValType(r);
  const mut = r.u8();
  if (mut > 1) r.fail('malformed mutability');
  return { type, mutable: mut === 1 };
}

function readConstExpr(r: ByteReader): ConstExpr {
  const start = r.pos;
  r.pos = scanConstExpr(r.bytes, start, r.end).end;
  return { start, end: r.pos };
}

function readNameSection(
  r: ByteReader,
  functionNames: Map<number, string>,
  memoryNames: Map<number, string>,
): void {
  // Names are a debugging aid: a section we cannot read is ignored, as engines do.
  try {
    while (!r.atEnd()) {
      const id = r.u8();
      const size = r.u32();
      const end = r.pos + size;
      if (id === 1 || id === 6) {
        const sub = new ByteReader(r.bytes, r.pos, end);
        const target = id === 1 ? functionNames : memoryNames;
        const n = sub.u32();
        for (let i = 0; i < n; i++) {
          const index = sub.u32();
          target.set(index, sub.name());
        }
      }
      r.pos = end;
    }
  } catch (e) {
    if (!(e instanceof MalformedBinary)) throw e;
  }
}

/** The module's bytes with section `id` (which must exist) carrying `payload` instead. */
export function replaceSection(binary: ModuleBinary, id: number, payload: Uint8Array): Uint8Array {
  const section = binary.sections.find((s) => s.id === id);
  if (!section) throw new Error(`the module has no section ${id} to replace`);
  return new ByteWriter(binary.bytes.length + 16)
    .bytes(binary.bytes.subarray(0, section.headerStart))
    .section(id, payload)
    .bytes(binary.bytes.subarray(section.end))
    .finish();
}

export function decodeModuleBinary(bytes: Uint8Array): ModuleBinary {
  const r = new ByteReader(bytes);
  const magic = r.take(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) r.fail('bad magic');
  const version = r.take(4);
  if (version[0] !== 1 || version[1] !== 0 || version[2] !== 0 || version[3] !== 0) r.fail('unsupported version');

  const sections: SectionSpan[] = [];
  const types: FuncType[] = [];
  const imports: ImportEntry[] = [];
  const funcTypes: number[] = [];
  const tables: TableEntry[] = [];
  const memories: MemoryType[] = [];
  const globals: GlobalEntry[] = [];
  const exports: { name: string; kind: ExternKind; index: number }[] = [];
  const elements: ElementSegment[] = [];
  const code: CodeEntry[] = [];
  const functionNames = new Map<number, string>();
  const memoryNames = new Map<number, string>();
  let start: number | null = null;
  let dataCount: number | null = null;
  let dataSegments = 0;
  let importedFunctions = 0;
  let importedTables = 0;
  let importedMemories = 0;
  let importedGlobals = 0;

  while (!r.atEnd()) {
    const headerStart = r.pos;
    const id = r.u8();
    const size = r.u32();
    const payloadStart = r.pos;
    const end = payloadStart + size;
    if (end > bytes.length) r.fail('section extends past the end');
    const s = new ByteReader(bytes, payloadStart, end);
    switch (id) {
      case SectionId.custom: {
        const name = s.name();
        sections.push({ id, headerStart, payloadStart, end, name });
        if (name === 'name') readNameSection(s, functionNames, memoryNames);
        r.pos = end;
        continue;
      }
      case SectionId.type: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const form = s.u8();
          if (form !== 0x60) s.fail(`unsupported type form 0x${form.toString(16)}`);
          const params: ValType[] = [];
          const results: ValType[] = [];
          for (let k = s.u32(); k > 0; k--) params.push(readValType(s));
          for (let k = s.u32(); k > 0; k--) results.push(readValType(s));
          types.push({ params, results });
        }
        break;
      }
      case SectionId.import: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const entryStart = s.pos;
          const module = s.name();
          const name = s.name();
          const kindByte = s.u8();
          const kind = KIND_BY_BYTE[kindByte] ?? s.fail(`unsupported import kind ${kindByte}`);
          let index: number;
          switch (kind) {
            case 'function':
              funcTypes.push(s.u32());
              index = importedFunctions++;
              break;
            case 'table': {
              const typeStart = s.pos;
              const type = readTableType(s);
              tables.push({ type, rawType: bytes.subarray(typeStart, s.pos), init: null });
              index = importedTables++;
              break;
            }
            case 'memory':
              memories.push(readLimits(s, true));
              index = importedMemories++;
              break;
            case 'global': {
              const typeStart = s.pos;
              const type = readGlobalType(s);
              globals.push({ type, rawType: bytes.subarray(typeStart, s.pos), init: null });
              index = importedGlobals++;
              break;
            }
          }
          imports.push({ module, name, kind, index, raw: bytes.subarray(entryStart, s.pos) });
        }
        break;
      }
      case SectionId.function: {
        for (let n = s.u32(); n > 0; n--) funcTypes.push(s.u32());
        break;
      }
      case SectionId.table: {
        for (let n = s.u32(); n > 0; n--) {
          let init: ConstExpr | null = null;
          if (s.peek() === 0x40) {
            s.u8();
            if (s.u8() !== 0x00) s.fail('malformed table initializer');
            const typeStart = s.pos;
            const type = readTableType(s);
            const rawType = bytes.subarray(typeStart, s.pos);
            init = readConstExpr(s);
            tables.push({ type, rawType, init });
          } else {
            const typeStart = s.pos;
            const type = readTableType(s);
            tables.push({ type, rawType: bytes.subarray(typeStart, s.pos), init });
          }
        }
        break;
      }
      case SectionId.memory: {
        for (let n = s.u32(); n > 0; n--) memories.push(readLimits(s, true));
        break;
      }
      case SectionId.global: {
        for (let n = s.u32(); n > 0; n--) {
          const typeStart = s.pos;
          const type = readGlobalType(s);
          const rawType = bytes.subarray(typeStart, s.pos);
          globals.push({ type, rawType, init: readConstExpr(s) });
        }
        break;
      }
      case SectionId.export: {
        for (let n = s.u32(); n > 0; n--) {
          const name = s.name();
          const kindByte = s.u8();
          const kind = KIND_BY_BYTE[kindByte] ?? s.fail(`unsupported export kind ${kindByte}`);
          exports.push({ name, kind, index: s.u32() });
        }
        break;
      }
      case SectionId.start:
        start = s.u32();
        break;
      case SectionId.element: {
        for (let n = s.u32(); n > 0; n--) elements.push(readElementSegment(s));
        break;
      }
      case SectionId.code: {
        for (let n = s.u32(); n > 0; n--) {
          const bodySize = s.u32();
          const bodyStart = s.pos;
          s.skip(bodySize);
          code.push({ start: bodyStart, end: s.pos });
        }
        break;
      }
      case SectionId.data: {
        dataSegments = s.u32();
        s.pos = end;
        break;
      }
      case SectionId.dataCount:
        dataCount = s.u32();
        break;
      default:
        r.fail(`unsupported section id ${id}`);
    }
    if (s.pos !== end) s.fail(`section ${id} has trailing bytes`);
    sections.push({ id, headerStart, payloadStart, end });
    r.pos = end;
  }

  if (funcTypes.length - importedFunctions !== code.length) {
    throw new MalformedBinary('function and code section counts differ');
  }
  return {
    bytes,
    sections,
    types,
    imports,
    funcTypes,
    importedFunctions,
    tables,
    importedTables,
    memories,
    importedMemories,
    globals,
    importedGlobals,
    exports,
    firstExportNames: firstExportNames(funcTypes.length, exports),
    start,
    elements,
    dataCount,
    dataSegments,
    code,
    functionNames,
    memoryNames,
  };
}

/** A dense array by function index: cheaper to build and read than a map for tens of thousands of exports. */
function firstExportNames(functions: number, exports: readonly { readonly name: string; readonly kind: ExternKind; readonly index: number }[]): (string | undefined)[] {
  const byIndex = new Array<string | undefined>(functions).fill(undefined);
  for (let i = 0; i < exports.length; i++) {
    const e = exports[i]!;
    if (e.kind === 'function' && e.index < functions && byIndex[e.index] === undefined) byIndex[e.index] = e.name;
  }
  return byIndex;
}

function readElementSegment(s: ByteReader): ElementSegment {
  const flags = s.u32();
  if (flags > 7) s.fail(`malformed element segment flags ${flags}`);
  const mode: SegmentMode = (flags & 1) === 0 ? 'active' : (flags & 2) === 0 ? 'passive' : 'declarative';
  const explicitTable = mode === 'active' && (flags & 2) !== 0;
  const table = explicitTable ? s.u32() : 0;
  const offset = mode === 'active' ? readConstExpr(s) : null;
  let rawKind: Uint8Array | null = null;
  if (flags !== 0 && flags !== 4) {
    const kindStart = s.pos;
    if (flags & 4) skipValType(s);
    else if (s.u8() !== 0x00) s.fail('malformed element kind');
    rawKind = s.bytes.subarray(kindStart, s.pos);
  }
  const count = s.u32();
  if (flags & 4) {
    const exprs: ConstExpr[] = [];
    for (let i = 0; i < count; i++) exprs.push(readConstExpr(s));
    return { flags, mode, table, offset, rawKind, funcIndices: null, exprs };
  }
  const funcIndices: number[] = [];
  for (let i = 0; i < count; i++) funcIndices.push(s.u32());
  return { flags, mode, table, offset, rawKind, funcIndices, exprs: null };
}
