// Building blocks every other schema file shares: dylib and symbol names, wasm value types,
// function signatures and the path parameters that name them. API.md v2 fixes dylib names:
// any UTF-8 string of 1 to 255 bytes without control characters, because every import module
// name a toolchain writes (`env`, `./pkg_bg.js`, `not wasm`) must be able to name the dylib its
// imports resolve in. Symbol names are unconstrained: wasm export names may be empty or contain
// spaces, slashes or NUL.

import { z } from 'zod';
import { documentAs } from './docs.ts';

/** U+0000-U+001F and U+007F: the characters a dylib name may not contain. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const MAX_DYLIB_NAME_BYTES = 255;
export const IMPL_SUFFIX = '.impl';

/** Any dylib's name, implementation dylibs' included: what paths, link orders and views carry. */
export const DylibName = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => Buffer.byteLength(s) <= MAX_DYLIB_NAME_BYTES, `must be at most ${MAX_DYLIB_NAME_BYTES} bytes of UTF-8`)
  .refine((s) => !CONTROL_CHARACTER.test(s), 'must not contain control characters (U+0000-U+001F, U+007F)')
  .describe('A dylib name: any UTF-8 string of 1 to 255 bytes without control characters (percent-encoded in paths).');
export type DylibName = z.infer<typeof DylibName>;

/** The name of a dylib a client creates: implementation dylibs (`<name>.impl`) are the JIT's to create. */
export const NewDylibName = DylibName.refine(
  (s) => !s.endsWith(IMPL_SUFFIX),
  `must not end in "${IMPL_SUFFIX}": implementation dylibs are created by the JIT`,
).describe('A new dylib\'s name: as any dylib name, but not ending in ".impl".');

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

export const ModuleParams = z.object({ dylib: DylibName, module: z.string().min(1).describe("A module's id, as its add returned it.") });
export type ModuleParams = z.infer<typeof ModuleParams>;

/** Query-string integers arrive as strings; accept plain decimal digits only (no "1e3", no ""). */
export const QueryUint = documentAs(
  z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be a non-negative decimal integer')
    .transform(Number),
  z.int().min(0).max(999_999_999_999_999),
);

/** Query-string booleans: true/false, 1/0, yes/no, on/off (documented as a boolean: true/false). */
export const QueryBool = documentAs(z.stringbool(), z.boolean());
