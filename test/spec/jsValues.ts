// Converts between WasmValue's exact form and the JS values Node's WebAssembly API takes and
// returns. Integers round-trip exactly (i64 through BigInt); floats go through JS numbers, which
// is where NaN payloads may be lost (the direct baseline's known limit); v128 cannot cross the
// JS boundary at all, so it raises SpecSkip. References are interned so a script's externref
// ids come back as the same ids, and function references get stable opaque ids.

import type { ValType, WasmValue } from '../../src/wasm/types.ts';
import { SpecSkip } from './SpecTarget.ts';
import { f32FromBits, f32ToBits, f64FromBits, f64ToBits } from './values.ts';

export class JsValueCodec {
  /** Script externref id -> the JS object standing for it, and back. */
  readonly #externById = new Map<string, object>();
  readonly #idOfExtern = new Map<unknown, string>();
  readonly #funcById = new Map<string, unknown>();
  readonly #idOfFunc = new Map<unknown, string>();

  toJs(v: WasmValue): unknown {
    switch (v.type) {
      case 'i32':
        return Number(BigInt.asIntN(32, BigInt(bitsOf(v))));
      case 'i64':
        return BigInt.asIntN(64, BigInt(bitsOf(v)));
      case 'f32':
        return f32FromBits(bitsOf(v));
      case 'f64':
        return f64FromBits(bitsOf(v));
      case 'v128':
        throw new SpecSkip('v128 cannot cross the JS API');
      case 'externref':
        return v.bits === null ? null : this.#externFor(v.bits);
      case 'funcref': {
        if (v.bits === null) return null;
        const f = this.#funcById.get(v.bits);
        if (f === undefined) throw new Error(`funcref ${v.bits} was never returned by this target`);
        return f;
      }
    }
  }

  fromJs(type: ValType, x: unknown): WasmValue {
    switch (type) {
      case 'i32':
        return { type, bits: String(Number(x) >>> 0) };
      case 'i64':
        return { type, bits: BigInt.asUintN(64, BigInt(x as bigint)).toString() };
      case 'f32':
        return { type, bits: f32ToBits(Number(x)) };
      case 'f64':
        return { type, bits: f64ToBits(Number(x)) };
      case 'v128':
        throw new SpecSkip('v128 cannot cross the JS API');
      case 'externref':
        return { type, bits: x === null ? null : this.#idForExtern(x) };
      case 'funcref':
        return { type, bits: x === null ? null : this.#idForFunc(x) };
    }
  }

  #externFor(id: string): object {
    let o = this.#externById.get(id);
    if (!o) {
      o = Object.freeze({ externref: id });
      this.#externById.set(id, o);
      this.#idOfExtern.set(o, id);
    }
    return o;
  }

  #idForExtern(x: unknown): string {
    let id = this.#idOfExtern.get(x);
    if (id === undefined) {
      // A host value the script never passed in; give it an id no script value can have.
      id = `host:${this.#idOfExtern.size}`;
      this.#idOfExtern.set(x, id);
    }
    return id;
  }

  #idForFunc(f: unknown): string {
    let id = this.#idOfFunc.get(f);
    if (id === undefined) {
      id = `func:${this.#idOfFunc.size}`;
      this.#idOfFunc.set(f, id);
      this.#funcById.set(id, f);
    }
    return id;
  }
}

function bitsOf(v: WasmValue): string {
  if (v.bits === null) throw new Error(`${v.type} value without bits`);
  return v.bits;
}
