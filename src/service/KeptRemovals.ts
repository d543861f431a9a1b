// Removed definitions the store keeps because something it still holds uses what they defined,
// so recovery can define them again at their place in the order (and remove them right after):
// - a module or dylib whose memory, table or global another module imports (the JIT keeps that
//   entity alive, as a wasm instance keeps its imports; recovery must rebuild it so the importer
//   can link to it again);
// - a module or dylib whose symbols a reexport names (recovery defines the reexport from the
//   target's symbol, which must exist at that point of the replay).
// A kept removal uses things in turn: its modules' imports and its reexports' targets stay
// recorded here (a removed dylib's modules and symbols are gone from the session), so what a
// kept removal needs is kept as long as it is. Once nothing uses one any more, the store may
// forget it (purge).

import type { JITDylib } from '../core/JITDylib.ts';
import type { WasmModuleRecord } from '../jit/WasmModuleRecord.ts';

/** A symbol a reexport leads to. */
export interface ReexportTarget {
  readonly jd: JITDylib;
  readonly name: string;
}

/** What a removed dylib still used when it was removed: its modules (with their imports) and its reexports' targets. */
export interface DylibUses {
  readonly modules: readonly WasmModuleRecord[];
  readonly reexports: readonly ReexportTarget[];
}

export type Removable = { readonly record: WasmModuleRecord } | { readonly dylib: JITDylib };

export class KeptRemovals {
  private readonly modules = new Set<WasmModuleRecord>();
  /** Removed dylibs, with the seq the store knows each by (names can be taken again) and what they used. */
  private readonly dylibs = new Map<JITDylib, { readonly seq: number; readonly uses: DylibUses }>();

  keepModule(record: WasmModuleRecord): void {
    this.modules.add(record);
  }

  keepDylib(jd: JITDylib, seq: number, uses: DylibUses = { modules: [], reexports: [] }): void {
    this.dylibs.set(jd, { seq, uses });
  }

  /**
   * Whether a kept removal other than `what` itself uses what `what` defined: one of its modules
   * imports a memory, table or global from it, or one of its reexports names one of its symbols.
   */
  usedByKept(what: Removable): boolean {
    const jd = 'record' in what ? what.record.targetJD : what.dylib;
    const exported = 'record' in what ? new Set(what.record.module.info.exports.map((e) => e.name)) : undefined;
    const bindsInto = (r: WasmModuleRecord) =>
      r.dataBindings.some((b) => ('record' in what ? b.definer === what.record : b.dylib === what.dylib));
    // A dylib's own modules do not keep it: they go with it.
    const outside = (r: WasmModuleRecord) => ('record' in what ? r !== what.record : r.targetJD !== what.dylib);
    for (const r of this.modules) if (outside(r) && bindsInto(r)) return true;
    for (const [kept, { uses }] of this.dylibs) {
      if ('dylib' in what && kept === what.dylib) continue;
      if (uses.modules.some((r) => outside(r) && bindsInto(r))) return true;
      if (uses.reexports.some((t) => t.jd === jd && (exported === undefined || exported.has(t.name)))) return true;
    }
    return false;
  }

  /** The kept ones nothing uses any more (`isUsed` answers for what is live), as the store names them. */
  unreferenced(isUsed: (what: Removable) => boolean): {
    modules: WasmModuleRecord[];
    dylibs: [JITDylib, number][];
  } {
    return {
      modules: [...this.modules].filter((record) => !isUsed({ record })),
      dylibs: [...this.dylibs].filter(([dylib]) => !isUsed({ dylib })).map(([dylib, { seq }]) => [dylib, seq]),
    };
  }

  /** A dylib the store deleted (not kept) takes its kept modules' records with it. */
  forgetModulesOf(jd: JITDylib): void {
    for (const m of this.modules) if (m.targetJD === jd) this.modules.delete(m);
  }

  forget(modules: readonly WasmModuleRecord[], dylibs: readonly JITDylib[]): void {
    for (const m of modules) this.modules.delete(m);
    for (const d of dylibs) this.dylibs.delete(d);
  }
}
