// Bit-level helpers for WasmValue's exact form: float bits to and from JS numbers, v128 lanes to
// and from the 32-hex-digit little-endian form, and a readable rendering for failure reports.
// Everything works on bit patterns so NaN payloads are never lost here.

import type { ValType, WasmValue } from '../../src/wasm/types.ts';

export type LaneType = 'i8' | 'i16' | 'i32' | 'i64' | 'f32' | 'f64';

const scratch = new DataView(new ArrayBuffer(8));

export function f32FromBits(bits: string): number {
  scratch.setUint32(0, Number(BigInt(bits) & 0xffff_ffffn), true);
  return scratch.getFloat32(0, true);
}

export function f32ToBits(x: number): string {
  scratch.setFloat32(0, x, true);
  return String(scratch.getUint32(0, true));
}

export function f64FromBits(bits: string): number {
  scratch.setBigUint64(0, BigInt.asUintN(64, BigInt(bits)), true);
  return scratch.getFloat64(0, true);
}

export function f64ToBits(x: number): string {
  scratch.setFloat64(0, x, true);
  return scratch.getBigUint64(0, true).toString();
}

export function laneBytes(laneType: LaneType): number {
  switch (laneType) {
    case 'i8':
      return 1;
    case 'i16':
      return 2;
    case 'i32':
    case 'f32':
      return 4;
    case 'i64':
    case 'f64':
      return 8;
  }
}

/** Packs unsigned lane bit patterns (lane 0 first) into the v128 hex form. */
export function lanesToV128(laneType: LaneType, lanes: readonly string[]): string {
  const size = laneBytes(laneType);
  if (lanes.length * size !== 16) throw new Error(`${lanes.length} lanes of ${laneType} do not make a v128`);
  let hex = '';
  for (const lane of lanes) {
    let v = BigInt.asUintN(size * 8, BigInt(lane));
    // Little-endian: least significant byte first.
    for (let i = 0; i < size; i++) {
      hex += Number(v & 0xffn).toString(16).padStart(2, '0');
      v >>= 8n;
    }
  }
  return hex;
}

/** Splits the v128 hex form into unsigned lane bit patterns, lane 0 first. */
export function v128ToLanes(laneType: LaneType, hex: string): bigint[] {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a v128 bit pattern: ${hex}`);
  const size = laneBytes(laneType);
  const lanes: bigint[] = [];
  for (let lane = 0; lane < 16 / size; lane++) {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) {
      const at = (lane * size + i) * 2;
      v = (v << 8n) | BigInt(parseInt(hex.slice(at, at + 2), 16));
    }
    lanes.push(v);
  }
  return lanes;
}

export function isNumType(t: string): t is 'i32' | 'i64' | 'f32' | 'f64' {
  return t === 'i32' || t === 'i64' || t === 'f32' || t === 'f64';
}

export function isRefType(t: ValType): t is 'funcref' | 'externref' {
  return t === 'funcref' || t === 'externref';
}

/** Bits as hex, for showing float patterns (payloads matter, so the hex is always shown). */
function hexBits(bits: string, width: number): string {
  return '0x' + BigInt(bits).toString(16).padStart(width, '0');
}

/** A float's value the way a person reads it, keeping -0 visible. */
function floatText(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

export function formatValue(v: WasmValue): string {
  if (v.bits === null) return `${v.type}:null`;
  try {
    switch (v.type) {
      case 'i32':
      case 'i64':
        return `${v.type}:${v.bits}`;
      case 'f32':
        return `f32:${floatText(f32FromBits(v.bits))}(${hexBits(v.bits, 8)})`;
      case 'f64':
        return `f64:${floatText(f64FromBits(v.bits))}(${hexBits(v.bits, 16)})`;
      case 'v128':
        return `v128:${v.bits}`;
      case 'funcref':
      case 'externref':
        return `${v.type}:${v.bits}`;
    }
  } catch {
    // A target returned something that is not a bit pattern: show it raw rather than hide it.
  }
  return `${v.type}:${JSON.stringify(v.bits)}`;
}

export function formatValues(vs: readonly WasmValue[]): string {
  return `(${vs.map(formatValue).join(', ')})`;
}
