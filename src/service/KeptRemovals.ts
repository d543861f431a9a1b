// Removed definitions the store keeps because live code still uses what they defined: a dylib or
// module whose memory, table or global another module imports (the JIT keeps that entity alive,
// as a wasm instance keeps its imports; recovery must rebuild it so the importer can link to it
// again, and removes it right after). Once nothing imports from one any more, the store may
// forget it (purge).

import type { JITDylib } from '../core/JITDylib.ts';
import type { WasmModuleRecord } from '../jit/WasmModuleRecord.ts';

export class KeptRemovals {
  private readonly modules = new Set<WasmModuleRecord>();
  /** Removed dylibs, with the seq the store knows each by (names can be taken again). */
  private readonly dylibs = new Map<JITDylib, number>();

  keepModule(record: WasmModuleRecord): void {
    this.modules.add(record);
  }

  keepDylib(jd: JITDylib, seq: number): void {
    this.dylibs.set(jd, seq);
  }

  /** The kept ones nothing imports from any more, as the store names them. */
  unreferenced(isImported: (what: { readonly record: WasmModuleRecord } | { readonly dylib: JITDylib }) => boolean): {
    modules: WasmModuleRecord[];
    dylibs: [JITDylib, number][];
  } {
    return {
      modules: [...this.modules].filter((record) => !isImported({ record })),
      dylibs: [...this.dylibs].filter(([dylib]) => !isImported({ dylib })),
    };
  }

  forget(modules: readonly WasmModuleRecord[], dylibs: readonly JITDylib[]): void {
    for (const m of modules) this.modules.delete(m);
    for (const d of dylibs) this.dylibs.delete(d);
  }
}
