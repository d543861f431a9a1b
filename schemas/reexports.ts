// Reexports: define symbols of one dylib as aliases of symbols in another (ORC's reexports /
// lazyReexports). A list reexports names as themselves; an object maps alias -> target.

import { z } from 'zod';
import { DylibName, SymbolName } from './common.ts';

export const ReexportsBody = z.object({
  from: DylibName.describe('The dylib the targets are looked up in.'),
  symbols: z
    .union([z.array(SymbolName), z.record(SymbolName, SymbolName)])
    .describe('["f", ...] reexports each name as itself; {"alias": "target", ...} renames.'),
  lazy: z.boolean().optional().describe('Lazy reexports: resolve the target on first call (default false).'),
});
export type ReexportsBody = z.infer<typeof ReexportsBody>;
