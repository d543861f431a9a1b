// The invoke routes' hand-written request checks and response writer: the one hot route pays
// neither zod's parse of its body and path nor zod's encode of its result (about 10 µs a call
// together, against a call that costs the server some 100 µs of JavaScript).
//
// Each fast path only ever says yes: what it accepts, zod accepts with the same output (the test
// compares them on many inputs), and anything it is not sure of goes to zod's own validator or
// serializer, so a refused request gets zod's exact issues and message, and a result that does
// not match the schema still fails as a ResponseSerializationError. The zod schemas stay the
// routes' schemas: the OpenAPI document is generated from them as before.

import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import { serializerCompiler as zodSerializerCompiler, validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { InvokeBody, InvokeByNameBody, InvokeResult } from '../schemas/invoke.ts';
import type { SymbolParams } from '../schemas/common.ts';

type ZodRoute = FastifyRouteSchemaDef<z.core.$ZodType>;
type Validate = (data: unknown) => { value: unknown } | { error: Error };
/** A fast check: the value zod would produce, or undefined for "ask zod". */
type FastCheck = (data: unknown) => unknown;

/** The same test as schemas/common.ts's DylibName. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** A UTF-16 code unit is at most 3 bytes of UTF-8: this many units are always within 255 bytes. */
const SURELY_SHORT_DYLIB_NAME = 85;

function isPlainObject(data: unknown): data is Record<string, unknown> {
  return typeof data === 'object' && data !== null && !Array.isArray(data);
}

function isDylibName(s: unknown): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= SURELY_SHORT_DYLIB_NAME && !CONTROL_CHARACTER.test(s);
}

/** `{dylib, symbol}` path parameters as SymbolParams parses them. */
export function fastSymbolParams(data: unknown): SymbolParams | undefined {
  if (!isPlainObject(data)) return undefined;
  const { dylib, symbol } = data;
  if (!isDylibName(dylib) || typeof symbol !== 'string') return undefined;
  return { dylib, symbol };
}

/** `{dylib}` path parameters as DylibParams parses them. */
export function fastDylibParams(data: unknown): { dylib: string } | undefined {
  if (!isPlainObject(data)) return undefined;
  const { dylib } = data;
  return isDylibName(dylib) ? { dylib } : undefined;
}

/** `{args?, timeoutMs?}`, the fields of both invoke bodies, as zod parses them (extra keys dropped). */
function invokeFields(data: Record<string, unknown>): { args: unknown[]; timeoutMs?: number } | undefined {
  const { args, timeoutMs } = data;
  if (args !== undefined && !Array.isArray(args)) return undefined;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) return undefined;
  // zod copies the array; nothing downstream changes it, so the client's own is as good.
  const out: { args: unknown[]; timeoutMs?: number } = { args: (args as unknown[] | undefined) ?? [] };
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  return out;
}

/** The body of POST /dylibs/:dylib/symbols/:symbol/invoke, as InvokeBody parses it. */
export function fastInvokeBody(data: unknown): InvokeBody | undefined {
  return isPlainObject(data) ? invokeFields(data) : undefined;
}

/** The body of POST /dylibs/:dylib/invoke, as InvokeByNameBody parses it. */
export function fastInvokeByNameBody(data: unknown): InvokeByNameBody | undefined {
  if (!isPlainObject(data) || typeof data['symbol'] !== 'string') return undefined;
  const fields = invokeFields(data);
  return fields && { symbol: data['symbol'], ...fields };
}

/**
 * A validator compiler for one route: the fast check of each request part it is given, zod's
 * validator behind it (and alone for the parts it is not given).
 */
export function invokeValidatorCompiler<S>(fast: { readonly params?: FastCheck; readonly body?: FastCheck }): FastifySchemaCompiler<S> {
  return (route) => {
    const zod = zodValidatorCompiler(route as unknown as ZodRoute) as Validate;
    const check = route.httpPart === 'params' ? fast.params : route.httpPart === 'body' ? fast.body : undefined;
    if (check === undefined) return zod;
    return (data: unknown) => {
      const value = check(data);
      return value === undefined ? zod(data) : { value };
    };
  };
}

/** JSON of a plain value (number, string or null) the way JSON.stringify writes it; undefined if not one. */
function plainValue(v: unknown): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

const VAL_TYPES: ReadonlySet<unknown> = new Set(['i32', 'i64', 'f32', 'f64', 'v128', 'funcref', 'externref']);

function stringList(v: unknown): string | undefined {
  if (!Array.isArray(v)) return undefined;
  let out = '[';
  for (let i = 0; i < v.length; i++) {
    const s: unknown = v[i];
    if (typeof s !== 'string') return undefined;
    out += (i === 0 ? '' : ',') + JSON.stringify(s);
  }
  return out + ']';
}

/**
 * InvokeResult as JSON, byte for byte what zod's encode and JSON.stringify give it; undefined
 * for anything that is not exactly an InvokeResult (zod then reports it).
 */
export function writeInvokeResult(data: unknown): string | undefined {
  if (!isPlainObject(data)) return undefined;
  const { results, compiled, output, timing } = data as Partial<Record<keyof InvokeResult, unknown>>;
  if (!Array.isArray(results) || !isPlainObject(timing)) return undefined;
  let out = '{"results":[';
  for (let i = 0; i < results.length; i++) {
    const r: unknown = results[i];
    if (!isPlainObject(r) || !VAL_TYPES.has(r['type'])) return undefined;
    const value = plainValue(r['value']);
    const bits = r['bits'];
    if (value === undefined || (bits !== null && typeof bits !== 'string')) return undefined;
    out += `${i === 0 ? '' : ','}{"type":"${r['type'] as string}","value":${value},"bits":${bits === null ? 'null' : JSON.stringify(bits)}}`;
  }
  const compiledJson = stringList(compiled);
  const outputJson = stringList(output);
  const { compileMs, runMs } = timing;
  if (compiledJson === undefined || outputJson === undefined) return undefined;
  if (typeof compileMs !== 'number' || !Number.isFinite(compileMs) || typeof runMs !== 'number' || !Number.isFinite(runMs)) return undefined;
  return `${out}],"compiled":${compiledJson},"output":${outputJson},"timing":{"compileMs":${String(compileMs)},"runMs":${String(runMs)}}}`;
}

/** The invoke routes' serializers: the writer above for 200, zod's for every error status. */
export function invokeSerializerCompiler<S>(): FastifySerializerCompiler<S> {
  return (route) => {
    const zod = zodSerializerCompiler(route as unknown as ZodRoute);
    if (String(route.httpStatus) !== '200') return zod;
    return (data: unknown) => writeInvokeResult(data) ?? zod(data);
  };
}
