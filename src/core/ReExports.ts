// symbolAliases and reexports: symbols that resolve to the address of another symbol, in the
// same dylib (aliases; chains work) or in another one (reexports). Only the aliases a lookup
// asks for are materialized, and each materializes only its own target.

import { SymbolsNotFound } from './errors.ts';
import type { JITDylib, JITDylibLookupFlags } from './JITDylib.ts';
import type { MaterializationResponsibility } from './MaterializationResponsibility.ts';
import { MaterializationUnit } from './MaterializationUnit.ts';
import type { SymbolInterface } from './SymbolDefinition.ts';
import { SymbolState } from './SymbolFlags.ts';

export interface SymbolAliasMapEntry extends SymbolInterface {
  /** The name the alias resolves to, in the source dylib. */
  readonly aliasee: string;
}
export type SymbolAliasMap = ReadonlyMap<string, SymbolAliasMapEntry>;

export class ReExportsMaterializationUnit extends MaterializationUnit {
  /** The dylib the aliasees live in; undefined means the alias's own dylib (symbolAliases). */
  readonly source: JITDylib | undefined;
  readonly sourceFlags: JITDylibLookupFlags;
  readonly aliases: Map<string, SymbolAliasMapEntry>;

  constructor(source: JITDylib | undefined, aliases: SymbolAliasMap, sourceFlags: JITDylibLookupFlags) {
    super(aliases);
    this.source = source;
    this.sourceFlags = sourceFlags;
    this.aliases = new Map(aliases);
  }

  get name(): string {
    return this.source ? `<Reexports from ${this.source.name}>` : '<Symbol Aliases>';
  }

  protected override discard(_jd: JITDylib, name: string): void {
    this.aliases.delete(name);
  }

  async materialize(r: MaterializationResponsibility): Promise<void> {
    const requested = r.getRequestedSymbols();
    const unrequested = new Map([...this.aliases].filter(([n]) => !requested.has(n) && r.getSymbols().has(n)));
    if (unrequested.size > 0) r.replace(new ReExportsMaterializationUnit(this.source, unrequested, this.sourceFlags));

    // One responsibility per alias, so an alias whose target is another alias of this unit
    // (a chain) waits only for that one.
    const jobs = [...requested].map((alias) => {
      const sub = r.delegate([alias]);
      return this.materializeOne(sub, alias);
    });
    await Promise.all(jobs);
  }

  private async materializeOne(r: MaterializationResponsibility, alias: string): Promise<void> {
    const entry = this.aliases.get(alias);
    if (!entry) return r.failMaterialization(new Error(`no alias ${alias}`));
    const sourceJD = this.source ?? r.targetJD;
    const flags = this.source ? this.sourceFlags : 'MatchAllSymbols';
    try {
      const def = await r.session.lookupOne([{ jd: sourceJD, flags }], entry.aliasee, SymbolState.Resolved);
      r.notifyResolved(new Map([[alias, { address: def.address, flags: entry.flags }]]));
      r.notifyEmitted(new Map([[def.entry.jd, [def.entry.name]]]));
    } catch (err) {
      r.failMaterialization(err);
    }
  }
}

/** Aliases within one dylib: each alias resolves to its aliasee in the same dylib. */
export function symbolAliases(aliases: SymbolAliasMap): ReExportsMaterializationUnit {
  return new ReExportsMaterializationUnit(undefined, aliases, 'MatchAllSymbols');
}

/** Reexports of symbols of `source`; the targets materialize only when an alias is looked up. */
export function reexports(
  source: JITDylib,
  aliases: SymbolAliasMap,
  sourceFlags: JITDylibLookupFlags = 'MatchExportedSymbolsOnly',
): ReExportsMaterializationUnit {
  return new ReExportsMaterializationUnit(source, aliases, sourceFlags);
}

/**
 * Builds an alias map that reexports `names` of `source` under the same (or given) names with
 * the targets' own flags and types, without materializing anything (ORC's
 * buildSimpleReexportsAliasMap). Fails with SymbolsNotFound naming every missing target.
 */
export function buildSimpleReexportsAliasMap(
  source: JITDylib,
  names: ReadonlyMap<string, string>,
  sourceFlags: JITDylibLookupFlags = 'MatchExportedSymbolsOnly',
): Map<string, SymbolAliasMapEntry> {
  const result = new Map<string, SymbolAliasMapEntry>();
  const missing: string[] = [];
  for (const [alias, target] of names) {
    const e = source.entry(target);
    if (!e || (sourceFlags === 'MatchExportedSymbolsOnly' && !e.info.flags.isExported)) {
      missing.push(target);
      continue;
    }
    result.set(alias, { ...e.info, flags: e.info.flags.without('Weak').with('Exported'), aliasee: target });
  }
  if (missing.length > 0) throw new SymbolsNotFound(missing, source.name);
  return result;
}
