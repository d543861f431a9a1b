// Test helpers for the wasm layer: load a module (from WAT, as the JIT's optimizer thread turns
// it into a binary, or from bytes), instantiate it directly, or split it (globals module + cut
// pieces) and link the pieces by hand the way the JIT does: every function is reached through a
// stub that call_indirects through its slot in a funcref table, a slot is filled with the body
// once that body is compiled, and a piece's `identity` imports (its ref.func targets) are bound
// to stubs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidModule } from '../../src/core/errors.ts';
import { ByteWriter } from '../../src/wasm/bytes.ts';
import {
  buildGlobalsModule,
  cutPiece,
  describeOptimizedPiece,
  entityName,
  WasmModule,
  type CompiledPiece,
  type EntryCounters,
  type EntityRef,
  type FuncType,
  type HostFunction,
  type ValType,
} from '../../src/wasm/index.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { optimizeBinary, watToBinary } from '../../src/wasm/optimizing.ts';

export type Imports = Record<string, Record<string, WebAssembly.ExportValue>>;

export function instantiateDirect(bytes: Uint8Array, imports: Imports = {}): WebAssembly.Instance {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), imports);
}

/**
 * A module from WAT, loaded synchronously without V8's validation (binaryen validated the text):
 * the binary is what the JIT gets from its optimizer thread for a WAT add, names included.
 */
export function moduleFromWat(wat: string): WasmModule {
  return new WasmModule(decodeModuleBinary(watToBinary(wat)));
}

