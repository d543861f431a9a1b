// Exact values across the JS/wasm boundary. JS numbers cannot carry a NaN's payload and JS has
// no v128, so invoke wrappers take and return every value as raw bits: f32 as i32, f64 as i64,
// v128 as two i64 (low lane first). References pass through as references.
//
// This file is pure (no worker state): main uses `checkValue` to validate invoke arguments before
// sending them, and the worker uses the conversions with a `RefCodec` for reference values.

import type { ValType, WasmValue } from '../wasm/types.ts';

/** The wrapper-level types carrying one value of type `t`. */
export function rawTypes(t: ValType): readonly ValType[] {
  switch (t) {
    case 'i32':
    case 'f32':
      return ['i32'];
    case 'i64':
    case 'f64':
      return ['i64'];
    case 'v128':
      return ['i64', 'i64'];
    case 'funcref':
    case 'externref':
      return [t];
  }
}

const BIT_WIDTH: Readonly<Record<'i32' | 'i64' | 'f32' | 'f64', bigint>> = { i32: 32n, i64: 64n, f32: 32n, f64: 64n };

/**
 * Why a value does not fit its declared type, or undefined when it does. Numbers accept the
 * unsigned form wast2json writes and, for convenience, the signed form of the same bits.
 */
export function checkValue(expected: ValType, v: WasmValue): string | undefined {
  if (v.type !== expected) return `expected ${expected}, got ${v.type}`;
  const bits = v.bits;
  switch (expected) {
    case 'i32':
    case 'i64':
    case 'f32':
    case 'f64': {
      if (typeof bits !== 'string' || !/^-?\d+$/.test(bits)) return `${expected} bits must be a decimal string`;
      const n = BigInt(bits);
      const width = BIT_WIDTH[expected];
      if (n >= 1n << width || n < -(1n << (width - 1n))) return `${bits} does not fit in ${width} bits`;
      return undefined;
    }
    case 'v128':
      return typeof bits === 'string' && /^[0-9a-fA-F]{32}$/.test(bits) ? undefined : 'v128 bits must be 32 hex digits';
    case 'funcref':
    case 'externref':
      return bits === null || typeof bits === 'string' ? undefined : `${expected} must be null or a string`;
  }
}

/** How reference values map to and from JS objects; the worker owns the tables behind it. */
export interface RefCodec {
  externToJs(bits: string): unknown;
  externFromJs(value: unknown): string;
  /** Throws a TypeError-like message for strings that name no function. */
  funcToJs(bits: string): unknown;
  funcFromJs(value: unknown): string;
}

/** Appends the raw JS arguments for `v` (already checked) to `out`. */
export function pushRaw(v: WasmValue, refs: RefCodec, out: unknown[]): void {
  const bits = v.bits;
  switch (v.type) {
    case 'i32':
    case 'f32':
      out.push(Number(BigInt.asIntN(32, BigInt(bits ?? '0'))));
      return;
    case 'i64':
    case 'f64':
      out.push(BigInt.asIntN(64, BigInt(bits ?? '0')));
      return;
    case 'v128': {
      const hex = bits ?? '0'.repeat(32);
      out.push(leHexToI64(hex.slice(0, 16)), leHexToI64(hex.slice(16, 32)));
      return;
    }
    case 'funcref':
      out.push(bits === null ? null : refs.funcToJs(bits));
      return;
    case 'externref':
      out.push(bits === null ? null : refs.externToJs(bits));
      return;
  }
}

/** Reads one value of type `t` from raw results starting at `raw[at]`; returns it and the next index. */
export function readRaw(t: ValType, raw: readonly unknown[], at: number, refs: RefCodec): [WasmValue, number] {
  const x = raw[at];
  switch (t) {
    case 'i32':
    case 'f32':
      return [{ type: t, bits: String((x as number) >>> 0) }, at + 1];
    case 'i64':
    case 'f64':
      return [{ type: t, bits: BigInt.asUintN(64, x as bigint).toString() }, at + 1];
    case 'v128':
      return [{ type: t, bits: i64ToLeHex(x as bigint) + i64ToLeHex(raw[at + 1] as bigint) }, at + 2];
    case 'funcref':
      return [{ type: t, bits: x === null ? null : refs.funcFromJs(x) }, at + 1];
    case 'externref':
      return [{ type: t, bits: x === null ? null : refs.externFromJs(x) }, at + 1];
  }
}

/** 16 hex digits, little-endian byte order, to the i64 holding those bytes. */
function leHexToI64(hex: string): bigint {
  let n = 0n;
  for (let i = 7; i >= 0; i--) n = (n << 8n) | BigInt(parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  return BigInt.asIntN(64, n);
}

function i64ToLeHex(x: bigint): string {
  let n = BigInt.asUintN(64, x);
  let hex = '';
  for (let i = 0; i < 8; i++) {
    hex += Number(n & 0xffn).toString(16).padStart(2, '0');
    n >>= 8n;
  }
  return hex;
}
