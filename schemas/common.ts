// Building blocks every other schema file shares: dylib and symbol names, wasm value types,
// function signatures and the path parameters that name them. API.md fixes the dylib-name
// pattern; symbol names are deliberately unconstrained because wasm export names may be
// empty or contain spaces, slashes or NUL.

import { z } from 'zod';

export const DYLIB_NAME_PATTERN = /^[A-Za-z0-9_$][A-Za-z0-9_.$-]{0,127}$/;

export const DylibName = z
  .string()
  .regex(DYLIB_NAME_PATTERN, 'must match ^[A-Za-z0-9_$][A-Za-z0-9_.$-]{0,127}$')
  .describe('A dylib name: 1 to 128 of A-Z a-z 0-9 _ $ . - (not starting with . or -).');
export type DylibName = z.infer<typeof DylibName>;

export const SymbolName = z
  .string()
  .describe('A symbol name: any UTF-8 string, including the empty string.');
export type SymbolName = z.infer<typeof SymbolName>;

export const ValType = z.enum(['i32', 'i64', 'f32', 'f64', 'v128', 'funcref', 'externref']);
export type ValType = z.infer<typeof ValType>;

export const FuncTypeView = z
  .object({ params: z.array(ValType), results: z.array(ValType) })
  .describe("A function's signature.");
export type FuncTypeView = z.infer<typeof FuncTypeView>;

export const DylibParams = z.object({ dylib: DylibName });
export type DylibParams = z.infer<typeof DylibParams>;

export const SymbolParams = z.object({ dylib: DylibName, symbol: SymbolName });
export type SymbolParams = z.infer<typeof SymbolParams>;

/** Query-string integers arrive as strings; accept plain decimal digits only (no "1e3", no ""). */
export const QueryUint = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'must be a non-negative decimal integer')
  .transform(Number);

/** Query-string booleans: true/false, 1/0, yes/no, on/off. */
export const QueryBool = z.stringbool();
