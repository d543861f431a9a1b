// What an assert_return expects of one result, and whether a target's result satisfies it.
// Comparison is on exact bits; NaN patterns follow the spec: `nan:canonical` is the canonical
// NaN (quiet bit only) with either sign, `nan:arithmetic` is any NaN with the quiet bit set.

import type { WasmValue } from '../../src/wasm/types.ts';
import { formatValue, isNumType, laneBytes, v128ToLanes, type LaneType } from './values.ts';

export type NanPattern = 'nan:canonical' | 'nan:arithmetic';

export type LanePattern = { readonly bits: string } | { readonly nan: NanPattern };

export type Expected =
  /** Exactly this value: same type, same bits (references: null, or the same opaque id). */
  | { readonly kind: 'value'; readonly value: WasmValue }
  | { readonly kind: 'nan'; readonly type: 'f32' | 'f64'; readonly nan: NanPattern }
  | { readonly kind: 'v128'; readonly laneType: LaneType; readonly lanes: readonly LanePattern[] }
  /** `(ref.func)`: any non-null funcref; function identity cannot be named in a script. */
  | { readonly kind: 'refFunc' }
  | { readonly kind: 'either'; readonly options: readonly Expected[] };

const F32_EXP = 0x7f80_0000n;
const F32_QUIET = 0x0040_0000n;
const F32_ABS = 0x7fff_ffffn;
const F64_EXP = 0x7ff0_0000_0000_0000n;
const F64_QUIET = 0x0008_0000_0000_0000n;
const F64_ABS = 0x7fff_ffff_ffff_ffffn;

/** Whether the float bit pattern `bits` (of width 32 or 64) is a NaN of the given kind. */
export function matchesNan(width: 32 | 64, bits: bigint, nan: NanPattern): boolean {
  const [exp, quiet, abs] = width === 32 ? [F32_EXP, F32_QUIET, F32_ABS] : [F64_EXP, F64_QUIET, F64_ABS];
  if (nan === 'nan:canonical') return (bits & abs) === (exp | quiet);
  return (bits & exp) === exp && (bits & quiet) !== 0n;
}

function parseBits(bits: string | null): bigint | undefined {
  if (bits === null || !/^\d+$/.test(bits)) return undefined;
  return BigInt(bits);
}

export function matches(expected: Expected, got: WasmValue): boolean {
  switch (expected.kind) {
    case 'value': {
      const want = expected.value;
      if (got.type !== want.type) return false;
      if (isNumType(want.type)) {
        // Compare numerically so "042" and "42" agree; the width check catches garbage.
        const a = parseBits(want.bits);
        const b = parseBits(got.bits);
        return a !== undefined && a === b;
      }
      if (want.type === 'v128') return typeof got.bits === 'string' && got.bits.toLowerCase() === want.bits?.toLowerCase();
      return got.bits === want.bits;
    }
    case 'nan': {
      const b = parseBits(got.bits);
      return got.type === expected.type && b !== undefined && matchesNan(expected.type === 'f32' ? 32 : 64, b, expected.nan);
    }
    case 'v128': {
      if (got.type !== 'v128' || typeof got.bits !== 'string') return false;
      let lanes: bigint[];
      try {
        lanes = v128ToLanes(expected.laneType, got.bits);
      } catch {
        return false;
      }
      const width = laneBytes(expected.laneType) * 8;
      const floatWidth = expected.laneType === 'f32' ? 32 : expected.laneType === 'f64' ? 64 : undefined;
      if (expected.lanes.length !== lanes.length) return false;
      return expected.lanes.every((pattern, i) => {
        const lane = lanes[i];
        if (lane === undefined) return false;
        if ('nan' in pattern) return floatWidth !== undefined && matchesNan(floatWidth, lane, pattern.nan);
        return lane === BigInt.asUintN(width, BigInt(pattern.bits));
      });
    }
    case 'refFunc':
      return got.type === 'funcref' && got.bits !== null;
    case 'either':
      return expected.options.some((option) => matches(option, got));
  }
}

export function formatExpected(e: Expected): string {
  switch (e.kind) {
    case 'value':
      return formatValue(e.value);
    case 'nan':
      return `${e.type}:${e.nan}`;
    case 'v128': {
      const lanes = e.lanes.map((p) => ('nan' in p ? p.nan : p.bits));
      return `v128:${e.laneType}x${e.lanes.length}[${lanes.join(' ')}]`;
    }
    case 'refFunc':
      return 'funcref:<any non-null>';
    case 'either':
      return `either(${e.options.map(formatExpected).join(' | ')})`;
  }
}

export function formatExpectedList(es: readonly Expected[]): string {
  return `(${es.map(formatExpected).join(', ')})`;
}
