// The last step of every compile, in the compile thread: fits a compiled piece to the session's
// memory budget. A piece that defines its module's memory imports it instead (the executor
// creates it when the module is added, counting its pages), and every memory.grow in it asks
// the executor's hook first (growInstrumentation.ts). Both imports come from a module name the
// piece does not otherwise import from, and carry the EntityRef the linker resolves: memory 0
// of the original module (whose address the module's record holds once the memory exists) and
// MEMORY_GROW_HOOK.

import type { CompiledPiece, PieceImport } from './compiledPiece.ts';
import { MEMORY_GROW_HOOK, rewriteForSession } from './growInstrumentation.ts';
import { entityName } from './linkNames.ts';

export const HOST_MODULE = 'jit';
export const MEMORY_GROW_HOOK_NAME = 'memory.grow';

/** "jit", or "jit$", "jit$$"... when the piece already imports from that module name. */
function chooseHostModule(importModules: Iterable<string>): string {
  const taken = new Set(importModules);
  let name = HOST_MODULE;
  while (taken.has(name)) name += '$';
  return name;
}

export function prepareForSession(piece: CompiledPiece): CompiledPiece {
  const memory = { kind: 'memory' as const, index: 0 };
  const host = chooseHostModule(piece.imports.map((i) => i.module));
  const r = rewriteForSession(piece.bytes, { module: host, hook: MEMORY_GROW_HOOK_NAME, memory: entityName(memory) });
  if (r === null) return piece;
  const imports: PieceImport[] = [...piece.imports];
  if (r.memoryImported) imports.push({ module: host, name: entityName(memory), ref: memory });
  if (r.hooked) imports.push({ module: host, name: MEMORY_GROW_HOOK_NAME, ref: MEMORY_GROW_HOOK });
  return { ...piece, bytes: r.bytes, imports };
}
