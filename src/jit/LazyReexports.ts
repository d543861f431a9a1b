// lazyReexports: symbols whose definitions live in another dylib (a module's functions in its
// `<dylib>.impl`) and are compiled on first call. Materializing a lazy reexport creates its
// stub, pointing at a call-through trampoline, and resolves the symbol to the stub: looking a
// lazy function up compiles nothing. Only the reexports a lookup asks for get stubs; the rest
// stay in the dylib unmaterialized (splitOff). Stubs and trampolines belong to the
// responsibility's tracker.

import type { JITDylib } from '../core/JITDylib.ts';
import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import { MaterializationUnit, type SymbolMap } from '../core/MaterializationUnit.ts';
import { SymbolState } from '../core/SymbolFlags.ts';
import type { SymbolAliasMap } from '../core/ReExports.ts';
import type { ExecutorSymbolDef, SymbolInterface } from '../core/SymbolDefinition.ts';
import type { FuncType } from '../wasm/index.ts';
import type { IndirectStubsManager, StubInit } from './IndirectStubsManager.ts';
import type { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import { resourceKey } from './resourceKey.ts';

export class LazyReexportsMaterializationUnit extends MaterializationUnit {
  private readonly lctm: LazyCallThroughManager;
  private readonly stubs: IndirectStubsManager;
  /** Where the bodies live, e.g. `main.impl`. */
  readonly source: JITDylib;
  /**
   * The aliasees that differ from their alias's name; any other symbol reexports the symbol of
   * the same name in `source`. A lazily added module reexports every function under its own
   * name, so its (tens of thousands of) reexports need no per-symbol alias record at all.
   */
  readonly #renamed: Map<string, string> | undefined;
  private readonly label: string;

  /** @internal Use lazyReexports or sameNameLazyReexports. Takes ownership of both maps. */
  constructor(
    lctm: LazyCallThroughManager,
    stubs: IndirectStubsManager,
    source: JITDylib,
    symbols: SymbolMap,
    renamed: Map<string, string> | undefined,
    label: string,
  ) {
    super(symbols, 'take');
    this.lctm = lctm;
    this.stubs = stubs;
    this.source = source;
    this.#renamed = renamed !== undefined && renamed.size > 0 ? renamed : undefined;
    this.label = label;
  }

  get name(): string {
    return `<Lazy Reexports of ${this.label}>`;
  }

  /** The symbol of `source` that `alias` reexports. */
  aliasee(alias: string): string {
    return this.#renamed?.get(alias) ?? alias;
  }

  protected override discard(_jd: JITDylib, name: string): void {
    this.#renamed?.delete(name);
  }

  /** Moves `names` (those this unit has) out of this unit into a new one. */
  #take(names: Iterable<string>): LazyReexportsMaterializationUnit {
    const part = new Map<string, SymbolInterface>();
    let renamed: Map<string, string> | undefined;
    for (const name of names) {
      const info = this.symbols.get(name);
      if (info === undefined) continue;
      part.set(name, info);
      this.symbols.delete(name);
      const aliasee = this.#renamed?.get(name);
      if (aliasee !== undefined) {
        (renamed ??= new Map()).set(name, aliasee);
        this.#renamed?.delete(name);
      }
    }
    return new LazyReexportsMaterializationUnit(this.lctm, this.stubs, this.source, part, renamed, this.label);
  }

  /** Each reexport gets its own stub: the requested ones can always go on their own. */
  override splitOff(names: ReadonlySet<string>): LazyReexportsMaterializationUnit {
    return this.#take(names);
  }

  materialize(r: MaterializationResponsibility): void {
    const requested = r.getRequestedSymbols();
    const unrequested: string[] = [];
    for (const name of r.getSymbols().keys()) if (!requested.has(name)) unrequested.push(name);
    if (unrequested.length > 0) r.replace(this.#take(unrequested));
    const key = resourceKey(r);
    const jd = r.targetJD;
    const inits: StubInit[] = [];
    const flags = new Map<string, SymbolInterface['flags']>();
    for (const alias of requested) {
      const info = this.symbols.get(alias);
      if (!info) continue;
      const callThroughId = this.lctm.getCallThroughTrampoline(key, this.source, this.aliasee(alias), (addr) =>
        this.stubs.updatePointer(jd, alias, addr),
      );
      inits.push({ name: alias, type: info.type as FuncType, callThroughId });
      flags.set(alias, info.flags);
    }
    const resolved = new Map<string, ExecutorSymbolDef>();
    for (const [alias, stub] of this.stubs.createStubs(jd, key, inits)) {
      resolved.set(alias, { address: stub.stubAddr, flags: flags.get(alias) as SymbolInterface['flags'] });
      // The body may be compiled already (in another function's partition): the stub leads
      // straight to it, and its first call needs no call-through, as a stub made before the
      // body was compiled is repointed when the body is linked (WasmLinkingLayer).
      const body = this.source.entry(this.aliasee(alias));
      if (body !== undefined && body.state === SymbolState.Ready && body.error === undefined && body.address !== undefined) {
        this.stubs.updatePointer(jd, alias, body.address);
      }
    }
    r.notifyResolved(resolved);
    r.notifyEmitted();
  }
}

/** Lazy reexports of `source`'s symbols, each alias naming its own aliasee. */
export function lazyReexports(
  lctm: LazyCallThroughManager,
  stubs: IndirectStubsManager,
  source: JITDylib,
  aliases: SymbolAliasMap,
  label: string,
): LazyReexportsMaterializationUnit {
  const symbols = new Map<string, SymbolInterface>();
  const renamed = new Map<string, string>();
  for (const [alias, entry] of aliases) {
    symbols.set(alias, entry);
    if (entry.aliasee !== alias) renamed.set(alias, entry.aliasee);
  }
  return new LazyReexportsMaterializationUnit(lctm, stubs, source, symbols, renamed, label);
}

/**
 * Lazy reexports of the symbols of `source` with the same names (a module's functions, stub in
 * the target dylib and body in its impl dylib). The unit takes ownership of `symbols`.
 */
export function sameNameLazyReexports(
  lctm: LazyCallThroughManager,
  stubs: IndirectStubsManager,
  source: JITDylib,
  symbols: SymbolMap,
  label: string,
): LazyReexportsMaterializationUnit {
  return new LazyReexportsMaterializationUnit(lctm, stubs, source, symbols, undefined, label);
}