/** wabt's wat2wasm, for binaries binaryen would write differently (or not at all). */
export function wat2wasm(text: string, flags: readonly string[] = []): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-test-'));
  try {
    writeFileSync(join(dir, 'm.wat'), text);
    execFileSync('wat2wasm', [...flags, join(dir, 'm.wat'), '-o', join(dir, 'm.wasm')], { stdio: 'pipe' });
    return new Uint8Array(readFileSync(join(dir, 'm.wasm')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const VALTYPE_BYTE: Record<ValType, number> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
};

function typeSection(type: FuncType): Uint8Array {
  const types = new ByteWriter().u32(1).u8(0x60).u32(type.params.length);
  for (const p of type.params) types.u8(VALTYPE_BYTE[p]);
  types.u32(type.results.length);
  for (const r of type.results) types.u8(VALTYPE_BYTE[r]);
  return types.finish();
}

const HEADER = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);

/** A module exporting "stub": it calls, through `call_indirect`, whatever sits in table slot `slot`. */
function stubModuleBytes(type: FuncType): Uint8Array {
  const w = new ByteWriter();
  w.bytes(HEADER);
  w.section(1, typeSection(type));
  const imports = new ByteWriter().u32(2);
  imports.name('s').name('t').u8(0x01).u8(0x70).u8(0x00).u32(0);
  imports.name('s').name('slot').u8(0x03).u8(0x7f).u8(0x00);
  w.section(2, imports.finish());
  w.section(3, new ByteWriter().u32(1).u32(0).finish());
  w.section(7, new ByteWriter().u32(1).name('stub').u8(0).u32(0).finish());
  const body = new ByteWriter().u32(0);
  type.params.forEach((_, i) => body.u8(0x20).u32(i));
  body.u8(0x23).u32(0).u8(0x11).u32(0).u32(0).u8(0x0b);
  const code = body.finish();
  w.section(10, new ByteWriter().u32(1).u32(code.length).bytes(code).finish());
  return w.finish();
}

/** A module that imports "s" "f" at `type` and exports it as "f": how wasm re-exports an import. */
function reexportModuleBytes(type: FuncType): Uint8Array {
  const w = new ByteWriter();
  w.bytes(HEADER);
  w.section(1, typeSection(type));
  w.section(2, new ByteWriter().u32(1).name('s').name('f').u8(0x00).u32(0).finish());
  w.section(7, new ByteWriter().u32(1).name('f').u8(0).u32(0).finish());
  return w.finish();
}

export interface SplitInstance {
  readonly globals: CompiledPiece;
  readonly pieces: readonly CompiledPiece[];
  /** The original module's exports, as a direct instantiation would have them. */
  readonly exports: Record<string, WebAssembly.ExportValue>;
  /** What the functions of the globals module import, by name, for inspection. */
  readonly globalsInstance: WebAssembly.Instance;
  /** Each function's stub: its canonical reference, the one element segments put in tables. */
  readonly stub: (index: number) => WebAssembly.ExportValue;
  /** Instantiates a further piece of the module (an optimized one, say) linked as the JIT links it. */
  readonly link: (piece: CompiledPiece) => WebAssembly.Instance;
  /** Points function `index`'s stub at `body`, as the JIT does when a new tier replaces the old. */
  readonly replace: (index: number, body: WebAssembly.ExportValue) => void;
}

/** The executor's own functions, as pieces import them (HostImports). */
export interface HostHooks {
  /** Sees memory.grow's delta, returns the delta to grow by (or -1); default: the delta. */
  readonly memoryGrow?: (delta: number) => number;
  /** Sees table.grow's delta, returns the delta to grow by (or -1); default: the delta. */
  readonly tableGrow?: (delta: number) => number;
  readonly reoptimize?: (id: number) => void;
}

export interface SplitOptions {
  /** Partitions of defined functions to cut together; default: one piece per function. */
  readonly groups?: readonly (readonly number[])[];
  /** One piece holding every defined function outside the globals module (when `groups` is absent). */
  readonly onePiece?: boolean;
  readonly entryCounters?: EntryCounters;
  /**
   * Each piece then goes through binaryen as the optimized tier's do (optimizeBinary at this
   * level, unused imports dropped, read back by describeOptimizedPiece). A piece binaryen cannot
   * optimize stays as cut, as the JIT keeps the baseline then.
   */
  readonly optimizeLevel?: number;
  /** Told of every piece optimized (null) or left as cut (binaryen's error). */
  readonly optimized?: (error: unknown) => void;
  readonly hooks?: HostHooks;
}

/** Stubs the way IndirectStubsManager makes them: one per function, call_indirect through its slot. */
export interface Stubs {
  readonly slots: WebAssembly.Table;
  stub(index: number): WebAssembly.ExportValue;
  /** Points function `index`'s slot at `body`. */
  fill(index: number, body: WebAssembly.ExportValue): void;
}

export function createStubs(count: number, typeOf: (index: number) => FuncType): Stubs {
  const slots = new WebAssembly.Table({ element: 'anyfunc', initial: count });
  const stubModules = new Map<string, WebAssembly.Module>();
  const stubs = new Map<number, WebAssembly.ExportValue>();
  return {
    slots,
    stub(index) {
      const existing = stubs.get(index);
      if (existing) return existing;
      const type = typeOf(index);
      const key = JSON.stringify(type);
      let mod = stubModules.get(key);
      if (!mod) stubModules.set(key, (mod = new WebAssembly.Module(stubModuleBytes(type) as Uint8Array<ArrayBuffer>)));
      const inst = new WebAssembly.Instance(mod, { s: { t: slots, slot: new WebAssembly.Global({ value: 'i32' }, index) } });
      const s = inst.exports['stub']!;
      stubs.set(index, s);
      return s;
    },
    fill(index, body) {
      slots.set(index, body as WebAssembly.ExportValue & ((...a: unknown[]) => unknown));
    },
  };
}

/** Where a linker finds what a piece imports. */
export interface PieceBindings {
  /** Memories, tables and globals (the globals module's exports). */
  readonly entity: (ref: EntityRef) => WebAssembly.ExportValue;
  /** What a call to function `index` binds to: its compiled body once there is one, else its stub. */
  readonly callee: (index: number) => WebAssembly.ExportValue;
  /** Function `index`'s canonical reference (for `identity` imports). */
  readonly canonical: (index: number) => WebAssembly.ExportValue;
  readonly hooks?: HostHooks | undefined;
}

function hostHook(host: HostFunction, hooks: HostHooks | undefined): (n: number) => unknown {
  const passThrough = (delta: number) => delta;
  switch (host) {
    case 'memoryGrow':
      return hooks?.memoryGrow ?? passThrough;
    case 'tableGrow':
      return hooks?.tableGrow ?? passThrough;
    case 'reoptimize':
      return hooks?.reoptimize ?? (() => {});
  }
}

/** The import object for `piece`, bound the way the JIT binds it. */
export function pieceImports(piece: CompiledPiece, b: PieceBindings): Imports {
  const obj: Imports = {};
  for (const imp of piece.imports) {
    const value = imp.ref.kind !== 'function' ? b.entity(imp.ref) : imp.identity ? b.canonical(imp.ref.index) : b.callee(imp.ref.index);
    (obj[imp.module] ??= {})[imp.name] = value;
  }
  for (const h of piece.hostImports) {
    (obj[h.module] ??= {})[h.name] = hostHook(h.host, b.hooks);
  }
  return obj;
}

export function instantiateSplit(m: WasmModule, host: Imports = {}, opts: SplitOptions = {}): SplitInstance {
  const { info } = m;
  const importedFunctions = info.functions.filter((f) => f.imported).length;
  // A missing host value stays undefined, so instantiation fails with V8's LinkError.
  const originalImport = (ref: EntityRef): WebAssembly.ExportValue => {
    const imp = info.imports.find((i) => i.kind === ref.kind && i.index === ref.index);
    return (imp ? host[imp.module]?.[imp.name] : undefined) as WebAssembly.ExportValue;
  };

  const stubs = createStubs(info.functions.length, (index) => info.functions[index]!.type);
  const bodies = new Map<number, WebAssembly.ExportValue>();
  const functionValue = (index: number) =>
    index < importedFunctions ? originalImport({ kind: 'function', index }) : (bodies.get(index) ?? stubs.stub(index));
  const canonical = (index: number) => (index < importedFunctions ? originalImport({ kind: 'function', index }) : stubs.stub(index));
  // Each piece counts the entries of the counted functions it holds.
  const countersFor = (group: readonly number[]): { entryCounters?: EntryCounters } => {
    const c = opts.entryCounters;
    if (!c) return {};
    const ids = new Map([...c.ids].filter(([index]) => group.includes(index)));
    return ids.size > 0 ? { entryCounters: { threshold: c.threshold, ids } } : {};
  };
  const compile = (group: readonly number[]): CompiledPiece => {
    const cut = cutPiece(m.binary, (i) => m.references(i), { functions: group, ...countersFor(group) });
    if (opts.optimizeLevel === undefined) return cut;
    try {
      const piece = describeOptimizedPiece(cut, optimizeBinary(cut.bytes, { level: opts.optimizeLevel, keepImports: false }));
      opts.optimized?.(null);
      return piece;
    } catch (e) {
      opts.optimized?.(e);
      return cut;
    }
  };

  const bind = (piece: CompiledPiece, value: (ref: EntityRef, module: string, name: string) => WebAssembly.ExportValue): Imports => {
    const obj: Imports = {};
    for (const imp of piece.imports) (obj[imp.module] ??= {})[imp.name] = value(imp.ref, imp.module, imp.name);
    return obj;
  };

  const kept = m.functionsUsingSegments();
  const globals = buildGlobalsModule(m, { keepFunctions: kept });
  const isOriginalImport = (module: string, name: string) => info.imports.some((i) => i.module === module && i.name === name);
  const defined = info.functions.filter((f) => !f.imported && !kept.includes(f.index)).map((f) => f.index);
  const groups = opts.groups ?? (opts.onePiece ? (defined.length > 0 ? [defined] : []) : defined.map((i) => [i]));
  const pieces: CompiledPiece[] = [];
  const fillSlots = () => {
    for (const [index, body] of bodies) stubs.fill(index, body);
  };
  const compilePieces = (entity: (ref: EntityRef) => WebAssembly.ExportValue) => {
    for (const group of groups) {
      const piece = compile(group);
      pieces.push(piece);
      const inst = instantiateDirect(piece.bytes, pieceImports(piece, { entity, callee: functionValue, canonical, hooks: opts.hooks }));
      for (const exp of piece.exports) bodies.set(exp.ref.index, inst.exports[exp.name]!);
    }
  };

  let globalsInstance: WebAssembly.Instance;
  try {
    globalsInstance = instantiateDirect(
      globals.bytes,
      bind(globals, (ref, module, name) => (ref.kind === 'function' && !isOriginalImport(module, name) ? functionValue(ref.index) : originalImport(ref))),
    );
  } catch (e) {
    // Element segments written before a trap stay in (imported) tables and hold stubs. A lazy JIT
    // can still compile the bodies that need nothing from the failed globals module: do that.
    // What it can still bind: the original module's imports, and its defined memories (the
    // executor creates those before any instantiation); never a table or global the failed
    // globals module defined.
    if (e instanceof WebAssembly.RuntimeError) {
      const memories = new Map<number, WebAssembly.Memory>();
      const entity = (ref: EntityRef): WebAssembly.ExportValue => {
        if (info.imports.some((i) => i.kind === ref.kind && i.index === ref.index)) return originalImport(ref);
        if (ref.kind !== 'memory') return undefined!;
        let mem = memories.get(ref.index);
        if (!mem) {
          const t = m.binary.memories[ref.index]!;
          memories.set(ref.index, (mem = new WebAssembly.Memory({ initial: t.initial, ...(t.maximum !== undefined ? { maximum: t.maximum } : {}), ...(t.shared ? { shared: true } : {}) })));
        }
        return mem;
      };
      for (const group of groups) {
        try {
          const piece = compile(group);
          const inst = instantiateDirect(piece.bytes, pieceImports(piece, { entity, callee: functionValue, canonical, hooks: opts.hooks }));
          for (const exp of piece.exports) bodies.set(exp.ref.index, inst.exports[exp.name]!);
        } catch {
          // needs the globals module
        }
      }
      fillSlots();
    }
    throw e;
  }
  for (const index of kept) bodies.set(index, globalsInstance.exports[entityName({ kind: 'function', index })]!);
  const fromGlobals = (ref: EntityRef): WebAssembly.ExportValue => globalsInstance.exports[entityName(ref)]!;
  compilePieces(fromGlobals);
  fillSlots();

  if (globals.start) (functionValue(globals.start.index) as () => void)();

  const reexported = (index: number): WebAssembly.ExportValue => {
    const mod = new WebAssembly.Module(reexportModuleBytes(info.functions[index]!.type) as Uint8Array<ArrayBuffer>);
    return new WebAssembly.Instance(mod, { s: { f: originalImport({ kind: 'function', index }) } }).exports['f']!;
  };
  const exports: Record<string, WebAssembly.ExportValue> = {};
  for (const e of info.exports) {
    if (e.kind !== 'function') exports[e.name] = globalsInstance.exports[entityName({ kind: e.kind, index: e.index })]!;
    else exports[e.name] = e.index < importedFunctions ? reexported(e.index) : functionValue(e.index);
  }
  const link = (piece: CompiledPiece): WebAssembly.Instance =>
    instantiateDirect(piece.bytes, pieceImports(piece, { entity: fromGlobals, callee: functionValue, canonical, hooks: opts.hooks }));
  return { globals, pieces, exports, globalsInstance, stub: stubs.stub, link, replace: stubs.fill };
}

/**
 * A module with `count` small functions: f_k multiplies its argument by k and adds f_(k/2) of
 * it; every 7th also stores into memory and bumps a global. Exports f_0, f_1 and f_(count-1).
 */
export function manyFunctionsWat(count: number): string {
  const parts = ['(module', ' (memory 1)', ' (global $counter (mut i32) (i32.const 0))'];
  for (let k = 0; k < count; k++) {
    const exported = k <= 1 || k === count - 1 ? ` (export "f${k}")` : '';
    let body = `local.get 0 i32.const ${k} i32.mul`;
    if (k > 0) body += ` local.get 0 call $f${k >> 1} i32.add`;
    if (k % 7 === 0) {
      body += ` i32.const ${(k % 1000) * 4} local.get 0 i32.store global.get $counter i32.const 1 i32.add global.set $counter`;
    }
    parts.push(` (func $f${k}${exported} (param i32) (result i32) ${body})`);
  }
  parts.push(')');
  return parts.join('\n');
}

/** Runs fn, which must throw InvalidModule with non-empty string diagnostics; returns them joined. */
export async function invalidDiagnostics(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof InvalidModule)) throw e;
    if (e.diagnostics.length === 0 || !e.diagnostics.every((d) => typeof d === 'string' && d.length > 0)) {
      throw new Error(`InvalidModule without usable diagnostics: ${JSON.stringify(e.diagnostics)}`);
    }
    return e.diagnostics.join('\n');
  }
  throw new Error('accepted');
}

/** Runs fn with stdout/stderr writes recorded, to check nothing leaks onto the console. */
export async function silently<T>(fn: () => T | Promise<T>): Promise<{ value: T; printed: string }> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  let printed = '';
  const rec = ((chunk: unknown) => {
    printed += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = rec;
  process.stderr.write = rec;
  try {
    return { value: await fn(), printed };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
