// Adding a module: the JSON body (WAT text or base64 binary plus options), the query-string
// options used with raw bodies (application/wasm, text/plain), and the response shapes.
// Raw bodies are turned into this same JSON shape by routes/modules.ts's content-type parsers,
// so one schema validates all three forms.

import { z } from 'zod';
import { base64Field } from './base64.ts';
import { QueryBool } from './common.ts';
import { bodyMedia, documentAs } from './docs.ts';
import { SymbolView } from './symbol.ts';

const RawWasm = z
  .custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be binary wasm')
  .meta({ type: 'string', format: 'binary' });

const lazy = z.boolean().describe('Compile each function on its first call (default true).');
const optimize = z.number().int().min(0).max(4).describe('binaryen optimization level 0..4 (default 2).');
const name = z.string().min(1).max(256).describe("A name for the module, shown in the dylib's module list.");

const wat = z.string().describe('The module in WebAssembly text format.');
const base64Wasm = base64Field('The module binary, base64-encoded.');

/** The JSON form as the document shows it: exactly one of "wat" and "wasm" (base64). */
const AddModuleJsonBody = z
  .union([
    z.object({ wat, lazy: lazy.optional(), optimize: optimize.optional(), name: name.optional() }),
    z.object({ wasm: base64Wasm, lazy: lazy.optional(), optimize: optimize.optional(), name: name.optional() }),
  ])
  .describe('The module as WAT text ("wat") or a base64 binary ("wasm"), with its options.');

export const AddModuleBody = z
  .object({
    wat: wat.optional(),
    // RawWasm: an application/wasm body, which routes/modules.ts's parser turns into this shape.
    wasm: z.union([base64Wasm, RawWasm]).optional(),
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

bodyMedia.set(AddModuleBody, {
  'application/json': AddModuleJsonBody,
  'application/wasm': z.string().meta({ format: 'binary' }).describe('The module binary; options in the query string.'),
  'text/plain': z.string().describe('The module in WebAssembly text format; options in the query string.'),
});

/** The raw bodies' optimize level in the query string: "0".."4" (documented as the integer). */
const QueryOptimize = documentAs(
  z
    .string()
    .regex(/^[0-4]$/, 'must be one of 0, 1, 2, 3, 4')
    .transform(Number),
  z.int().min(0).max(4),
);

export const AddModuleQuery = z.object({
  lazy: QueryBool.optional().describe('As the body\'s "lazy"; the body wins when both are given.'),
  optimize: QueryOptimize.optional().describe('As the body\'s "optimize".'),
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
