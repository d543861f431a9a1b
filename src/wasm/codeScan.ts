// Scans WebAssembly instruction sequences in a binary (function bodies and constant
// expressions) and reports what they reference, by index in the module's index spaces, and
// where function indices sit in the bytes so a copy can be renumbered.
//
// Why a binary scanner and not a walk over binaryen IR: binaryen's C API has no getters for
// the children of table.fill/table.copy/table.init or the segment of elem.drop, and a JS walk
// costs a call per node. The bytes are exact (they are the module V8 validated), indices come
// for free, and one linear pass per function keeps extraction proportional to that function.

import { ByteReader, MalformedBinary } from './bytes.ts';

/** Where a function index is encoded: `length` bytes of LEB128 at absolute `offset`. */
export interface FunctionIndexSite {
  readonly offset: number;
  readonly length: number;
  readonly index: number;
}

export interface CodeReferences {
  /** Instructions decoded, `end`s included: a rough size for statistics. */
  readonly instructions: number;
  /** Functions called directly (call, return_call) or taken by ref.func. */
  readonly functions: readonly number[];
  /** Functions taken by ref.func only (they must be declared in the module that holds the code). */
  readonly refFuncs: readonly number[];
  readonly globals: readonly number[];
  readonly tables: readonly number[];
  readonly memories: readonly number[];
  readonly dataSegments: readonly number[];
  readonly elemSegments: readonly number[];
  /** memory.init, data.drop, table.init or elem.drop occur: the code must live with the segments. */
  readonly usesSegments: boolean;
  readonly functionSites: readonly FunctionIndexSite[];
  /** Absolute offset of every memory.grow opcode, in order (growInstrumentation.ts rewrites them). */
  readonly memoryGrowSites: readonly number[];
  /** Absolute offset of every table.grow's 0xfc prefix, in order (rewritten like memory.grow). */
  readonly tableGrowSites: readonly number[];
  /** Absolute offset just past the scanned code. */
  readonly end: number;
}

class Collector {
  instructions = 0;
  functions = new Set<number>();
  refFuncs = new Set<number>();
  globals = new Set<number>();
  tables = new Set<number>();
  memories = new Set<number>();
  dataSegments = new Set<number>();
  elemSegments = new Set<number>();
  functionSites: FunctionIndexSite[] = [];
  memoryGrowSites: number[] = [];
  tableGrowSites: number[] = [];

  result(end: number): CodeReferences {
    return {
      instructions: this.instructions,
      functions: [...this.functions],
      refFuncs: [...this.refFuncs],
      globals: [...this.globals],
      tables: [...this.tables],
      memories: [...this.memories],
      dataSegments: [...this.dataSegments],
      elemSegments: [...this.elemSegments],
      usesSegments: this.dataSegments.size > 0 || this.elemSegments.size > 0,
      functionSites: this.functionSites,
      memoryGrowSites: this.memoryGrowSites,
      tableGrowSites: this.tableGrowSites,
      end,
    };
  }
}

/** Skips a value type; reference types may carry a heap type. */
export function skipValType(r: ByteReader): void {
  const b = r.u8();
  if (b === 0x63 || b === 0x64) r.s33();
}

function skipBlockType(r: ByteReader): void {
  const b = r.peek();
  if (b === 0x63 || b === 0x64) {
    r.pos++;
    r.s33();
  } else if ((b & 0x80) === 0) {
    // One byte: 0x40 (empty), a value type code, or a small type index.
    r.pos++;
  } else {
    r.s33();
  }
}

function functionIndex(r: ByteReader, c: Collector, isRefFunc: boolean): void {
  const offset = r.pos;
  const index = r.u32();
  c.functions.add(index);
  if (isRefFunc) c.refFuncs.add(index);
  c.functionSites.push({ offset, length: r.pos - offset, index });
}

/** memarg: alignment (bit 6 announces a memory index), then the offset. */
function memarg(r: ByteReader, c: Collector): void {
  const align = r.u32();
  c.memories.add(align & 0x40 ? r.u32() : 0);
  r.skipLeb();
}

function scanFC(r: ByteReader, c: Collector): void {
  const prefix = r.pos - 1;
  const op = r.u32();
  if (op <= 7) return; // saturating truncations
  switch (op) {
    case 8: // memory.init data mem
      c.dataSegments.add(r.u32());
      c.memories.add(r.u32());
      return;
    case 9: // data.drop
      c.dataSegments.add(r.u32());
      return;
    case 10: // memory.copy dst src
      c.memories.add(r.u32());
      c.memories.add(r.u32());
      return;
    case 11: // memory.fill
      c.memories.add(r.u32());
      return;
    case 12: // table.init elem table
      c.elemSegments.add(r.u32());
      c.tables.add(r.u32());
      return;
    case 13: // elem.drop
      c.elemSegments.add(r.u32());
      return;
    case 14: // table.copy dst src
      c.tables.add(r.u32());
      c.tables.add(r.u32());
      return;
    case 15: // table.grow
      c.tableGrowSites.push(prefix);
      c.tables.add(r.u32());
      return;
    case 16: // table.size
    case 17: // table.fill
      c.tables.add(r.u32());
      return;
    default:
      r.fail(`unsupported instruction 0xfc ${op}`);
  }
}

