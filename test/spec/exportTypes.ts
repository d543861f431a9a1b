// Reads the types of a module's exports from its binary. Node's JS API hands back bare numbers
// and cannot say whether an exported function returns i32 or f32 (type reflection is behind a
// flag), yet the direct target must turn every result back into exact bits of the right type.
// Only the sections needed for that are decoded; the bytes have already been validated by the
// engine, so this reader trusts their structure and throws on anything it does not know.

import type { FuncType, GlobalType, ValType } from '../../src/wasm/types.ts';

export type ExportType =
  | { readonly kind: 'function'; readonly type: FuncType }
  | { readonly kind: 'global'; readonly type: GlobalType }
  | { readonly kind: 'table' | 'memory' | 'tag' };

class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  constructor(bytes: Uint8Array, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
  }
  byte(): number {
    const b = this.bytes[this.pos++];
    if (b === undefined) throw new Error('unexpected end of module');
    return b;
  }
  /** An unsigned or signed LEB128 of any width; only its length matters when skipping. */
  leb(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      if (shift < 32) result |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) return result >>> 0;
    }
  }
  skip(n: number): void {
    this.pos += n;
  }
  name(): string {
    const len = this.leb();
    const s = new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
}

function valType(code: number): ValType {
  switch (code) {
    case 0x7f:
      return 'i32';
    case 0x7e:
      return 'i64';
    case 0x7d:
      return 'f32';
    case 0x7c:
      return 'f64';
    case 0x7b:
      return 'v128';
    case 0x70:
      return 'funcref';
    case 0x6f:
      return 'externref';
    default:
      throw new Error(`value type 0x${code.toString(16)} is not supported`);
  }
}

function limits(r: Reader): void {
  const flags = r.byte();
  r.leb();
  if (flags & 1) r.leb();
}

/** Skips a constant expression up to and including its `end`. */
function constExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    switch (op) {
      case 0x0b:
        return;
      case 0x41: // i32.const
      case 0x42: // i64.const
      case 0x23: // global.get
      case 0xd0: // ref.null heaptype
      case 0xd2: // ref.func
        r.leb();
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0x6a: // extended-const arithmetic: no immediates
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      case 0xfd: {
        const sub = r.leb();
        if (sub !== 12) throw new Error(`constant expression opcode 0xfd ${sub} is not supported`);
        r.skip(16);
        break;
      }
      default:
        throw new Error(`constant expression opcode 0x${op.toString(16)} is not supported`);
    }
  }
}

export function readExportTypes(bytes: Uint8Array): Map<string, ExportType> {
  const r = new Reader(bytes, 8); // past magic and version
  const types: FuncType[] = [];
  const funcs: FuncType[] = []; // imported functions first, then defined ones: the index space
  const globals: GlobalType[] = [];
  const exports = new Map<string, ExportType>();
  const funcType = (index: number): FuncType => {
    const t = types[index];
    if (!t) throw new Error(`type index ${index} out of range`);
    return t;
  };
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.leb();
    const end = r.pos + size;
    switch (id) {
      case 1: {
        for (let n = r.leb(); n > 0; n--) {
          const form = r.byte();
          if (form !== 0x60) throw new Error(`type form 0x${form.toString(16)} is not supported`);
          const params = Array.from({ length: r.leb() }, () => valType(r.byte()));
          const results = Array.from({ length: r.leb() }, () => valType(r.byte()));
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        for (let n = r.leb(); n > 0; n--) {
          r.name();
          r.name();
          const kind = r.byte();
          if (kind === 0) funcs.push(funcType(r.leb()));
          else if (kind === 1) {
            r.byte();
            limits(r);
          } else if (kind === 2) limits(r);
          else if (kind === 3) {
            const type = valType(r.byte());
            globals.push({ type, mutable: r.byte() === 1 });
          } else if (kind === 4) {
            r.byte();
            r.leb();
          } else throw new Error(`import kind ${kind} is not supported`);
        }
        break;
      }
      case 3:
        for (let n = r.leb(); n > 0; n--) funcs.push(funcType(r.leb()));
        break;
      case 6:
        for (let n = r.leb(); n > 0; n--) {
          const type = valType(r.byte());
          globals.push({ type, mutable: r.byte() === 1 });
          constExpr(r);
        }
        break;
      case 7:
        for (let n = r.leb(); n > 0; n--) {
          const name = r.name();
          const kind = r.byte();
          const index = r.leb();
          if (kind === 0) {
            const type = funcs[index];
            if (!type) throw new Error(`function index ${index} out of range`);
            exports.set(name, { kind: 'function', type });
          } else if (kind === 3) {
            const type = globals[index];
            if (!type) throw new Error(`global index ${index} out of range`);
            exports.set(name, { kind: 'global', type });
          } else if (kind === 1) exports.set(name, { kind: 'table' });
          else if (kind === 2) exports.set(name, { kind: 'memory' });
          else if (kind === 4) exports.set(name, { kind: 'tag' });
          else throw new Error(`export kind ${kind} is not supported`);
        }
        // Nothing after the export section matters here.
        return exports;
    }
    r.pos = end;
  }
  return exports;
}
