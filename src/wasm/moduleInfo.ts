// What a parsed module declares, in the module's own index spaces: its imports, exports,
// functions, globals, memories, tables and start function. Built once when a module is parsed;
// the facts that need a function's body (does it use segments, how big is it) are computed on
// first access, so describing a 20,000-function module does not decode 20,000 bodies.

import type { ModuleBinary } from './moduleBinary.ts';
import type { ExternKind, FuncType, GlobalType, MemoryType, TableType } from './types.ts';

/** An entity of a module: `index` is in the ORIGINAL module's index space of `kind` (imports first). */
export interface EntityRef {
  readonly kind: ExternKind;
  readonly index: number;
}

export type EntityType = FuncType | GlobalType | MemoryType | TableType;

export interface ImportInfo {
  readonly module: string;
  readonly name: string;
  readonly kind: ExternKind;
  readonly index: number;
  readonly type: EntityType;
}

export interface ExportInfo {
  readonly name: string;
  readonly kind: ExternKind;
  readonly index: number;
  readonly type: EntityType;
}

export interface FunctionInfo {
  readonly index: number;
  /** binaryen's internal name: the WAT $name, the name section's, or one binaryen made up. */
  readonly name: string;
  readonly type: FuncType;
  readonly imported: boolean;
  /** The body uses memory.init, data.drop, table.init or elem.drop: it must live with the segments. */
  readonly usesSegments: boolean;
  /** Instructions in the body, a rough size for statistics (0 for imports; -1 where not computed, as in the info the compile thread sends). */
  readonly size: number;
}

export interface GlobalInfo {
  readonly index: number;
  readonly type: GlobalType;
  readonly imported: boolean;
}

export interface MemoryInfo {
  readonly index: number;
  /** For defined memories, the limits after clamping to the parse's memoryMaxPages. */
  readonly type: MemoryType;
  readonly imported: boolean;
}

export interface TableInfo {
  readonly index: number;
  readonly type: TableType;
  readonly imported: boolean;
}

export interface ModuleInfo {
  readonly imports: readonly ImportInfo[];
  readonly exports: readonly ExportInfo[];
  readonly functions: readonly FunctionInfo[];
  readonly globals: readonly GlobalInfo[];
  readonly memories: readonly MemoryInfo[];
  readonly tables: readonly TableInfo[];
  readonly start: number | null;
}

/** Body facts and names, computed when first asked for. */
export interface FunctionFacts {
  usesSegments(index: number): boolean;
  size(index: number): number;
  name(index: number): string;
}

class DefinedFunctionInfo implements FunctionInfo {
  readonly index: number;
  readonly type: FuncType;
  readonly imported = false;
  readonly #facts: FunctionFacts;

  constructor(index: number, type: FuncType, facts: FunctionFacts) {
    this.index = index;
    this.type = type;
    this.#facts = facts;
  }

  /** Named on demand: most functions of a large module are never named (no trap, no piece). */
  get name(): string {
    return this.#facts.name(this.index);
  }

  get usesSegments(): boolean {
    return this.#facts.usesSegments(this.index);
  }

  get size(): number {
    return this.#facts.size(this.index);
  }

  toJSON(): FunctionInfo {
    const { index, name, type, imported, usesSegments, size } = this;
    return { index, name, type, imported, usesSegments, size };
  }
}

export function entityType(binary: ModuleBinary, kind: ExternKind, index: number): EntityType {
  switch (kind) {
    case 'function': {
      const type = binary.types[binary.funcTypes[index]!];
      if (!type) throw new RangeError(`function ${index} has no type`);
      return type;
    }
    case 'global':
      return binary.globals[index]!.type;
    case 'memory':
      return binary.memories[index]!;
    case 'table':
      return binary.tables[index]!.type;
  }
}

export function buildModuleInfo(binary: ModuleBinary, facts: FunctionFacts): ModuleInfo {
  const functions: FunctionInfo[] = binary.funcTypes.map((typeIndex, index) => {
    const type = binary.types[typeIndex]!;
    return index < binary.importedFunctions
      ? { index, name: facts.name(index), type, imported: true, usesSegments: false, size: 0 }
      : new DefinedFunctionInfo(index, type, facts);
  });
  return {
    imports: binary.imports.map(({ module, name, kind, index }) => ({ module, name, kind, index, type: entityType(binary, kind, index) })),
    exports: binary.exports.map(({ name, kind, index }) => ({ name, kind, index, type: entityType(binary, kind, index) })),
    functions,
    globals: binary.globals.map((g, index) => ({ index, type: g.type, imported: index < binary.importedGlobals })),
    memories: binary.memories.map((type, index) => ({ index, type, imported: index < binary.importedMemories })),
    tables: binary.tables.map((t, index) => ({ index, type: t.type, imported: index < binary.importedTables })),
    start: binary.start,
  };
}
