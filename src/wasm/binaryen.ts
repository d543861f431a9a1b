// The one door to binaryen: every other file of the project works through this wrapper, as
// AssemblyScript does with its src/module.ts. It owns the things binaryen makes global or easy
// to get wrong: the feature set, the optimizer's global options (set right before each use),
// capturing what binaryen prints (its validator writes to stderr), and never emitting a module
// that has not validated (binaryen aborts on that).

import binaryen from 'binaryen';
import type { FuncType, GlobalType, MemoryType, TableType, ValType } from './types.ts';

/**
 * What Node 24's V8 runs and binaryen emits without changing how it writes types: no GC,
 * strings, exceptions, memory64 or multi-memory (binaryen.js cannot enumerate memories).
 */
export const FEATURES: number =
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SIMD128 |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SignExt |
  binaryen.Features.TailCall |
  binaryen.Features.ReferenceTypes |
  binaryen.Features.Multivalue |
  binaryen.Features.ExtendedConst |
  binaryen.Features.CallIndirectOverlong |
  binaryen.Features.Atomics |
  binaryen.Features.RelaxedSIMD;

/** binaryen refused the input or failed; `diagnostics` is what it said, line groups as strings. */
export class BinaryenError extends Error {
  readonly diagnostics: readonly string[];
  constructor(message: string, diagnostics: readonly string[]) {
    super(message);
    this.diagnostics = diagnostics;
  }
}

// The C API functions this wrapper calls directly; binaryen.js exports them untyped.
interface RawApi {
  _BinaryenFunctionGetName(f: number): number;
  _BinaryenFunctionGetBody(f: number): number;
  _BinaryenFunctionSetBody(f: number, body: number): void;
  _BinaryenGlobalGetName(g: number): number;
  _BinaryenGlobalGetInitExpr(g: number): number;
  _BinaryenTableGetName(t: number): number;
  _BinaryenDataSegmentGetName(d: number): number;
  _BinaryenElementSegmentGetName(e: number): number;
  _BinaryenGetNumDataSegments(m: number): number;
  _BinaryenGetDataSegmentByIndex(m: number, i: number): number;
  __i32_load8_u(ptr: number): number;
  /** For the C++ exceptions binaryen throws (they carry no JS message): [type, what()]. */
  getExceptionMessage(e: unknown): [string, string];
}
const raw = binaryen as unknown as RawApi;

const MAX_DIAGNOSTICS = 50;
const MAX_DIAGNOSTIC_LENGTH = 4000;

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Reads a NUL-terminated UTF-8 string out of binaryen's heap. */
function cString(ptr: number): string {
  if (ptr === 0) return '';
  const bytes: number[] = [];
  let ascii = true;
  for (let p = ptr; ; p++) {
    const b = raw.__i32_load8_u(p);
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    bytes.push(b);
  }
  return ascii && bytes.length < 256 ? String.fromCharCode(...bytes) : utf8.decode(Uint8Array.from(bytes));
}

type Write = typeof process.stdout.write;

/**
 * Runs `fn` with process.stdout/stderr writes collected instead of printed. binaryen.js bound
 * console.log/error when it loaded, and those end in the streams' write methods, so this is the
 * one place its output can be caught. Synchronous, so nothing else can print meanwhile.
 */
