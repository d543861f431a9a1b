// Adding a module: the JSON body (WAT text or base64 binary plus options), the query-string
// options used with raw bodies (application/wasm, text/plain), and the response shapes.
// Raw bodies are turned into this same JSON shape by routes/modules.ts's content-type parsers,
// so one schema validates all three forms.

import { z } from 'zod';
import { QueryBool } from './common.ts';
import { SymbolView } from './symbol.ts';

const RawWasm = z
  .custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be binary wasm')
  .meta({ type: 'string', format: 'binary' });

const lazy = z.boolean().describe('Compile each function on its first call (default true).');
const optimize = z.number().int().min(0).max(4).describe('binaryen optimization level 0..4 (default 2).');
const name = z.string().min(1).max(256).describe("A name for the module, shown in the dylib's module list.");

export const AddModuleBody = z
  .object({
    wat: z.string().optional().describe('The module in WebAssembly text format.'),
    wasm: z.union([z.base64(), RawWasm]).optional().describe('The module binary, base64-encoded.'),
    lazy: lazy.optional(),
    optimize: optimize.optional(),
    name: name.optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.wat === undefined) === (body.wasm === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['wat'], message: 'give exactly one of "wat" or "wasm"' });
    }
  })
  .describe(
    'JSON {"wat"} or {"wasm": base64} with options; or a raw body with Content-Type application/wasm ' +
      '(binary) or text/plain (WAT) and the options in the query string.',
  );
export type AddModuleBody = z.infer<typeof AddModuleBody>;

export const AddModuleQuery = z.object({
  lazy: QueryBool.optional().describe('As the body\'s "lazy"; the body wins when both are given.'),
  optimize: z
    .string()
    .regex(/^[0-4]$/, 'must be one of 0, 1, 2, 3, 4')
    .transform(Number)
    .optional()
    .describe('As the body\'s "optimize".'),
  name: name.optional(),
});
export type AddModuleQuery = z.infer<typeof AddModuleQuery>;

export const ModuleView = z.object({
  id: z.string(),
  name: z.string().optional(),
  lazy: z.boolean(),
});
export type ModuleView = z.infer<typeof ModuleView>;

export const UnresolvedImport = z
  .object({ module: z.string(), name: z.string() })
  .describe('A function import that resolves nowhere yet: calls reaching it fail with FailedToMaterialize until it is defined.');
export type UnresolvedImport = z.infer<typeof UnresolvedImport>;

export const AddModuleResult = z.object({
  module: ModuleView,
  symbols: z.array(SymbolView).describe('The symbols the module defined in the target dylib.'),
  unresolvedImports: z
    .array(UnresolvedImport)
    .describe('Function imports that resolve nowhere at the time of the add (so a typo shows at once).'),
});
export type AddModuleResult = z.infer<typeof AddModuleResult>;

export const MODULE_DEFAULTS = { lazy: true, optimize: 2 } as const;
