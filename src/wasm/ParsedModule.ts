// A module that has been parsed and validated, once: the IRLayer's input. It holds the binary
// of record (the bytes V8 validated, memories clamped), binaryen's IR of it (the source that
// extraction copies bodies from), the ModuleInfo, and per-function references computed on
// demand. Parsing costs one binaryen parse plus validation and one V8 validation; no function
// body is walked until something asks about it.

import { InvalidModule } from '../core/errors.ts';
import { BinaryenError, parseWat, readWasm, type BModule } from './binaryen.ts';
import { MalformedBinary } from './bytes.ts';
import { scanBody, skipLocals, type CodeReferences } from './codeScan.ts';
import { chooseFunctionModule } from './linkNames.ts';
import { emptyDeclarativeSegments } from './declarativeSegments.ts';
import { clampMemories } from './memoryLimits.ts';
import { clampTables } from './tableLimits.ts';
import { decodeModuleBinary, type ModuleBinary } from './moduleBinary.ts';
import { buildModuleInfo, type ModuleInfo } from './moduleInfo.ts';

export type ModuleSource = { readonly wat: string } | { readonly wasm: Uint8Array };

export interface ParseOptions {
  /** Cap, in 64 KiB pages, on every memory the module defines. */
  readonly memoryMaxPages?: number | undefined;
  /** Cap, in elements, on every table the module defines. */
  readonly tableMaxElements?: number | undefined;
}

/**
 * What the builders in this directory (globals module, extraction, whole-module compile) need
 * beyond ModuleInfo. Other layers should not need it.
 */
export interface ModuleLayout {
  readonly binary: ModuleBinary;
  readonly ir: BModule;
  /** binaryen's name of every function / global / table, by index in the original module. */
  readonly functionNames: readonly string[];
  readonly globalNames: readonly string[];
  readonly tableNames: readonly string[];
  /** binaryen's name of the module's memory (binaryen.js handles one), or null without one. */
  readonly memoryName: string | null;
  /** The module name the globals module imports functions from (see linkNames.ts). */
  readonly functionModule: string;
}

const FC_PREFIX = 0xfc;

export class ParsedModule {
  readonly info: ModuleInfo;
  /** The binary of record: what V8 validated, with memories clamped. */
  readonly bytes: Uint8Array;
  readonly #layout: ModuleLayout;
  readonly #scans: (CodeReferences | undefined)[];
  /** Without a data count section or element segments no body can use segment instructions. */
  readonly #mayUseSegments: boolean;
  #disposed = false;