function captureOutput<T>(fn: () => T): { value: T; output: string } | { error: unknown; output: string } {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const collect = ((chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  }) as Write;
  process.stdout.write = collect;
  process.stderr.write = collect;
  try {
    return { value: fn(), output: chunks.join('') };
  } catch (error) {
    return { error, output: chunks.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** Splits captured output into one diagnostic per validator/parser message. */
function toDiagnostics(output: string): string[] {
  const parts = output
    .split(/(?=\[wasm-validator error|\[parse exception|\[wasm-validator warning)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const limited = parts.slice(0, MAX_DIAGNOSTICS).map((s) =>
    s.length > MAX_DIAGNOSTIC_LENGTH ? `${s.slice(0, MAX_DIAGNOSTIC_LENGTH)}...` : s,
  );
  if (parts.length > MAX_DIAGNOSTICS) limited.push(`(${parts.length - MAX_DIAGNOSTICS} more diagnostics)`);
  return limited;
}

/**
 * binaryen's stderr is line-buffered inside its own runtime: a message without a final newline
 * (the binary reader's "[parse exception: ...]") stays there until the next newline. Validating
 * a module made to fail pushes it out; what precedes the validator's own message is the rest.
 */
function flushPendingOutput(): string {
  const probe = new binaryen.Module();
  try {
    probe.addGlobal('g', binaryen.i32, false, probe.i32.const(0));
    probe.addFunction('f', binaryen.none, binaryen.none, [], probe.global.set('g', probe.i32.const(1)));
    const captured = captureOutput(() => probe.validate());
    const cut = captured.output.indexOf('[wasm-validator error');
    return cut > 0 ? captured.output.slice(0, cut) : '';
  } finally {
    probe.dispose();
  }
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string') return e.message;
  try {
    return raw.getExceptionMessage(e)[1];
  } catch {
    return 'binaryen failed';
  }
}

function load(what: string, fn: () => binaryen.Module): BModule {
  const captured = captureOutput(fn);
  if ('value' in captured) {
    const m = new BModule(captured.value);
    m.setFeatures();
    return m;
  }
  const output = captured.output + flushPendingOutput();
  const diagnostics = [...toDiagnostics(output)];
  const message = errorMessage(captured.error);
  if (!diagnostics.some((d) => d.includes(message))) diagnostics.unshift(message);
  throw new BinaryenError(`${what}: ${message}`, diagnostics);
}

export function parseWat(text: string): BModule {
  return load('The WAT text does not parse', () => binaryen.parseText(text));
}

export function readWasm(bytes: Uint8Array): BModule {
  // binaryen.js takes the feature set as a second argument its typings leave out.
  const read = binaryen.readBinary as (data: Uint8Array, features: number) => binaryen.Module;
  return load('binaryen cannot read the binary', () => read(bytes, FEATURES));
}

export function newModule(): BModule {
  const m = new BModule(new binaryen.Module());
  m.setFeatures();
  return m;
}

const BINARYEN_VALTYPE: Record<ValType, number> = {
  i32: binaryen.i32,
  i64: binaryen.i64,
  f32: binaryen.f32,
  f64: binaryen.f64,
  v128: binaryen.v128,
  funcref: binaryen.funcref,
  externref: binaryen.externref,
};

function typeOf(types: readonly ValType[]): number {
  return binaryen.createType(types.map((t) => BINARYEN_VALTYPE[t]));
}

/** Passes that drop or merge imports; skipped when a module's imports must stay as declared. */
const IMPORT_REMOVING_PASSES = [
  'remove-unused-module-elements',
  'remove-unused-nonfunction-module-elements',
  'duplicate-import-elimination',
];

export interface NamedEntity {
  readonly name: string;
  readonly imported: boolean;
}

/** A binaryen module. Whoever creates one disposes it. */
export class BModule {
  #m: binaryen.Module | null;

  constructor(m: binaryen.Module) {
    this.#m = m;
  }

  get #mod(): binaryen.Module {
    if (this.#m === null) throw new Error('binaryen module used after dispose()');
    return this.#m;
  }

  setFeatures(): void {
    this.#mod.setFeatures(FEATURES);
  }

  dispose(): void {
    this.#m?.dispose();
    this.#m = null;
  }

  /** Validator messages; empty when the module is valid. */
  validate(): string[] {
    const m = this.#mod;
    const captured = captureOutput(() => m.validate());
    if ('error' in captured) return [errorMessage(captured.error), ...toDiagnostics(captured.output)];
    if (captured.value) return [];
    const diagnostics = toDiagnostics(captured.output);
    return diagnostics.length > 0 ? diagnostics : ['binaryen validation failed'];
  }

  /** Emits the binary; `names` keeps the name section so traps show wasm function names. */
  emit(names: boolean): Uint8Array {
    binaryen.setDebugInfo(names);
    return this.#mod.emitBinary();
  }

  /** Runs binaryen's default pipeline at `level` (0 does nothing). */
  optimize(level: number, opts: { keepImports: boolean }): void {
    if (level <= 0) return;
    binaryen.setOptimizeLevel(level);
    binaryen.setShrinkLevel(0);
    binaryen.setDebugInfo(false);
    binaryen.clearPassesToSkip();
    if (opts.keepImports) for (const p of IMPORT_REMOVING_PASSES) binaryen.addPassToSkip(p);
    try {
      this.#mod.optimize();
    } finally {
      binaryen.clearPassesToSkip();
    }
  }

  /** Function-level optimization only: the module's imports, exports and segments stay as they are. */
  optimizeFunctions(names: readonly string[], level: number): void {
    if (level <= 0) return;
    binaryen.setOptimizeLevel(level);
    binaryen.setShrinkLevel(0);
    binaryen.setDebugInfo(false);
    binaryen.clearPassesToSkip();
    for (const name of names) this.#mod.optimizeFunction(name);
  }

  functions(): NamedEntity[] {
    const m = this.#mod;
    const out: NamedEntity[] = [];
    for (let i = 0, n = m.getNumFunctions(); i < n; i++) {
      const f = m.getFunctionByIndex(i);
      out.push({ name: cString(raw._BinaryenFunctionGetName(f)), imported: raw._BinaryenFunctionGetBody(f) === 0 });
    }
    return out;
  }

  globals(): NamedEntity[] {
    const m = this.#mod;
    const out: NamedEntity[] = [];
    for (let i = 0, n = m.getNumGlobals(); i < n; i++) {
      const g = m.getGlobalByIndex(i);
      out.push({ name: cString(raw._BinaryenGlobalGetName(g)), imported: raw._BinaryenGlobalGetInitExpr(g) === 0 });
    }
    return out;
  }

  /** Table names in module order (imports first, as binaryen keeps them). */
  tableNames(): string[] {
    const m = this.#mod;
    const out: string[] = [];
    for (let i = 0, n = m.getNumTables(); i < n; i++) out.push(cString(raw._BinaryenTableGetName(m.getTableByIndex(i))));
    return out;
  }

  dataSegmentNames(): string[] {
    const ptr = this.#mod.ptr;
    const out: string[] = [];
    for (let i = 0, n = raw._BinaryenGetNumDataSegments(ptr); i < n; i++) {
      out.push(cString(raw._BinaryenDataSegmentGetName(raw._BinaryenGetDataSegmentByIndex(ptr, i))));
    }
    return out;
  }

  elementSegmentNames(): string[] {
    const m = this.#mod;
    const out: string[] = [];
    for (let i = 0, n = m.getNumElementSegments(); i < n; i++) {
      out.push(cString(raw._BinaryenElementSegmentGetName(m.getElementSegmentByIndex(i))));
    }
    return out;
  }

  hasMemory(name: string): boolean {
    const m = this.#mod;
    if (!m.hasMemory()) return false;
    // binaryen.js has no way to list memory names; asking about a missing one throws.
    const captured = captureOutput(() => m.getMemoryInfo(name));
    return 'value' in captured;
  }

  importFunction(internalName: string, module: string, base: string, type: FuncType): void {
    this.#mod.addFunctionImport(internalName, module, base, typeOf(type.params), typeOf(type.results));
  }

  importGlobal(internalName: string, module: string, base: string, type: GlobalType): void {
    this.#mod.addGlobalImport(internalName, module, base, BINARYEN_VALTYPE[type.type], type.mutable);
  }

  importTable(internalName: string, module: string, base: string, type: TableType): void {
    const m = this.#mod;
    // binaryen.js takes the element type as a fourth argument its typings leave out.
    const addTable = m.addTable.bind(m) as (name: string, initial: number, maximum: number, type: number) => number;
    addTable(internalName, type.initial, type.maximum ?? -1, BINARYEN_VALTYPE[type.elementType]);
    m.addTableImport(internalName, module, base);
  }

  /** binaryen.js supports one memory: this replaces any memory the module has. */
  importMemory(internalName: string, module: string, base: string, type: MemoryType): void {
    const m = this.#mod;
    const shared = type.shared === true;
    m.setMemory(type.initial, type.maximum ?? -1, null, [], shared, false, internalName);
    m.addMemoryImport(internalName, module, base, shared);
  }

  /** Copies function `name` (signature, locals and body) from `from`; cost follows the body. */
  copyFunction(from: BModule, name: string): void {
    const src = from.#mod.getFunction(name);
    const info = binaryen.getFunctionInfo(src);
    const m = this.#mod;
    m.addFunction(name, info.params, info.results, info.vars, m.copyExpression(info.body));
  }

  exportFunction(internalName: string, externalName: string): void {
    this.#mod.addFunctionExport(internalName, externalName);
  }

  /** A function or global name not used in this module yet, made from `base`. */
  freshName(base: string): string {
    const m = this.#mod;
    let name = base;
    for (let i = 1; m.getFunction(name) !== 0 || m.getGlobal(name) !== 0; i++) name = `${base}${i}`;
    return name;
  }

  /**
   * Makes function `name` count its entries in a mutable global of its own and call `hook(id)`
   * on the entry that brings the count to `threshold`; then it runs its body as before. This is
   * the instrumentation of ORC's ReOptimizeLayer: one global increment per call, and a call out
   * only once.
   */
  addEntryCounter(name: string, hook: string, id: number, threshold: number): void {
    const m = this.#mod;
    const fn = m.getFunction(name);
    const info = binaryen.getFunctionInfo(fn);
    const counter = this.freshName(`${name}:entries`);
    m.addGlobal(counter, binaryen.i32, true, m.i32.const(0));
    const count = m.global.set(counter, m.i32.add(m.global.get(counter, binaryen.i32), m.i32.const(1)));
    const reached = m.i32.eq(m.global.get(counter, binaryen.i32), m.i32.const(threshold | 0));
    const fire = m.if(reached, m.call(hook, [m.i32.const(id | 0)], binaryen.none));
    raw._BinaryenFunctionSetBody(fn, m.block(null, [count, fire, info.body], info.results));
  }
}
