// The baseline tier's compiler: cuts a piece (a module holding some of a module's function
// bodies) straight out of the bytes the user sent, for V8 to validate and compile lazily. Nothing
// is decoded into an IR and nothing is optimized; the only work is one linear pass over the
// copied bodies, rewriting what the piece's index spaces change:
//
// - Memories, tables and globals keep their indices: the piece imports every one of them, in
//   index order, from the globals module (cutContext.ts). Types keep theirs: the type section is
//   copied whole, and the host functions' types are appended after it.
// - Function indices change: the piece's function index space is its imports (callees outside
//   the piece, then the functions its bodies take a ref.func of, then the host hooks), then its
//   bodies in the order listed. Every call, return_call and ref.func gets a fresh LEB.
// - A ref.func always goes through an import, even of a function the piece holds: a function
//   reference must be the same funcref wherever it is made, the one element segments put in
//   tables (the function's stub), so the linker binds those imports (marked `identity`) to stubs.
// - Every memory.grow and every table.grow first calls the executor's hook with the requested
//   delta (as growInstrumentation.ts does for the other pieces): the session's memory and table
//   budgets.
// - Counted functions start with an entry counter that calls the reoptimize hook once, on the
//   entry that reaches the threshold (what binaryen.ts addEntryCounter does for extracted code).
//
// A cut piece is ready for the session as it is: it must not go through prepareForSession
// (sessionPiece.ts), which would hook every grow a second time (and refuses pieces that import
// more than one memory). It defines no table (it imports them all), so it adds nothing to the
// table budget when instantiated.
//
// Pieces have no start, no data and no data count: functions using segment instructions stay in
// the globals module. Whatever the scan of a body cannot read fails there (MalformedBinary), so
// a piece is never written around bytes this layer did not understand.

import { ByteWriter, MalformedBinary, u32Size } from './bytes.ts';
import { skipLocals, type CodeReferences, type FunctionIndexSite } from './codeScan.ts';
import type { CompiledPiece, HostImport, PieceExport, PieceImport } from './compiledPiece.ts';
import { cutContext, type CutContext } from './cutContext.ts';
import { displayName } from './displayName.ts';
import { entityName } from './linkNames.ts';
import { SectionId, type ModuleBinary } from './moduleBinary.ts';
import { MEMORY_GROW_HOOK_NAME, TABLE_GROW_HOOK_NAME } from './sessionPiece.ts';

export interface CutOptions {
  /**
   * Defined functions (indices in the original module's function index space) whose bodies the
   * piece holds, in this order. None may use segment instructions (memory.init, data.drop,
   * table.init, elem.drop): those functions stay in the globals module (RangeError otherwise).
   */
  readonly functions: readonly number[];
  /** The listed functions the piece exports, each as entityName({kind:'function', index}); all listed ones when absent. */
  readonly exports?: readonly number[];
  /**
   * Entry counters (as for extractFunctions): each counted function counts its entries and, on
   * the entry that reaches `threshold`, calls the executor's `reoptimize` hook with its id.
   */
  readonly entryCounters?: EntryCounters;
  /** Module name written to the piece's name section (default: none). */
  readonly moduleName?: string;
}

/**
 * Each function in `ids` counts its entries and, on the entry that makes `threshold`, calls
 * the executor's reoptimize hook with its id.
 */
export interface EntryCounters {
  readonly threshold: number;
  readonly ids: ReadonlyMap<number, number>;
}

/** Import names of the executor's hooks (HostImports), as the binaryen tier uses them. */
export const REOPTIMIZE_HOOK_NAME = 'reoptimize';
/** Import name prefix of `identity` imports: `ref:<index>`. */
export const REF_IMPORT_PREFIX = 'ref:';

const CALL = 0x10;
const RETURN_CALL = 0x12;
const REF_FUNC = 0xd2;
const IF = 0x04;
const END = 0x0b;
const EMPTY_BLOCK_TYPE = 0x40;
const GLOBAL_GET = 0x23;
const GLOBAL_SET = 0x24;
const I32_CONST = 0x41;
const I32_EQ = 0x46;
const I32_ADD = 0x6a;
const I32 = 0x7f;
const FUNC_TYPE = 0x60;
const FUNCTION_KIND = 0x00;
const MUTABLE = 0x01;
const DECLARATIVE_FUNCREF_SEGMENT = 3;
const FUNCREF_ELEMENT_KIND = 0x00;
const NAME_MODULE = 0;
const NAME_FUNCTIONS = 1;

