// A module as the JIT keeps it after an add: the binary of record (the bytes V8 validated, with
// memories and tables clamped to the configured caps), its decoded sections, what it declares
// (ModuleInfo), and per-function facts read from its bodies on demand. Nothing here walks a
// function body until something asks about that body, and nothing here uses binaryen: loading a
// module costs a decode of its sections plus V8's validation, which runs on V8's own background
// threads (WebAssembly.compile), not on the event loop, while the decode runs.

import { createHash } from 'node:crypto';
import { InvalidModule } from '../core/errors.ts';
import { MalformedBinary } from './bytes.ts';
import { scanBody, skipLocals, type CodeReferences } from './codeScan.ts';
import { displayName } from './displayName.ts';
import { clampMemories } from './memoryLimits.ts';
import { decodeModuleBinary, type ModuleBinary } from './moduleBinary.ts';
import { buildModuleInfo, type ModuleInfo } from './moduleInfo.ts';
import { clampTables } from './tableLimits.ts';

export interface LoadOptions {
  /** Cap, in 64 KiB pages, on every memory the module defines. */
  readonly memoryMaxPages?: number | undefined;
  /** Cap, in elements, on every table the module defines. */
  readonly tableMaxElements?: number | undefined;
}

/** Segment instructions all start with this prefix byte; most bodies never contain it. */
const FC_PREFIX = 0xfc;

/**
 * Whether bytes [start, end) may hold memory.init, data.drop, table.init or elem.drop: the 0xfc
 * prefix followed by a first LEB byte whose low bits are 8, 9, 12 or 13. A body without that pair
 * cannot use segments, so the add decodes only the few bodies that have it (an immediate can
 * look like it; the decode then says). Bounded by the body's end: a search running on to the
 * module's end made this quadratic in the module for the bodies after the last 0xfc byte.
 */
function mayHoldSegmentInstruction(bytes: Uint8Array, start: number, end: number): boolean {
  const body = bytes.subarray(start, end);
  for (let at = body.indexOf(FC_PREFIX); at >= 0 && at < body.length - 1; at = body.indexOf(FC_PREFIX, at + 1)) {
    const op = (body[at + 1] as number) & 0x7f;
    if (op === 8 || op === 9 || op === 12 || op === 13) return true;
  }
  return false;
}

export class WasmModule {
  /** The binary of record: what V8 validated, memories and tables clamped. */
  readonly bytes: Uint8Array;
  readonly binary: ModuleBinary;
  readonly info: ModuleInfo;
  readonly #scans: (CodeReferences | undefined)[];
  /** Without a data count section or element segments no body can use segment instructions. */
  readonly #mayUseSegments: boolean;

  constructor(binary: ModuleBinary) {
    this.binary = binary;
    this.bytes = binary.bytes;
    this.#scans = new Array<CodeReferences | undefined>(binary.funcTypes.length);
    this.#mayUseSegments = binary.dataCount !== null || binary.elements.length > 0;
    this.info = buildModuleInfo(binary, {
      usesSegments: (i) => this.usesSegments(i),
      size: (i) => this.references(i).instructions,
      name: (i) => displayName(binary, i),
    });
  }

  #hash: string | undefined;

  /** Hex SHA-256 of the binary of record: the module's identity for content-keyed caches. */
  get hash(): string {
    this.#hash ??= createHash('sha256').update(this.bytes).digest('hex');
    return this.#hash;
  }

  get importedFunctions(): number {
    return this.binary.importedFunctions;
  }

  /** What defined function `index` references, by index; scanned once, on first request. */
  references(index: number): CodeReferences {
    const cached = this.#scans[index];
    if (cached) return cached;
    const { binary } = this;
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

  /** The size of defined function `index`'s body in bytes (locals included). */
  bodySize(index: number): number {
    const entry = this.binary.code[index - this.binary.importedFunctions];
    return entry ? entry.end - entry.start : 0;
  }

  /** Whether defined function `index` uses segment instructions (it must live beside the segments). */
  usesSegments(index: number): boolean {
    if (!this.#mayUseSegments) return false;
    const entry = this.binary.code[index - this.binary.importedFunctions];
    if (!entry) return false;
    if (!mayHoldSegmentInstruction(this.binary.bytes, entry.start, entry.end)) return false;
    return this.references(index).usesSegments;
  }

  /** Indices of the defined functions that use segment instructions. */
  functionsUsingSegments(): number[] {
    const out: number[] = [];
    if (!this.#mayUseSegments) return out;
    for (let i = this.binary.importedFunctions; i < this.binary.funcTypes.length; i++) if (this.usesSegments(i)) out.push(i);
    return out;
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

/**
 * Validates a module binary (V8 is the reference validator) and decodes it, memories and tables
 * clamped to the caps. Throws InvalidModule with V8's message as the diagnostic, or
 * ResourceExhausted ('memoryPages' / 'tableElements') for a memory or table starting above its cap.
 */
export async function loadModule(source: Uint8Array, opts: LoadOptions = {}): Promise<WasmModule> {
  // A copy: the module must not change if the caller reuses its buffer.
  const bytes = source.slice();
  // V8 validates on its own threads while this one decodes. V8's verdict still comes first: a
  // binary it refuses is InvalidModule, whatever the decode made of it.
  const refusal = WebAssembly.compile(bytes).then(
    () => undefined,
    (e: unknown) => ({ message: e instanceof Error ? e.message : String(e) }),
  );
  let decoded: { ok: true; module: WasmModule } | { ok: false; error: unknown };
  try {
    decoded = { ok: true, module: decodeClamped(bytes, opts) };
  } catch (error) {
    decoded = { ok: false, error };
  }
  const refused = await refusal;
  if (refused !== undefined) throw new InvalidModule('The binary is not a valid WebAssembly module.', [refused.message]);
  if (!decoded.ok) throw decoded.error;
  return decoded.module;
}

function decodeClamped(bytes: Uint8Array, opts: LoadOptions): WasmModule {
  let binary = decode(bytes);
  if (opts.memoryMaxPages !== undefined) {
    const clamped = clampMemories(binary, opts.memoryMaxPages);
    if (clamped !== binary.bytes) binary = decode(clamped);
  }
  if (opts.tableMaxElements !== undefined) {
    const clamped = clampTables(binary, opts.tableMaxElements);
    if (clamped !== binary.bytes) binary = decode(clamped);
  }
  return new WasmModule(binary);
}
