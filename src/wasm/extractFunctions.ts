// Extraction: a fresh binaryen module holding just the listed functions' bodies (copied with
// copyExpression), everything else they touch imported. Cost follows the listed bodies: their
// references come from a scan of their own bytes, and nothing walks or clones the rest of the
// module. Calls among the listed functions (self-recursion included) stay direct.

import { newModule, readWasm, type BModule } from './binaryen.ts';
import { describeEmitted, type CompiledPiece } from './compiledPiece.ts';
import { entityName, GLOBALS_MODULE, HOST_MODULE, parseEntityName } from './linkNames.ts';
import type { EntityRef } from './moduleInfo.ts';
import type { ParsedModule } from './ParsedModule.ts';

const REF_FUNC_TYPE_MESSAGE = 'function reference type must match referenced function type';

export interface ExtractOptions {
  /** binaryen optimization level applied to the extracted module; 0 = none. */
  readonly optimizeLevel: number;
  /**
   * The listed functions the piece exports; all of them when absent. The others are there only
   * to be called, directly, by those, so the optimizer may inline and drop them.
   */
  readonly exports?: readonly number[];
  /** Entry counters for listed functions (see EntryCounters); none when absent. */
  readonly entryCounters?: EntryCounters;
}

/**
 * Each function in `ids` counts its entries and, on the entry that makes `threshold`, calls
 * the executor's reoptimize hook (HOST_MODULE."reoptimize") with its id.
 */
export interface EntryCounters {
  readonly threshold: number;
  readonly ids: ReadonlyMap<number, number>;
}

export function extractFunctions(m: ParsedModule, funcIndices: readonly number[], opts: ExtractOptions): CompiledPiece {
  const { binary, ir, functionNames, globalNames, tableNames, memoryName, functionModule } = m.layout;
  const listed = [...new Set(funcIndices)];
  if (listed.length === 0) throw new RangeError('extractFunctions: no functions listed');
  const listedSet = new Set(listed);
  const exported = opts.exports ?? listed;
  if (exported.some((i) => !listedSet.has(i))) throw new RangeError('extractFunctions: an exported function is not listed');

  const functions = new Set<number>();
  const globals = new Set<number>();
  const tables = new Set<number>();
  const memories = new Set<number>();
  for (const index of listed) {
    if (!Number.isInteger(index) || index < binary.importedFunctions || index >= binary.funcTypes.length) {
      throw new RangeError(`extractFunctions: ${index} is not a function the module defines`);
    }
    const refs = m.references(index);
    if (refs.usesSegments) {
      throw new RangeError(`extractFunctions: function ${index} uses segment instructions; keep it in the globals module`);
    }
    refs.functions.forEach((f) => functions.add(f));
    refs.globals.forEach((g) => globals.add(g));
    refs.tables.forEach((t) => tables.add(t));
    refs.memories.forEach((x) => memories.add(x));
  }

  // binaryen types ref.func of a defined function as exact and of an import as inexact; a
  // copied ref.func whose target is imported here keeps the exact type until the piece is
  // re-read from its binary (which encodes no exactness).
  const retype = listed.some((i) => m.references(i).refFuncs.some((f) => !listedSet.has(f)));

  let piece: BModule = newModule();
  let bytes: Uint8Array;
  try {
    for (const index of memories) {
      if (memoryName === null || index !== 0) throw new Error(`memory ${index} is not supported`);
      piece.importMemory(memoryName, GLOBALS_MODULE, entityName({ kind: 'memory', index }), binary.memories[index]!);
    }
    for (const index of tables) {
      piece.importTable(tableNames[index]!, GLOBALS_MODULE, entityName({ kind: 'table', index }), binary.tables[index]!.type);
    }
    for (const index of globals) {
      piece.importGlobal(globalNames[index]!, GLOBALS_MODULE, entityName({ kind: 'global', index }), binary.globals[index]!.type);
    }
    for (const index of functions) {
      if (listedSet.has(index)) continue;
      piece.importFunction(functionNames[index]!, functionModule, String(index), binary.types[binary.funcTypes[index]!]!);
    }
    for (const index of listed) piece.copyFunction(ir, functionNames[index]!);
    for (const index of exported) piece.exportFunction(functionNames[index]!, entityName({ kind: 'function', index }));
    const counters = opts.entryCounters;
    if (counters && counters.ids.size > 0) {
      const hook = piece.freshName('jit:reoptimize');
      piece.importFunction(hook, HOST_MODULE, 'reoptimize', { params: ['i32'], results: [] });
      for (const [index, id] of counters.ids) {
        if (!listedSet.has(index)) throw new RangeError(`extractFunctions: counted function ${index} is not listed`);
        piece.addEntryCounter(functionNames[index]!, hook, id, counters.threshold);
      }
    }
    // Emitting an invalid module would abort binaryen; this cannot happen unless the layer is wrong.
    let diagnostics = piece.validate();
    if (retype) {
      diagnostics = diagnostics.filter((d) => !d.includes(REF_FUNC_TYPE_MESSAGE));
      if (diagnostics.length === 0) {
        const unoptimized = piece.emit(true);
        piece.dispose();
        piece = readWasm(unoptimized);
        diagnostics = piece.validate();
      }
    }
    if (diagnostics.length > 0) throw new Error(`the extracted module does not validate:\n${diagnostics.join('\n')}`);
    piece.optimize(opts.optimizeLevel, { keepImports: false });
    bytes = piece.emit(true);
  } finally {
    piece.dispose();
  }

  return describeEmitted(
    bytes,
    (module, name): EntityRef => {
      const ref = module === functionModule ? { kind: 'function' as const, index: Number(name) } : parseEntityName(name);
      if (!ref || (module !== functionModule && module !== GLOBALS_MODULE)) throw new Error(`unexpected import ${module}.${name}`);
      return ref;
    },
    (name) => {
      const ref = parseEntityName(name);
      if (!ref) throw new Error(`unexpected export ${name}`);
      return ref;
    },
    HOST_MODULE,
  );
}
