// What every piece cut from one module binary shares (cutPiece.ts), computed once per binary and
// kept beside it: the type section to copy, the import entries of every memory, table and global
// (a piece imports them all, in index order, so bodies keep their indices), and the module names
// function and host imports come from. Cutting a piece then costs in proportion to the bodies it
// copies, not to how many globals or imports the module declares.

import { ByteReader, ByteWriter } from './bytes.ts';
import type { PieceImport } from './compiledPiece.ts';
import { chooseFunctionModule, chooseHostModule, entityName, GLOBALS_MODULE } from './linkNames.ts';
import { encodeLimits } from './memoryLimits.ts';
import { SectionId, type ModuleBinary } from './moduleBinary.ts';
import type { EntityRef } from './moduleInfo.ts';

export interface CutContext {
  /** Types the module declares; pieces append their host functions' types after them. */
  readonly typeCount: number;
  /** The type section's payload past its count (the encoded types), copied into every piece. */
  readonly typeEntries: Uint8Array;
  /** Encoded import entries: every memory, then every table, then every global, from GLOBALS_MODULE. */
  readonly entityImportEntries: Uint8Array;
  readonly entityImports: readonly PieceImport[];
  /** Where function imports come from (never a module name the original imports from). */
  readonly functionModule: string;
  /** Where the executor's own functions come from (clashes with neither of the above). */
  readonly hostModule: string;
}

const IMPORT_KIND = { table: 0x01, memory: 0x02, global: 0x03 } as const;

const contexts = new WeakMap<ModuleBinary, CutContext>();

export function cutContext(binary: ModuleBinary): CutContext {
  let ctx = contexts.get(binary);
  if (ctx === undefined) {
    ctx = buildContext(binary);
    contexts.set(binary, ctx);
  }
  return ctx;
}

function buildContext(binary: ModuleBinary): CutContext {
  const typeSection = binary.sections.find((s) => s.id === SectionId.type);
  let typeEntries: Uint8Array = new Uint8Array(0);
  if (typeSection) {
    const r = new ByteReader(binary.bytes, typeSection.payloadStart, typeSection.end);
    r.u32();
    typeEntries = binary.bytes.subarray(r.pos, typeSection.end);
  }

  const w = new ByteWriter();
  const entityImports: PieceImport[] = [];
  const add = (ref: EntityRef, kindByte: number, writeType: () => void): void => {
    const name = entityName(ref);
    w.name(GLOBALS_MODULE).name(name).u8(kindByte);
    writeType();
    entityImports.push({ module: GLOBALS_MODULE, name, ref });
  };
  // A defined memory, table or global is imported like an imported one: the globals module (or
  // the executor) owns them all, with the types the original declares.
  binary.memories.forEach((m, index) => add({ kind: 'memory', index }, IMPORT_KIND.memory, () => encodeLimits(w, m)));
  binary.tables.forEach((t, index) => add({ kind: 'table', index }, IMPORT_KIND.table, () => w.bytes(t.rawType)));
  binary.globals.forEach((g, index) => add({ kind: 'global', index }, IMPORT_KIND.global, () => w.bytes(g.rawType)));

  const functionModule = chooseFunctionModule(binary.imports.map((i) => i.module));
  return {
    typeCount: binary.types.length,
    typeEntries,
    entityImportEntries: w.finish(),
    entityImports,
    functionModule,
    hostModule: chooseHostModule([GLOBALS_MODULE, functionModule]),
  };
}
