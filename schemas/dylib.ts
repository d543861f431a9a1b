// Dylibs on the wire: creating one, changing its link order, and the dylib view returned by
// every dylib route (and nested in the JSON dump).

import { z } from 'zod';
import { DylibName, NewDylibName, QueryBool } from './common.ts';
import { ModuleView } from './module.ts';
import { SymbolView } from './symbol.ts';

const LinkOrder = z
  .array(DylibName)
  .describe('Dylibs searched, in order, to resolve lookups and imports; first match wins.');

export const CreateDylibBody = z.object({
  name: NewDylibName,
  linkOrder: LinkOrder.optional(),
});
export type CreateDylibBody = z.infer<typeof CreateDylibBody>;

export const LinkOrderBody = z.object({ linkOrder: LinkOrder });
export type LinkOrderBody = z.infer<typeof LinkOrderBody>;

export const DylibView = z
  .object({
    name: DylibName,
    linkOrder: z.array(DylibName),
    implOf: DylibName.optional().describe('For an implementation dylib: the dylib whose bodies it holds.'),
    symbols: z
      .array(SymbolView)
      .describe('What the dylib exports (what other dylibs can find through it); every symbol with ?hidden=true.'),
    modules: z.array(ModuleView),
  })
  .describe('A dylib: a named symbol table with a link order.');
export type DylibView = z.infer<typeof DylibView>;

z.globalRegistry.add(DylibView, { id: 'Dylib' });

export const DylibQuery = z.object({
  hidden: QueryBool.optional().describe(
    "Also list symbols without the Exported flag (a module's private functions, the JIT's own symbols); default false.",
  ),
});
export type DylibQuery = z.infer<typeof DylibQuery>;

export const DylibList = z.object({ dylibs: z.array(DylibView) });
export type DylibList = z.infer<typeof DylibList>;