/** (i32) -> i32 for the memory.grow and table.grow hooks (one type for both); (i32) -> () for reoptimize. */
const GROW_HOOK_TYPE = Uint8Array.of(FUNC_TYPE, 1, I32, 1, I32);
const REOPTIMIZE_HOOK_TYPE = Uint8Array.of(FUNC_TYPE, 1, I32, 0);

const byIndex = (a: number, b: number): number => a - b;

/** A function index site is a ref.func or a call (call, return_call): the opcode byte before it says which. */
function isRefFunc(bytes: Uint8Array, site: FunctionIndexSite): boolean {
  const op = bytes[site.offset - 1];
  if (op === REF_FUNC) return true;
  if (op === CALL || op === RETURN_CALL) return false;
  throw new MalformedBinary(`a function index at byte ${site.offset} follows neither call, return_call nor ref.func`);
}

interface Positions {
  has(index: number): boolean;
  get(index: number): number | undefined;
  set(index: number, position: number): void;
}

/**
 * A map from function index to position in the piece: a Map for a few functions, an array over
 * the module's function index space for a piece holding a good part of the module (as cheap to
 * fill as the piece is to write, and much cheaper to query than a Map of thousands).
 */
function positions(count: number, totalFunctions: number): Positions {
  if (count * 8 < totalFunctions) return new Map<number, number>();
  const at = new Int32Array(totalFunctions).fill(-1);
  return {
    has: (index) => at[index]! >= 0,
    get: (index) => {
      const p = at[index]!;
      return p >= 0 ? p : undefined;
    },
    set: (index, position) => void (at[index] = position),
  };
}

/**
 * The piece's function index space: its imports (callees it does not hold, then the functions
 * its bodies take a ref.func of, then the hooks), then its bodies in the order listed.
 */
interface FunctionSpace {
  readonly callees: readonly number[];
  readonly taken: readonly number[];
  readonly callImport: ReadonlyMap<number, number>;
  readonly refImport: ReadonlyMap<number, number>;
  /** Index of the memory.grow hook, or -1 when no body grows a memory. */
  readonly growHook: number;
  /** Index of the table.grow hook, or -1 when no body grows a table. */
  readonly tableGrowHook: number;
  /** Index of the reoptimize hook, or -1 when nothing is counted. */
  readonly reoptimizeHook: number;
  /** Function imports in all: the first body's index. */
  readonly imported: number;
}

function planFunctionSpace(binary: ModuleBinary, scans: readonly CodeReferences[], position: Positions, counting: boolean): FunctionSpace {
  const { bytes } = binary;
  const callees = new Set<number>();
  const taken = new Set<number>();
  let grows = false;
  let tableGrows = false;
  for (const refs of scans) {
    for (const site of refs.functionSites) {
      if (site.index >= binary.funcTypes.length) throw new MalformedBinary(`function index ${site.index} at byte ${site.offset} is out of range`);
      if (isRefFunc(bytes, site)) taken.add(site.index);
      else if (!position.has(site.index)) callees.add(site.index);
    }
    if (refs.memoryGrowSites.length > 0) grows = true;
    if (refs.tableGrowSites.length > 0) tableGrows = true;
  }
  const space = {
    callees: [...callees].sort(byIndex),
    taken: [...taken].sort(byIndex),
    callImport: new Map<number, number>(),
    refImport: new Map<number, number>(),
  };
  let next = 0;
  for (const f of space.callees) space.callImport.set(f, next++);
  for (const f of space.taken) space.refImport.set(f, next++);
  const growHook = grows ? next++ : -1;
  const tableGrowHook = tableGrows ? next++ : -1;
  const reoptimizeHook = counting ? next++ : -1;
  return { ...space, growHook, tableGrowHook, reoptimizeHook, imported: next };
}

/** One listed function, planned: where its bytes are and what its function index sites become. */
interface BodyPlan {
  readonly start: number;
  readonly exprStart: number;
  readonly end: number;
  readonly refs: CodeReferences;
  /** The piece's index for each of refs.functionSites, from targets[firstTarget] on (one array for all bodies). */
  readonly targets: Int32Array;
  readonly firstTarget: number;
  readonly prologue: Uint8Array | null;
  /** The body's size in the piece (locals and expression, as its size LEB counts it). */
  readonly size: number;
}

