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
}

export interface PieceExport {
  readonly name: string;
  readonly ref: EntityRef;
}

export interface CompiledPiece {
  readonly bytes: Uint8Array;
  readonly imports: readonly PieceImport[];
  readonly exports: readonly PieceExport[];
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
 * imports) and names the original entity behind each.
 */
export function describeEmitted(
  bytes: Uint8Array,
  importRef: (module: string, name: string, kind: ExternKind) => EntityRef,
  exportRef: (name: string) => EntityRef,
): CompiledPiece {
  const binary = decodeModuleBinary(bytes);
  return {
    bytes,
    imports: binary.imports.map(({ module, name, kind }) => ({ module, name, ref: importRef(module, name, kind) })),
    exports: binary.exports.map(({ name }) => ({ name, ref: exportRef(name) })),
  };
}
