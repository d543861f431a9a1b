// The two wire forms of wasm values (API.md "Values") and the shape every result takes.
// These schemas describe and document the forms; the exact conversion to and from bit
// patterns lives in src/service/values.ts, which reports a bad value as TypeMismatch.

import { z } from 'zod';
import { ValType } from './common.ts';

export const PlainValue = z
  .union([z.number(), z.string(), z.null()])
  .describe(
    'Plain form: i32 as a number; i64 as a decimal string (or a safe-integer number); f32/f64 as a ' +
      'number or "NaN", "Infinity", "-Infinity", "-0"; v128 as 32 hex digits; references as null or an opaque string.',
  );
export type PlainValue = z.infer<typeof PlainValue>;

export const TypedValue = z
  .object({
    type: ValType,
    value: z.union([z.string(), z.number(), z.null()]),
  })
  .describe(
    'Typed form: the raw bit pattern as an unsigned decimal string (as wast2json writes it); ' +
      'v128 as 32 hex digits in little-endian byte order; references as null or an opaque string.',
  );
export type TypedValue = z.infer<typeof TypedValue>;

export const ArgValue = z.union([PlainValue, TypedValue]).describe('An invoke argument, in either form.');
export type ArgValue = z.infer<typeof ArgValue>;

export const ResultValue = z
  .object({
    type: ValType,
    value: PlainValue,
    bits: z.string().nullable().describe("The typed form's value: exact bits."),
  })
  .describe('A wasm value as returned by the service: its plain form plus its exact bits.');
export type ResultValue = z.infer<typeof ResultValue>;

z.globalRegistry.add(PlainValue, { id: 'PlainValue' });
z.globalRegistry.add(TypedValue, { id: 'TypedValue' });
z.globalRegistry.add(ArgValue, { id: 'ArgValue' });
z.globalRegistry.add(ResultValue, { id: 'ResultValue' });
