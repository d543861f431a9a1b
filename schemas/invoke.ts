// Invoking a function: the request (symbol in the path or in the body) and the invoke result.
// Arguments are left as raw JSON here and decoded against the function's signature by
// src/service/values.ts, so a wrong value is a TypeMismatch, not a schema failure.

import { z } from 'zod';
import { SymbolName } from './common.ts';
import { documentAs } from './docs.ts';
import { ArgValue, ResultValue } from './values.ts';

const args = z
  .array(documentAs(z.unknown(), ArgValue))
  .default([])
  .describe("Arguments, one per parameter, plain or typed forms mixed freely.");

const timeoutMs = z
  .number()
  .int()
  .positive()
  .optional()
  .describe("Lower the call's time limit; never raised above the server's maximum.");

export const InvokeBody = z.object({ args, timeoutMs });
export type InvokeBody = z.infer<typeof InvokeBody>;

export const InvokeByNameBody = z.object({ symbol: SymbolName, args, timeoutMs });
export type InvokeByNameBody = z.infer<typeof InvokeByNameBody>;

export const InvokeResult = z.object({
  results: z.array(ResultValue),
  compiled: z.array(z.string()).describe('Function bodies compiled during this call, in order.'),
  output: z.array(z.string()).describe('Lines printed through host functions.'),
  timing: z.object({ compileMs: z.number(), runMs: z.number() }),
});
export type InvokeResult = z.infer<typeof InvokeResult>;