/**
 * Cuts a piece holding `options.functions` out of `binary`. `references(index)` must be the scan
 * of that function's body in this very binary (ParsedModule.references): the piece is written
 * from the offsets it reports.
 */
export function cutPiece(binary: ModuleBinary, references: (index: number) => CodeReferences, options: CutOptions): CompiledPiece {
  const { bytes } = binary;
  const ctx = cutContext(binary);

  // Each listed function's place among the piece's bodies (a function listed twice is held once).
  const position = positions(options.functions.length, binary.funcTypes.length);
  const listed: number[] = [];
  for (const index of options.functions) {
    if (!Number.isInteger(index) || index < binary.importedFunctions || index >= binary.funcTypes.length) {
      throw new RangeError(`cutPiece: ${index} is not a function the module defines`);
    }
    if (position.has(index)) continue;
    position.set(index, listed.length);
    listed.push(index);
  }
  if (listed.length === 0) throw new RangeError('cutPiece: no functions listed');
  const exported = options.exports === undefined ? listed : [...new Set(options.exports)];
  for (const index of exported) {
    if (!position.has(index)) throw new RangeError(`cutPiece: exported function ${index} is not listed`);
  }
  const counters = options.entryCounters;
  const counterIds = counters?.ids ?? new Map<number, number>();
  for (const index of counterIds.keys()) {
    if (!position.has(index)) throw new RangeError(`cutPiece: counted function ${index} is not listed`);
  }

  const scans = listed.map((index) => {
    const refs = references(index);
    if (refs.usesSegments) {
      throw new RangeError(`cutPiece: function ${index} uses segment instructions; keep it in the globals module`);
    }
    const entry = binary.code[index - binary.importedFunctions]!;
    if (refs.end !== entry.end) throw new RangeError(`cutPiece: the references given for function ${index} are not of this binary`);
    return refs;
  });

  const space = planFunctionSpace(binary, scans, position, counterIds.size > 0);
  const target = (site: FunctionIndexSite): number => {
    if (isRefFunc(bytes, site)) return space.refImport.get(site.index)!;
    const k = position.get(site.index);
    return k !== undefined ? space.imported + k : space.callImport.get(site.index)!;
  };

  // Counters are globals after the imported ones, in listed order.
  const counterGlobal = new Map<number, number>();
  for (const index of listed) if (counterIds.has(index)) counterGlobal.set(index, binary.globals.length + counterGlobal.size);

  const growCallSize = space.growHook >= 0 ? 1 + u32Size(space.growHook) : 0;
  const tableGrowCallSize = space.tableGrowHook >= 0 ? 1 + u32Size(space.tableGrowHook) : 0;
  const targets = new Int32Array(scans.reduce((n, refs) => n + refs.functionSites.length, 0));
  let nextTarget = 0;
  const plans: BodyPlan[] = listed.map((index, k) => {
    const refs = scans[k]!;
    const entry = binary.code[index - binary.importedFunctions]!;
    const exprStart = skipLocals(bytes, entry.start, entry.end);
    const firstTarget = nextTarget;
    let size = entry.end - entry.start + refs.memoryGrowSites.length * growCallSize + refs.tableGrowSites.length * tableGrowCallSize;
    for (const site of refs.functionSites) {
      const t = target(site);
      targets[nextTarget++] = t;
      size += u32Size(t) - site.length;
    }
    const global = counterGlobal.get(index);
    const prologue =
      global === undefined ? null : counterPrologue(global, counters!.threshold, counterIds.get(index)!, space.reoptimizeHook);
    if (prologue) size += prologue.length;
    return { start: entry.start, exprStart, end: entry.end, refs, targets, firstTarget, prologue, size };
  });

  const codeSize = plans.reduce((n, p) => n + u32Size(p.size) + p.size, u32Size(plans.length));
  const out = new ByteWriter(codeSize + ctx.typeEntries.length + ctx.entityImportEntries.length + 64 * (listed.length + space.imported) + 256);
  out.bytes(bytes.subarray(0, 8)); // magic and version

  // Types: the module's, verbatim, then the hooks' (so no type index in a copied body moves).
  const growHookType = space.growHook >= 0 || space.tableGrowHook >= 0;
  const hookTypes = [...(growHookType ? [GROW_HOOK_TYPE] : []), ...(space.reoptimizeHook >= 0 ? [REOPTIMIZE_HOOK_TYPE] : [])];
  const typeCount = ctx.typeCount + hookTypes.length;
  if (typeCount > 0) {
    const hookTypesSize = hookTypes.reduce((n, t) => n + t.length, 0);
    out.u8(SectionId.type).u32(u32Size(typeCount) + ctx.typeEntries.length + hookTypesSize).u32(typeCount).bytes(ctx.typeEntries);
    for (const t of hookTypes) out.bytes(t);
  }

  const { imports, hostImports } = writeImports(out, binary, ctx, space);

  {
    const w = new ByteWriter(5 * listed.length + 5);
    w.u32(listed.length);
    for (const f of listed) w.u32(binary.funcTypes[f]!);
    out.section(SectionId.function, w.finish());
  }

  if (counterGlobal.size > 0) {
    const w = new ByteWriter(6 * counterGlobal.size + 5);
    w.u32(counterGlobal.size);
    for (let i = 0; i < counterGlobal.size; i++) w.u8(I32).u8(MUTABLE).u8(I32_CONST).s32(0).u8(END);
    out.section(SectionId.global, w.finish());
  }

  const exports: PieceExport[] = [];
  if (exported.length > 0) {
    const w = new ByteWriter(24 * exported.length + 5);
    w.u32(exported.length);
    for (const index of exported) {
      const ref = { kind: 'function' as const, index };
      const name = entityName(ref);
      w.name(name).u8(FUNCTION_KIND).u32(space.imported + position.get(index)!);
      exports.push({ name, ref });
    }
    out.section(SectionId.export, w.finish());
  }

  // wasm accepts ref.func only of functions declared outside function bodies: declare them.
  if (space.taken.length > 0) {
    const w = new ByteWriter(5 * space.taken.length + 8);
    w.u32(1).u32(DECLARATIVE_FUNCREF_SEGMENT).u8(FUNCREF_ELEMENT_KIND).u32(space.taken.length);
    for (const f of space.taken) w.u32(space.refImport.get(f)!);
    out.section(SectionId.element, w.finish());
  }

  out.u8(SectionId.code).u32(codeSize).u32(plans.length);
  for (const plan of plans) writeBody(out, bytes, plan, space);

  out.bytes(nameSection(binary, listed, space.imported, options.moduleName));
  return { bytes: out.finish(), imports, hostImports, exports };
}

