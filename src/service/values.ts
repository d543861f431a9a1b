// The codec between wasm values as JSON (API.md "Values": plain and typed forms) and exact
// WasmValues (src/wasm/types.ts: raw bits as an unsigned decimal string). All bit work goes
// through BigInt and DataView so nothing passes through a lossy JS number: NaN payloads, -0
// and 64-bit integers survive a round trip through the typed form exactly.

import { TypeMismatch } from '../core/errors.ts';
import type { NumType, ValType, WasmValue } from '../wasm/types.ts';

export type PlainJson = number | string | null;

/** A result as the API returns it: plain form for people, exact bits for tools. */
export interface EncodedValue {
  readonly type: ValType;
  readonly value: PlainJson;
  readonly bits: string | null;
}

/** A TypeMismatch that also says which argument and what the signature wanted. */
export class ArgumentMismatch extends TypeMismatch {
  readonly argument: number | undefined;
  readonly expected: readonly ValType[];
  constructor(message: string, expected: readonly ValType[], argument?: number) {
    super(message);
    this.expected = expected;
    this.argument = argument;
  }
  override details() {
    return this.argument === undefined
      ? { expected: this.expected }
      : { argument: this.argument, expected: this.expected[this.argument] };
  }
}

const WIDTH: Record<NumType, 32n | 64n> = { i32: 32n, i64: 64n, f32: 32n, f64: 64n };

const INTEGER = /^[+-]?[0-9]+$/;
// A JSON-style decimal number, as a string (floats sent as strings for symmetry with i64).
const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const V128_HEX = /^[0-9a-fA-F]{32}$/;

const F32_SPECIAL: Readonly<Record<string, number>> = {
  NaN: 0x7fc0_0000,
  '+NaN': 0x7fc0_0000,
  '-NaN': 0xffc0_0000,
  Infinity: 0x7f80_0000,
  '+Infinity': 0x7f80_0000,
  '-Infinity': 0xff80_0000,
  '-0': 0x8000_0000,
};
const F64_SPECIAL: Readonly<Record<string, bigint>> = {
  NaN: 0x7ff8_0000_0000_0000n,
  '+NaN': 0x7ff8_0000_0000_0000n,
  '-NaN': 0xfff8_0000_0000_0000n,
  Infinity: 0x7ff0_0000_0000_0000n,
  '+Infinity': 0x7ff0_0000_0000_0000n,
  '-Infinity': 0xfff0_0000_0000_0000n,
  '-0': 0x8000_0000_0000_0000n,
};

/** Why a single value was rejected; turned into an ArgumentMismatch naming the argument. */
class BadValue extends Error {}

function describe(json: unknown): string {
  if (json === undefined) return 'nothing';
  const text = JSON.stringify(json);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** An integer given as a JSON number (must be a safe integer) or a decimal string. */
function toBigInt(json: unknown, what: string): bigint {
  if (typeof json === 'number') {
    if (!Number.isSafeInteger(json)) {
      throw new BadValue(`${what} must be an integer${Number.isInteger(json) ? ' given as a decimal string (it is not a safe integer)' : ''}, got ${describe(json)}`);
    }
    return BigInt(json);
  }
  if (typeof json === 'string' && INTEGER.test(json)) return BigInt(json);
  throw new BadValue(`${what} must be an integer, got ${describe(json)}`);
}

/**
 * Accepts n in [-2^(w-1), 2^w) (signed or unsigned reading of the same bits) and returns the
 * unsigned bit pattern; anything outside both readings does not fit and is rejected.
 */
function intBits(n: bigint, width: 32n | 64n, what: string): string {
  if (n < -(1n << (width - 1n)) || n >= 1n << width) {
    throw new BadValue(`${what} does not fit in ${width} bits`);
  }
  return BigInt.asUintN(Number(width), n).toString();
}

function f32Bits(x: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x); // rounds to nearest float32, as f32.demote would
  return view.getUint32(0).toString();
}

function f64Bits(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString();
}

function plainFloat(type: 'f32' | 'f64', json: unknown): string {
  if (typeof json === 'number') return type === 'f32' ? f32Bits(json) : f64Bits(json);
  if (typeof json === 'string') {
    const special = type === 'f32' ? F32_SPECIAL[json] : F64_SPECIAL[json];
    if (special !== undefined) return special.toString();
    if (DECIMAL.test(json)) return plainFloat(type, Number(json));
  }
  throw new BadValue(
    `${type} must be a number or one of "NaN", "Infinity", "-Infinity", "-0", got ${describe(json)}`,
  );
}

function v128(json: unknown): string {
  if (typeof json === 'string' && V128_HEX.test(json)) return json.toLowerCase();
  throw new BadValue(`v128 must be 32 hex digits (little-endian byte order), got ${describe(json)}`);
}