function scanFD(r: ByteReader, c: Collector): void {
  const op = r.u32();
  if (op <= 11) return memarg(r, c); // loads, load-extends, load-splats, v128.store
  if (op === 12 || op === 13) return r.skip(16); // v128.const, i8x16.shuffle
  if (op >= 21 && op <= 34) return r.skip(1); // extract/replace lane
  if (op >= 84 && op <= 91) {
    memarg(r, c); // load/store lane
    return r.skip(1);
  }
  if (op === 92 || op === 93) return memarg(r, c); // load32_zero, load64_zero
  // Everything else (arithmetic, comparisons, conversions, relaxed SIMD) has no immediates.
  if (op > 0x113) r.fail(`unsupported instruction 0xfd ${op}`);
}

function scanFE(r: ByteReader, c: Collector): void {
  const op = r.u32();
  if (op === 0x03) return r.skip(1); // atomic.fence
  if (op > 0x4e) r.fail(`unsupported instruction 0xfe ${op}`);
  memarg(r, c);
}

/**
 * Scans one instruction at r.pos. Returns the change in block nesting: +1 for block/loop/if,
 * -1 for end, 0 otherwise.
 */
function scanInstruction(r: ByteReader, c: Collector): number {
  const op = r.u8();
  c.instructions++;
  switch (op) {
    case 0x02: // block
    case 0x03: // loop
    case 0x04: // if
      skipBlockType(r);
      return 1;
    case 0x0b: // end
      return -1;
    case 0x0c: // br
    case 0x0d: // br_if
    case 0xd5: // br_on_null
    case 0xd6: // br_on_non_null
    case 0x20: // local.get
    case 0x21: // local.set
    case 0x22: // local.tee
      r.u32();
      return 0;
    case 0x0e: {
      // br_table
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
      return 0;
    }
    case 0x10: // call
    case 0x12: // return_call
      functionIndex(r, c, false);
      return 0;
    case 0x11: // call_indirect type table
    case 0x13: // return_call_indirect
      r.u32();
      c.tables.add(r.u32());
      return 0;
    case 0x1c: {
      // select with types
      const n = r.u32();
      for (let i = 0; i < n; i++) skipValType(r);
      return 0;
    }
    case 0x23: // global.get
    case 0x24: // global.set
      c.globals.add(r.u32());
      return 0;
    case 0x25: // table.get
    case 0x26: // table.set
      c.tables.add(r.u32());
      return 0;
    case 0x3f: // memory.size
      c.memories.add(r.u32());
      return 0;
    case 0x40: // memory.grow
      c.memoryGrowSites.push(r.pos - 1);
      c.memories.add(r.u32());
      return 0;
    case 0x41: // i32.const
    case 0x42: // i64.const
      r.skipLeb();
      return 0;
    case 0x43: // f32.const
      r.skip(4);
      return 0;
    case 0x44: // f64.const
      r.skip(8);
      return 0;
    case 0xd0: // ref.null heaptype
      r.s33();
      return 0;
    case 0xd2: // ref.func
      functionIndex(r, c, true);
      return 0;
    case 0xfc:
      scanFC(r, c);
      return 0;
    case 0xfd:
      scanFD(r, c);
      return 0;
    case 0xfe:
      scanFE(r, c);
      return 0;
    default:
      break;
  }
  if (op >= 0x28 && op <= 0x3e) {
    memarg(r, c);
    return 0;
  }
  // No immediates: unreachable, nop, else, return, drop, select, numeric operators
  // (0x45-0xc4), ref.is_null, ref.eq, ref.as_non_null.
  if (op <= 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b) return 0;
  if (op >= 0x45 && op <= 0xc4) return 0;
  if (op === 0xd1 || op === 0xd3 || op === 0xd4) return 0;
  return r.fail(`unsupported instruction 0x${op.toString(16)}`);
}

/** Scans a function body's expression from `start` (just past the locals) to `end`. */
export function scanBody(bytes: Uint8Array, start: number, end: number): CodeReferences {
  const r = new ByteReader(bytes, start, end);
  const c = new Collector();
  let depth = 1;
  while (depth > 0) depth += scanInstruction(r, c);
  if (r.pos !== end) throw new MalformedBinary(`function body has bytes after its end at byte ${r.pos}`);
  return c.result(r.pos);
}

/** Scans a constant expression starting at `start`, up to and including its `end`. */
export function scanConstExpr(bytes: Uint8Array, start: number, limit = bytes.length): CodeReferences {
  const r = new ByteReader(bytes, start, limit);
  const c = new Collector();
  let depth = 1;
  while (depth > 0) depth += scanInstruction(r, c);
  return c.result(r.pos);
}

/** Skips a body's local declarations; returns the offset where its expression starts. */
export function skipLocals(bytes: Uint8Array, start: number, end: number): number {
  const r = new ByteReader(bytes, start, end);
  const groups = r.u32();
  for (let i = 0; i < groups; i++) {
    r.u32();
    skipValType(r);
  }
  return r.pos;
}
