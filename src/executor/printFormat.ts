// Formats printed values the way the WebAssembly reference interpreter does ("42 : i32"):
// integers signed, floats as C's "%.17g", both with digits grouped by "_" in threes, and NaNs as
// "nan:0x<payload>" with hex digits grouped in fours.

import type { ValType } from '../wasm/types.ts';

/** Groups a run of digits from the right (integer parts) or the left (fractions). */
function group(digits: string, n: number, fromRight: boolean): string {
  const out: string[] = [];
  if (fromRight) {
    for (let end = digits.length; end > 0; end -= n) out.unshift(digits.slice(Math.max(0, end - n), end));
  } else {
    for (let start = 0; start < digits.length; start += n) out.push(digits.slice(start, start + n));
  }
  return out.join('_');
}

function formatInt(signed: bigint): string {
  const s = signed.toString();
  return s.startsWith('-') ? `-${group(s.slice(1), 3, true)}` : group(s, 3, true);
}

/** C's printf("%.17g", x) for a finite, non-negative x. */
function g17(x: number): string {
  if (x === 0) return '0';
  const [mant = '', e = '0'] = x.toExponential(16).split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 17) {
    const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const fixed = x.toFixed(16 - exp);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

function formatFloat(sign: boolean, isNaN: boolean, payload: bigint, magnitude: number): string {
  const prefix = sign ? '-' : '';
  if (isNaN) return `${prefix}nan:0x${group(payload.toString(16), 4, true)}`;
  if (magnitude === Infinity) return `${prefix}inf`;
  const s = g17(magnitude);
  const intEnd = s.search(/[^0-9]/);
  if (intEnd < 0) return prefix + group(s, 3, true);
  let rest = s.slice(intEnd);
  if (rest.startsWith('.')) {
    const fracEnd = rest.slice(1).search(/[^0-9]/);
    const frac = fracEnd < 0 ? rest.slice(1) : rest.slice(1, 1 + fracEnd);
    rest = `.${group(frac, 3, false)}${fracEnd < 0 ? '' : rest.slice(1 + fracEnd)}`;
  }
  return prefix + group(s.slice(0, intEnd), 3, true) + rest;
}

export function formatF32Bits(bits: number): string {
  const u = bits >>> 0;
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, u & 0x7fffffff);
  const exponent = (u >>> 23) & 0xff;
  return formatFloat(u >>> 31 === 1, exponent === 0xff && (u & 0x7fffff) !== 0, BigInt(u & 0x7fffff), view.getFloat32(0));
}

export function formatF64Bits(bits: bigint): string {
  const u = BigInt.asUintN(64, bits);
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, u & 0x7fff_ffff_ffff_ffffn);
  const mantissa = u & 0xf_ffff_ffff_ffffn;
  const exponent = (u >> 52n) & 0x7ffn;
  return formatFloat(u >> 63n === 1n, exponent === 0x7ffn && mantissa !== 0n, mantissa, view.getFloat64(0));
}

/** One printed value: `raw` is the JS value the spectest shim passes (raw bits for floats). */
export function formatPrinted(type: ValType, raw: unknown): string {
  switch (type) {
    case 'i32':
      return `${formatInt(BigInt((raw as number) | 0))} : i32`;
    case 'i64':
      return `${formatInt(BigInt.asIntN(64, raw as bigint))} : i64`;
    case 'f32':
      return `${formatF32Bits(raw as number)} : f32`;
    case 'f64':
      return `${formatF64Bits(raw as bigint)} : f64`;
    default:
      return `${String(raw)} : ${type}`;
  }
}