function reference(type: 'funcref' | 'externref', json: unknown): string | null {
  if (json === null || typeof json === 'string') return json;
  throw new BadValue(`${type} must be null or an opaque reference string, got ${describe(json)}`);
}

function decodePlain(type: ValType, json: unknown): string | null {
  switch (type) {
    case 'i32':
      if (typeof json === 'number' && !Number.isInteger(json)) {
        throw new BadValue(`i32 must be an integer, got ${describe(json)}`);
      }
      return intBits(toBigInt(json, 'i32'), 32n, `i32 ${describe(json)}`);
    case 'i64':
      return intBits(toBigInt(json, 'i64'), 64n, `i64 ${describe(json)}`);
    case 'f32':
    case 'f64':
      return plainFloat(type, json);
    case 'v128':
      return v128(json);
    case 'funcref':
    case 'externref':
      return reference(type, json);
  }
}

function decodeTyped(type: ValType, value: unknown): string | null {
  switch (type) {
    case 'i32':
    case 'i64':
      return intBits(toBigInt(value, `typed ${type} bits`), WIDTH[type], `typed ${type} bits ${describe(value)}`);
    case 'f32':
    case 'f64': {
      // Raw bits only: a float's bit pattern is never negative.
      const bits = toBigInt(value, `typed ${type} bits`);
      if (bits < 0n || bits >= 1n << WIDTH[type]) {
        throw new BadValue(`typed ${type} bits ${describe(value)} are not an unsigned ${WIDTH[type]}-bit pattern`);
      }
      return bits.toString();
    }
    case 'v128':
      return v128(value);
    case 'funcref':
    case 'externref':
      return reference(type, value);
  }
}

function isTyped(json: unknown): json is { type: unknown; value?: unknown } {
  return typeof json === 'object' && json !== null && !Array.isArray(json) && 'type' in json;
}

/** Decodes one argument for a parameter of type `type`; throws BadValue. */
export function decodeValue(json: unknown, type: ValType): WasmValue {
  if (isTyped(json)) {
    if (json.type !== type) {
      throw new BadValue(`a typed ${describe(json.type)} value was given where ${type} is expected`);
    }
    if (!('value' in json)) throw new BadValue(`the typed ${type} value has no "value"`);
    return { type, bits: decodeTyped(type, json.value) };
  }
  if (typeof json === 'object' && json !== null) {
    throw new BadValue(`expected ${type} in plain or typed form, got ${describe(json)}`);
  }
  return { type, bits: decodePlain(type, json) };
}

/**
 * Decodes invoke arguments (plain and typed forms, mixed) against a signature's params.
 * Throws TypeMismatch (an ArgumentMismatch) for a wrong count or a value of the wrong type.
 */
export function decodeArgs(json: readonly unknown[], params: readonly ValType[]): WasmValue[] {
  if (json.length !== params.length) {
    throw new ArgumentMismatch(
      `Expected ${params.length} argument${params.length === 1 ? '' : 's'} (${params.join(', ') || 'none'}) but got ${json.length}.`,
      params,
    );
  }
  return params.map((type, i) => {
    try {
      return decodeValue(json[i], type);
    } catch (err) {
      if (err instanceof BadValue) throw new ArgumentMismatch(`Argument ${i}: ${err.message}.`, params, i);
      throw err;
    }
  });
}

function requireBits(v: WasmValue): string {
  if (v.bits === null) throw new Error(`A ${v.type} value has null bits.`);
  return v.bits;
}

function plainFloatOf(x: number): PlainJson {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (Object.is(x, -0)) return '-0';
  return x;
}

/** The plain form of an exact value (lossy only for NaN payloads, which `bits` keeps). */
export function plainOf(v: WasmValue): PlainJson {
  switch (v.type) {
    case 'i32':
      return Number(BigInt.asIntN(32, BigInt(requireBits(v))));
    case 'i64':
      return BigInt.asIntN(64, BigInt(requireBits(v))).toString();
    case 'f32': {
      const view = new DataView(new ArrayBuffer(4));
      view.setUint32(0, Number(BigInt.asUintN(32, BigInt(requireBits(v)))));
      return plainFloatOf(view.getFloat32(0));
    }
    case 'f64': {
      const view = new DataView(new ArrayBuffer(8));
      view.setBigUint64(0, BigInt.asUintN(64, BigInt(requireBits(v))));
      return plainFloatOf(view.getFloat64(0));
    }
    case 'v128':
      return requireBits(v);
    case 'funcref':
    case 'externref':
      return v.bits;
  }
}

/** A result in API.md's shape: `{type, value: plain form, bits: typed form's value}`. */
export function encodeResult(v: WasmValue): EncodedValue {
  return { type: v.type, value: plainOf(v), bits: v.bits };
}