  constructor(binary: ModuleBinary, ir: BModule) {
    this.bytes = binary.bytes;
    this.#scans = new Array<CodeReferences | undefined>(binary.funcTypes.length);
    this.#mayUseSegments = binary.dataCount !== null || binary.elements.length > 0;
    this.#layout = {
      binary,
      ir,
      ...namesFromIR(binary, ir),
      functionModule: chooseFunctionModule(binary.imports.map((i) => i.module)),
    };
    this.info = buildModuleInfo(binary, this.#layout.functionNames, {
      usesSegments: (i) => this.#usesSegments(i),
      size: (i) => this.references(i).instructions,
    });
  }

  get layout(): ModuleLayout {
    if (this.#disposed) throw new Error('ParsedModule used after dispose()');
    return this.#layout;
  }

  /** What defined function `index` references, by index; scanned once, on first request. */
  references(index: number): CodeReferences {
    const cached = this.#scans[index];
    if (cached) return cached;
    const { binary } = this.#layout;
    const entry = binary.code[index - binary.importedFunctions];
    if (!entry) throw new RangeError(`function ${index} is not a function this module defines`);
    let refs: CodeReferences;
    try {
      refs = scanBody(binary.bytes, skipLocals(binary.bytes, entry.start, entry.end), entry.end);
    } catch (e) {
      if (e instanceof MalformedBinary) throw new InvalidModule(`Cannot read the body of function ${index}: ${e.message}`, [e.message]);
      throw e;
    }
    this.#scans[index] = refs;
    return refs;
  }

  /** Indices of the defined functions that use segment instructions (they belong in the globals module). */
  functionsUsingSegments(): number[] {
    const out: number[] = [];
    for (let i = this.#layout.binary.importedFunctions; i < this.#scans.length; i++) {
      if (this.#usesSegments(i)) out.push(i);
    }
    return out;
  }

  #usesSegments(index: number): boolean {
    if (!this.#mayUseSegments) return false;
    const { binary } = this.#layout;
    const entry = binary.code[index - binary.importedFunctions];
    if (!entry) return false;
    // Segment instructions all start with the 0xfc prefix; most bodies never contain that byte.
    const at = binary.bytes.indexOf(FC_PREFIX, entry.start);
    if (at < 0 || at >= entry.end) return false;
    return this.references(index).usesSegments;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#layout.ir.dispose();
  }
}

/** Matches binaryen's names to the binary's index spaces (imports first, then definitions). */
function namesFromIR(binary: ModuleBinary, ir: BModule) {
  const functions = ir.functions();
  const globals = ir.globals();
  if (functions.length !== binary.funcTypes.length || functions.filter((f) => f.imported).length !== binary.importedFunctions) {
    throw new Error('binaryen and the binary disagree about the functions');
  }
  if (globals.length !== binary.globals.length || globals.filter((g) => g.imported).length !== binary.importedGlobals) {
    throw new Error('binaryen and the binary disagree about the globals');
  }
  const byIndexSpace = (list: readonly { name: string; imported: boolean }[]) => [
    ...list.filter((e) => e.imported).map((e) => e.name),
    ...list.filter((e) => !e.imported).map((e) => e.name),
  ];
  const tableNames = ir.tableNames();
  if (tableNames.length !== binary.tables.length) throw new Error('binaryen and the binary disagree about the tables');
  return {
    functionNames: byIndexSpace(functions),
    globalNames: byIndexSpace(globals),
    tableNames,
    memoryName: memoryName(binary, ir),
  };
}

/**
 * binaryen.js cannot list memory names. binaryen takes the name section's name, or calls an
 * imported memory "mimport$0" and a defined one "0"; each guess is checked against the IR.
 */
function memoryName(binary: ModuleBinary, ir: BModule): string | null {
  if (binary.memories.length === 0) return null;
  const candidates = [binary.memoryNames.get(0), binary.importedMemories > 0 ? 'mimport$0' : '0', '0', 'mimport$0'];
  for (const c of candidates) if (c !== undefined && ir.hasMemory(c)) return c;
  throw new Error('cannot find binaryen’s name for the memory');
}

function compileErrorMessage(bytes: Uint8Array): string | null {
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function decode(bytes: Uint8Array): ModuleBinary {
  try {
    return decodeModuleBinary(bytes);
  } catch (e) {
    if (e instanceof MalformedBinary) throw new InvalidModule(`The module uses something this JIT does not support: ${e.message}`, [e.message]);
    throw e;
  }
}

function clamp(binary: ModuleBinary, opts: ParseOptions): ModuleBinary {
  let b = binary;
  if (opts.memoryMaxPages !== undefined) {
    const bytes = clampMemories(b, opts.memoryMaxPages);
    if (bytes !== b.bytes) b = decode(bytes);
  }
  if (opts.tableMaxElements !== undefined) {
    const bytes = clampTables(b, opts.tableMaxElements);
    if (bytes !== b.bytes) b = decode(bytes);
  }
  return b;
}

function withoutDeclarativeSegments(binary: ModuleBinary): ModuleBinary {
  const bytes = emptyDeclarativeSegments(binary);
  return bytes === binary.bytes ? binary : decode(bytes);
}

function toInvalidModule(e: unknown): never {
  if (e instanceof BinaryenError) throw new InvalidModule(e.message, e.diagnostics);
  throw e;
}

function validated(ir: BModule, what: string): BModule {
  const diagnostics = ir.validate();
  if (diagnostics.length === 0) return ir;
  ir.dispose();
  throw new InvalidModule(`${what} does not validate.`, diagnostics);
}

function parseBinary(bytes: Uint8Array, opts: ParseOptions): ParsedModule {
  // V8 is the reference validator, and the cheapest: check first, report its message.
  const v8Error = compileErrorMessage(bytes);
  if (v8Error !== null) throw new InvalidModule('The binary is not a valid WebAssembly module.', [v8Error]);
  const binary = withoutDeclarativeSegments(clamp(decode(bytes), opts));
  let ir: BModule;
  try {
    ir = readWasm(binary.bytes);
  } catch (e) {
    toInvalidModule(e);
  }
  return adopt(binary, validated(ir, 'The module'));
}

function parseText(text: string, opts: ParseOptions): ParsedModule {
  let ir: BModule;
  try {
    ir = parseWat(text);
  } catch (e) {
    toInvalidModule(e);
  }
  validated(ir, 'The module');
  try {
    // The binary of record keeps binaryen's names, so later re-reads of it agree with the IR.
    const bytes = ir.emit(true);
    const v8Error = compileErrorMessage(bytes);
    if (v8Error !== null) throw new InvalidModule('The module does not validate in V8.', [v8Error]);
    return adopt(clamp(decode(bytes), opts), ir);
  } catch (e) {
    ir.dispose();
    throw e;
  }
}

function adopt(binary: ModuleBinary, ir: BModule): ParsedModule {
  try {
    return new ParsedModule(binary, ir);
  } catch (e) {
    ir.dispose();
    throw e;
  }
}

/**
 * Parses and validates a module (WAT through binaryen's text parser, binaries through V8 and
 * binaryen's reader). Throws InvalidModule with the parsers'/validators' messages as
 * diagnostics, or ResourceExhausted('memoryPages') when a memory starts above the cap.
 */
export function parseModule(source: ModuleSource, opts: ParseOptions = {}): ParsedModule {
  if ('wat' in source) return parseText(source.wat, opts);
  // A copy: the module must not change if the caller reuses its buffer.
  return parseBinary(source.wasm.slice(), opts);
}
