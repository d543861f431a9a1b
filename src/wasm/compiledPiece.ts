// A compiled piece of a module, ready for a linker: the bytes, and for each import and export
// the entity of the ORIGINAL module it stands for. The globals module, each extracted group of
// functions and a whole-module compile are all CompiledPieces.

import { decodeModuleBinary } from './moduleBinary.ts';
import type { EntityRef } from './moduleInfo.ts';
import type { ExternKind } from './types.ts';

export interface PieceImport {
  readonly module: string;
  readonly name: string;
  readonly ref: EntityRef;
  /**
   * Functions only: bind to the function's canonical reference, its stub, never to a compiled
   * body. The piece takes a `ref.func` of it, and a function reference must be the same funcref
   * wherever it is made (the one element segments put in tables), so a body, even a compiled
   * one, would break `call_indirect` identity and JS `===` on exported references.
   */
  readonly identity?: true;
}

/**
 * A function the executor itself provides to compiled code, rather than an entity of the
 * original module: `reoptimize(id)` is what entry counters call once a function gets hot;
 * `memoryGrow(delta)` is what every memory.grow asks first (the session's memory budget), and
 * `tableGrow(delta)` what every table.grow asks first (the session's table budget).
 */
export type HostFunction = 'reoptimize' | 'memoryGrow' | 'tableGrow';

export interface HostImport {
  readonly module: string;
  readonly name: string;
  readonly host: HostFunction;
}

export interface PieceExport {
  readonly name: string;
  readonly ref: EntityRef;
}

export interface CompiledPiece {
  readonly bytes: Uint8Array;
  readonly imports: readonly PieceImport[];
  /** Imports of the executor's own functions (none unless the piece counts entries). */
  readonly hostImports: readonly HostImport[];
  readonly exports: readonly PieceExport[];
  /**
   * Elements the tables the piece itself defines start with (absent: it defines none): what
   * instantiating it adds to the session's table budget. A piece that defines tables exports
   * each of them (prepareForSession sees to it), so the executor can count them afterwards.
   */
  readonly tableElements?: number;
  /**
   * Globals module only: the original module's start function. The globals module has no start
   * section (its start would call stubs whose bodies import the globals module's own memories,
   * before that instance exists); the linker calls this function once the globals module is
   * linked and before anything else runs, as instantiation would have.
   */
  readonly start?: EntityRef;
}

/**
 * Reads back the imports and exports binaryen actually emitted (its optimizer may drop unused
 * imports) and names the original entity behind each. Imports from `hostModule`, when given,
 * are the executor's own functions (only pieces whose other imports all come from the JIT's
 * own module names may pass it: a user's module could import anything).
 */
export function describeEmitted(
  bytes: Uint8Array,
  importRef: (module: string, name: string, kind: ExternKind) => EntityRef,
  exportRef: (name: string) => EntityRef,
  hostModule?: string,
): CompiledPiece {
  const binary = decodeModuleBinary(bytes);
  const hostImports: HostImport[] = [];
  const imports: PieceImport[] = [];
  for (const { module, name, kind } of binary.imports) {
    if (module === hostModule && kind === 'function' && isHostFunction(name)) hostImports.push({ module, name, host: name });
    else imports.push({ module, name, ref: importRef(module, name, kind) });
  }
  return { bytes, imports, hostImports, exports: binary.exports.map(({ name }) => ({ name, ref: exportRef(name) })) };
}

function isHostFunction(name: string): name is HostFunction {
  return name === 'reoptimize';
}
