// absoluteSymbols: definitions whose addresses are already known, such as host functions and
// values the executor created itself (the built-in `spectest` dylib). Materializing them only
// resolves and emits them.

import type { MaterializationResponsibility } from './MaterializationResponsibility.ts';
import { MaterializationUnit } from './MaterializationUnit.ts';
import type { ExecutorSymbolDef, SymbolInterface } from './SymbolDefinition.ts';

export interface AbsoluteSymbol extends SymbolInterface {
  readonly address: ExecutorSymbolDef['address'];
}

export class AbsoluteSymbolsMaterializationUnit extends MaterializationUnit {
  private readonly defs: ReadonlyMap<string, AbsoluteSymbol>;

  constructor(defs: ReadonlyMap<string, AbsoluteSymbol>) {
    super(new Map([...defs].map(([n, d]) => [n, { flags: d.flags, kind: d.kind, type: d.type }])));
    this.defs = defs;
  }

  get name(): string {
    return '<Absolute Symbols>';
  }

  materialize(r: MaterializationResponsibility): void {
    const resolved = new Map<string, ExecutorSymbolDef>();
    for (const name of r.getSymbols().keys()) {
      const d = this.defs.get(name);
      if (d) resolved.set(name, { address: d.address, flags: d.flags });
    }
    r.notifyResolved(resolved);
    r.notifyEmitted();
  }
}

export function absoluteSymbols(defs: ReadonlyMap<string, AbsoluteSymbol>): AbsoluteSymbolsMaterializationUnit {
  return new AbsoluteSymbolsMaterializationUnit(defs);
}
