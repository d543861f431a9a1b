// lazyReexports: symbols whose definitions live in another dylib (a module's functions in its
// `<dylib>.impl`) and are compiled on first call. Materializing a lazy reexport creates its
// stub, pointing at a call-through trampoline, and resolves the symbol to the stub: looking a
// lazy function up compiles nothing. Only the reexports a lookup asks for get stubs; the rest
// stay in the dylib unmaterialized (splitOff). Stubs and trampolines belong to the
// responsibility's tracker.

import type { JITDylib } from '../core/JITDylib.ts';
import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../core/MaterializationUnit.ts';
import type { SymbolAliasMap, SymbolAliasMapEntry } from '../core/ReExports.ts';
import type { ExecutorSymbolDef } from '../core/SymbolDefinition.ts';
import type { FuncType } from '../wasm/index.ts';
import type { IndirectStubsManager, StubInit } from './IndirectStubsManager.ts';
import type { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import { resourceKey } from './resourceKey.ts';

export class LazyReexportsMaterializationUnit extends MaterializationUnit {
  private readonly lctm: LazyCallThroughManager;
  private readonly stubs: IndirectStubsManager;
  /** Where the bodies live, e.g. `main.impl`. */
  readonly source: JITDylib;
  readonly aliases: Map<string, SymbolAliasMapEntry>;
  private readonly label: string;

  constructor(lctm: LazyCallThroughManager, stubs: IndirectStubsManager, source: JITDylib, aliases: SymbolAliasMap, label: string) {
    super(aliases);
    this.lctm = lctm;
    this.stubs = stubs;
    this.source = source;
    this.aliases = new Map(aliases);
    this.label = label;
  }

  get name(): string {
    return `<Lazy Reexports of ${this.label}>`;
  }

  protected override discard(_jd: JITDylib, name: string): void {
    this.aliases.delete(name);
  }

  /** Each reexport gets its own stub: the requested ones can always go on their own. */
  override splitOff(names: ReadonlySet<string>): LazyReexportsMaterializationUnit {
    const part = new Map<string, SymbolAliasMapEntry>();
    for (const name of names) {
      const entry = this.aliases.get(name);
      if (entry === undefined) continue;
      part.set(name, entry);
      this.aliases.delete(name);
      this.symbols.delete(name);
    }
    return new LazyReexportsMaterializationUnit(this.lctm, this.stubs, this.source, part, this.label);
  }

  materialize(r: MaterializationResponsibility): void {
    const requested = r.getRequestedSymbols();
    const unrequested = new Map([...this.aliases].filter(([n]) => !requested.has(n) && r.getSymbols().has(n)));
    if (unrequested.size > 0) {
      r.replace(new LazyReexportsMaterializationUnit(this.lctm, this.stubs, this.source, unrequested, this.label));
    }
    const key = resourceKey(r);
    const jd = r.targetJD;
    const inits: StubInit[] = [];
    const flags = new Map<string, SymbolAliasMapEntry['flags']>();
    for (const alias of requested) {
      const entry = this.aliases.get(alias);
      if (!entry) continue;
      const callThroughId = this.lctm.getCallThroughTrampoline(key, this.source, entry.aliasee, (addr) =>
        this.stubs.updatePointer(jd, alias, addr),
      );
      inits.push({ name: alias, type: entry.type as FuncType, callThroughId });
      flags.set(alias, entry.flags);
    }
    const resolved = new Map<string, ExecutorSymbolDef>();
    for (const [alias, stub] of this.stubs.createStubs(jd, key, inits)) {
      resolved.set(alias, { address: stub.stubAddr, flags: flags.get(alias) as SymbolAliasMapEntry['flags'] });
    }
    r.notifyResolved(resolved);
    r.notifyEmitted();
  }
}

export function lazyReexports(
  lctm: LazyCallThroughManager,
  stubs: IndirectStubsManager,
  source: JITDylib,
  aliases: SymbolAliasMap,
  label: string,
): LazyReexportsMaterializationUnit {
  return new LazyReexportsMaterializationUnit(lctm, stubs, source, aliases, label);
}
