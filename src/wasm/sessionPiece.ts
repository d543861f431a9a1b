// The last step of every compile, in the compile thread: fits a compiled piece to the session's
// memory budget. A piece that defines its module's memory imports it instead (the executor
// creates it when the module is added, counting its pages), and every memory.grow in it asks
// the executor's hook first (growInstrumentation.ts). Both imports come from a module name the
// piece's own imports do not use: memory 0 of the original module (an EntityRef, whose address
// the module's record holds once the memory exists) and the executor's `memoryGrow` hook (a
// HostImport).

import type { CompiledPiece, HostImport, PieceImport } from './compiledPiece.ts';
import { rewriteForSession } from './growInstrumentation.ts';
import { chooseHostModule, entityName } from './linkNames.ts';

export const MEMORY_GROW_HOOK_NAME = 'memory.grow';

export function prepareForSession(piece: CompiledPiece): CompiledPiece {
  const memory = { kind: 'memory' as const, index: 0 };
  const host = chooseHostModule(piece.imports.map((i) => i.module));
  const r = rewriteForSession(piece.bytes, { module: host, hook: MEMORY_GROW_HOOK_NAME, memory: entityName(memory) });
  if (r === null) return piece;
  const imports: PieceImport[] = [...piece.imports];
  if (r.memoryImported) imports.push({ module: host, name: entityName(memory), ref: memory });
  const hostImports: HostImport[] = [...piece.hostImports];
  if (r.hooked) hostImports.push({ module: host, name: MEMORY_GROW_HOOK_NAME, host: 'memoryGrow' });
  return { ...piece, bytes: r.bytes, imports, hostImports };
}
