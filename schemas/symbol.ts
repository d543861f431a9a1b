// How a symbol looks on the wire (API.md "A symbol is ..."), plus the lookup request. The
// state and flag vocabularies are ORC's: NeverSearched -> Materializing -> Resolved -> Emitted
// -> Ready, and JITSymbolFlags (HasError marks a symbol whose materialization failed).

import { z } from 'zod';
import { DylibName, FuncTypeView, SymbolName } from './common.ts';
import { ResultValue } from './values.ts';

export const SymbolKind = z.enum(['function', 'global', 'memory', 'table']);
export type SymbolKind = z.infer<typeof SymbolKind>;

export const SymbolFlag = z.enum([
  'Exported',
  'Callable',
  'Weak',
  'Common',
  'Absolute',
  'HasError',
  'MaterializationSideEffectsOnly',
]);
export type SymbolFlag = z.infer<typeof SymbolFlag>;

export const SymbolState = z.enum(['NeverSearched', 'Materializing', 'Resolved', 'Emitted', 'Ready']);
export type SymbolState = z.infer<typeof SymbolState>;

export const SymbolTarget = z
  .object({
    dylib: DylibName,
    name: SymbolName,
    compiled: z.boolean(),
    tier: z
      .enum(['baseline', 'optimized'])
      .optional()
      .describe('For a compiled lazy body: compiled on its own at first call (baseline), or re-optimized with its callees once hot.'),
  })
  .describe('What an alias, reexport or lazy reexport leads to; for a lazy reexport, its body in the impl dylib.');
export type SymbolTarget = z.infer<typeof SymbolTarget>;

export const SymbolView = z
  .object({
    name: SymbolName,
    dylib: DylibName.describe('The dylib that defines the symbol.'),
    kind: SymbolKind,
    flags: z.array(SymbolFlag),
    state: SymbolState,
    address: z
      .string()
      .regex(/^0x[0-9a-fA-F]+$/)
      .optional()
      .describe('Set once the symbol is resolved.'),
    type: FuncTypeView.optional().describe('For functions.'),
    value: ResultValue.optional().describe("For globals: the current value."),
    lazy: z.boolean().optional().describe('true for a lazy reexport.'),
    target: SymbolTarget.optional(),
  })
  .describe('A symbol: a name defined in a dylib.');
export type SymbolView = z.infer<typeof SymbolView>;

z.globalRegistry.add(SymbolView, { id: 'Symbol' });

export const SymbolList = z.object({ symbols: z.array(SymbolView) });
export type SymbolList = z.infer<typeof SymbolList>;

export const LookupBody = z.object({
  symbols: z.array(SymbolName).describe('Names to look up through the link order; all or nothing.'),
});
export type LookupBody = z.infer<typeof LookupBody>;
