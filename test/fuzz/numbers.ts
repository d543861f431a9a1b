// Numeric wasm values as the fuzz test handles them: exact bit patterns (unsigned decimal
// strings, API.md's typed form) and their conversion to and from the JS API's values, which
// the direct instantiation side needs. Only i32/i64/f32/f64: the JS API cannot pass v128.

import type { Prng } from './prng.ts';

export type NumType = 'i32' | 'i64' | 'f32' | 'f64';

export const NUM_TYPES: readonly string[] = ['i32', 'i64', 'f32', 'f64'];

export function isNumType(t: string): t is NumType {
  return NUM_TYPES.includes(t);
}

/** The JS value the JS API expects for a parameter of type `type` with these bits. */
export function bitsToJs(type: NumType, bits: string): number | bigint {
  const view = new DataView(new ArrayBuffer(8));
  switch (type) {
    case 'i32':
      return Number(BigInt.asIntN(32, BigInt(bits)));
    case 'i64':
      return BigInt.asIntN(64, BigInt(bits));
    case 'f32':
      view.setUint32(0, Number(bits));
      return view.getFloat32(0);
    case 'f64':
      view.setBigUint64(0, BigInt(bits));
      return view.getFloat64(0);
  }
}

/** The bits of a value the JS API returned for a result of type `type`. */
export function jsToBits(type: NumType, value: unknown): string {
  const view = new DataView(new ArrayBuffer(8));
  switch (type) {
    case 'i32':
      return String(Number(value) >>> 0);
    case 'i64':
      return BigInt.asUintN(64, value as bigint).toString();
    case 'f32':
      view.setFloat32(0, value as number);
      return String(view.getUint32(0));
    case 'f64':
      view.setFloat64(0, value as number);
      return view.getBigUint64(0).toString();
  }
}

export function isNaNBits(type: NumType, bits: string): boolean {
  const b = BigInt(bits);
  if (type === 'f32') return (b & 0x7f80_0000n) === 0x7f80_0000n && (b & 0x7f_ffffn) !== 0n;
  if (type === 'f64') return (b & 0x7ff0_0000_0000_0000n) === 0x7ff0_0000_0000_0000n && (b & 0xf_ffff_ffff_ffffn) !== 0n;
  return false;
}

/**
 * Whether two results agree. NaN payloads need not: a NaN crossing the JS API as a number may
 * come back canonicalized, so for NaNs only NaN-ness is compared.
 */
export function sameValue(type: NumType, a: string, b: string): boolean {
  if (a === b) return true;
  return isNaNBits(type, a) && isNaNBits(type, b);
}

// Edge values worth hitting more often than uniform random bits would.
const INTERESTING: Readonly<Record<NumType, readonly bigint[]>> = {
  i32: [0n, 1n, 2n, 0xffff_ffffn, 0x7fff_ffffn, 0x8000_0000n, 0xffn, 0x1_0000n],
  i64: [0n, 1n, 0xffff_ffff_ffff_ffffn, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0xffff_ffffn, 0x1_0000_0000n],
  // 0, -0, 1, -1.5, max finite, smallest subnormal, Infinity, -Infinity
  f32: [0n, 0x8000_0000n, 0x3f80_0000n, 0xbfc0_0000n, 0x7f7f_ffffn, 1n, 0x7f80_0000n, 0xff80_0000n],
  f64: [0n, 0x8000_0000_0000_0000n, 0x3ff0_0000_0000_0000n, 0xbff8_0000_0000_0000n, 0x7fef_ffff_ffff_ffffn, 1n, 0x7ff0_0000_0000_0000n],
};

/**
 * A deterministic argument: an edge value or random bits. Never a NaN, whose payload the
 * direct side's JS numbers could not carry into the call.
 */
export function randomArg(rng: Prng, type: NumType): string {
  if (rng.chance(0.5)) return rng.pick(INTERESTING[type]).toString();
  const wide = type === 'i64' || type === 'f64';
  let bits = wide ? (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()) : BigInt(rng.u32());
  if (isNaNBits(type, bits.toString())) bits = 0n;
  // Small integers are what loop counters and memory offsets like best.
  if ((type === 'i32' || type === 'i64') && rng.chance(0.3)) bits = BigInt(rng.below(64));
  return bits.toString();
}