/** The import section, in the order of the piece's index spaces, and its description. */
function writeImports(
  out: ByteWriter,
  binary: ModuleBinary,
  ctx: CutContext,
  space: FunctionSpace,
): { imports: PieceImport[]; hostImports: HostImport[] } {
  const imports: PieceImport[] = [...ctx.entityImports];
  const hostImports: HostImport[] = [];
  const w = new ByteWriter(ctx.entityImportEntries.length + 24 * space.imported + 16);
  w.u32(ctx.entityImports.length + space.imported).bytes(ctx.entityImportEntries);
  for (const f of space.callees) {
    const name = String(f);
    w.name(ctx.functionModule).name(name).u8(FUNCTION_KIND).u32(binary.funcTypes[f]!);
    imports.push({ module: ctx.functionModule, name, ref: { kind: 'function', index: f } });
  }
  for (const f of space.taken) {
    const name = `${REF_IMPORT_PREFIX}${f}`;
    w.name(ctx.functionModule).name(name).u8(FUNCTION_KIND).u32(binary.funcTypes[f]!);
    imports.push({ module: ctx.functionModule, name, ref: { kind: 'function', index: f }, identity: true });
  }
  // The hooks' types follow the module's own types: the grow hooks' first (one for both).
  let hookType = ctx.typeCount;
  const growType = space.growHook >= 0 || space.tableGrowHook >= 0 ? hookType++ : -1;
  if (space.growHook >= 0) {
    w.name(ctx.hostModule).name(MEMORY_GROW_HOOK_NAME).u8(FUNCTION_KIND).u32(growType);
    hostImports.push({ module: ctx.hostModule, name: MEMORY_GROW_HOOK_NAME, host: 'memoryGrow' });
  }
  if (space.tableGrowHook >= 0) {
    w.name(ctx.hostModule).name(TABLE_GROW_HOOK_NAME).u8(FUNCTION_KIND).u32(growType);
    hostImports.push({ module: ctx.hostModule, name: TABLE_GROW_HOOK_NAME, host: 'tableGrow' });
  }
  if (space.reoptimizeHook >= 0) {
    w.name(ctx.hostModule).name(REOPTIMIZE_HOOK_NAME).u8(FUNCTION_KIND).u32(hookType++);
    hostImports.push({ module: ctx.hostModule, name: REOPTIMIZE_HOOK_NAME, host: 'reoptimize' });
  }
  if (imports.length + hostImports.length > 0) out.section(SectionId.import, w.finish());
  return { imports, hostImports };
}

