// The link order as clients and imports see it. A dylib's own link order matches all of its own
// symbols (ORC's linkAgainstThisFirst), which the JIT needs to reach what it defined privately:
// a module's private functions, their stubs, initializer symbols. Lookups made for a client, and
// a module's imports, must find only exported symbols (API v2: private functions stay private).

import type { JITDylib, JITDylibSearchOrder } from '../core/JITDylib.ts';

export function publicOrder(jd: JITDylib): JITDylibSearchOrder {
  return jd.getLinkOrder().map((e) => ({ jd: e.jd, flags: 'MatchExportedSymbolsOnly' as const }));
}
