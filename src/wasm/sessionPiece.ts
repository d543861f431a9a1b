// The last step of every compile, in the compile thread: fits a compiled piece to the session's
// memory and table budgets. A piece that defines its module's memory imports it instead (the
// executor creates it when the module is added, counting its pages); every memory.grow and
// table.grow in it asks the executor's hook first (growInstrumentation.ts); every table it
// defines is exported (so the executor can place it and keep counting it), and the piece says
// how many elements its tables start with (what instantiating it adds to the table budget).
// The imports come from a module name the piece's own imports do not use: memory 0 of the
// original module (an EntityRef, whose address the module's record holds once the memory
// exists) and the executor's `memoryGrow` and `tableGrow` hooks (HostImports).

import type { CompiledPiece, HostImport, PieceExport, PieceImport } from './compiledPiece.ts';
import { rewriteForSession } from './growInstrumentation.ts';
import { chooseHostModule, entityName } from './linkNames.ts';
import { decodeModuleBinary } from './moduleBinary.ts';
import { definedTableElements } from './tableLimits.ts';

export const MEMORY_GROW_HOOK_NAME = 'memory.grow';
export const TABLE_GROW_HOOK_NAME = 'table.grow';

export function prepareForSession(piece: CompiledPiece): CompiledPiece {
  const binary = decodeModuleBinary(piece.bytes);
  const elements = definedTableElements(binary);
  const counted = elements > 0 ? { tableElements: elements } : {};
  const host = chooseHostModule(piece.imports.map((i) => i.module));
  const r = rewriteForSession(binary, {
    module: host,
    memoryHook: MEMORY_GROW_HOOK_NAME,
    tableHook: TABLE_GROW_HOOK_NAME,
    memory: (index) => entityName({ kind: 'memory', index }),
    exportTables: true,
  });
  if (r === null) return elements > 0 ? { ...piece, ...counted } : piece;
  const imports: PieceImport[] = [...piece.imports];
  for (const index of r.memoriesImported) imports.push({ module: host, name: entityName({ kind: 'memory', index }), ref: { kind: 'memory', index } });
  const hostImports: HostImport[] = [...piece.hostImports];
  if (r.memoryHooked) hostImports.push({ module: host, name: MEMORY_GROW_HOOK_NAME, host: 'memoryGrow' });
  if (r.tableHooked) hostImports.push({ module: host, name: TABLE_GROW_HOOK_NAME, host: 'tableGrow' });
  const exports: PieceExport[] = [...piece.exports, ...r.tableExports.map((e) => ({ name: e.name, ref: { kind: 'table' as const, index: e.index } }))];
  return { ...piece, bytes: r.bytes, imports, hostImports, exports, ...counted };
}