/** Writes one body: size, locals as they are, the prologue, then the expression with its sites rewritten. */
function writeBody(out: ByteWriter, bytes: Uint8Array, plan: BodyPlan, space: FunctionSpace): void {
  const before = out.length;
  out.u32(plan.size).range(bytes, plan.start, plan.exprStart);
  if (plan.prologue) out.bytes(plan.prologue);
  const sites = plan.refs.functionSites;
  const grows = plan.refs.memoryGrowSites;
  const tableGrows = plan.refs.tableGrowSites;
  // The three lists are in body order (one scan wrote them); merge them.
  let pos = plan.exprStart;
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < sites.length || j < grows.length || k < tableGrows.length) {
    const site = sites[i]?.offset ?? Infinity;
    const grow = grows[j] ?? Infinity;
    const tableGrow = tableGrows[k] ?? Infinity;
    if (site < grow && site < tableGrow) {
      const s = sites[i]!;
      out.range(bytes, pos, s.offset).u32(plan.targets[plan.firstTarget + i]!);
      pos = s.offset + s.length;
      i++;
    } else if (grow < tableGrow) {
      // The hook sits before the opcode: it takes the delta memory.grow would, and hands it on.
      out.range(bytes, pos, grow).u8(CALL).u32(space.growHook);
      pos = grow;
      j++;
    } else {
      // table.grow's delta is its top operand too.
      out.range(bytes, pos, tableGrow).u8(CALL).u32(space.tableGrowHook);
      pos = tableGrow;
      k++;
    }
  }
  out.range(bytes, pos, plan.end);
  const written = out.length - before - u32Size(plan.size);
  if (written !== plan.size) throw new Error(`cutPiece: wrote ${written} bytes of a body planned as ${plan.size}`);
}

/**
 * count += 1; if (count == threshold) reoptimize(id); the same observable behaviour as the
 * binaryen tier's counters: the hook is called once, on the threshold-th entry.
 */
function counterPrologue(global: number, threshold: number, id: number, hook: number): Uint8Array {
  return new ByteWriter(32)
    .u8(GLOBAL_GET).u32(global).u8(I32_CONST).s32(1).u8(I32_ADD).u8(GLOBAL_SET).u32(global)
    .u8(GLOBAL_GET).u32(global).u8(I32_CONST).s32(threshold).u8(I32_EQ)
    .u8(IF).u8(EMPTY_BLOCK_TYPE).u8(I32_CONST).s32(id).u8(CALL).u32(hook).u8(END)
    .finish();
}

/** The "name" custom section: the module's name, if any, and each body's display name (what V8 shows in stack traces). */
function nameSection(binary: ModuleBinary, listed: readonly number[], firstBody: number, moduleName: string | undefined): Uint8Array {
  const payload = new ByteWriter(32 * listed.length + 32).name('name');
  if (moduleName !== undefined) {
    const sub = new ByteWriter(moduleName.length * 3 + 5).name(moduleName).finish();
    payload.u8(NAME_MODULE).u32(sub.length).bytes(sub);
  }
  const fns = new ByteWriter(32 * listed.length + 5).u32(listed.length);
  listed.forEach((index, k) => fns.u32(firstBody + k).name(displayName(binary, index)));
  const sub = fns.finish();
  payload.u8(NAME_FUNCTIONS).u32(sub.length).bytes(sub);
  return new ByteWriter().section(SectionId.custom, payload.finish()).finish();
}
