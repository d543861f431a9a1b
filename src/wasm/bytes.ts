// Byte-level reading and writing of the WebAssembly binary format: LEB128 integers, names,
// vectors and sections. The layer reads and writes binaries itself (instead of going through
// binaryen) wherever exact fidelity to the source matters: index spaces, segments, limits.

/** The binary is not something this layer can read; the message says where and why. */
export class MalformedBinary extends Error {
  override name = 'MalformedBinary';
}

// ignoreBOM: a name may start with U+FEFF, and that is part of the name.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export class ByteReader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  fail(what: string): never {
    throw new MalformedBinary(`${what} at byte ${this.pos}`);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.bytes[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.bytes[this.pos]!;
  }

  /** Unsigned LEB128 of at most 32 bits. */
  u32(): number {
    // Most are one byte (type indices, small sizes and counts).
    const first = this.bytes[this.pos];
    if (first !== undefined && first < 0x80 && this.pos < this.end) {
      this.pos++;
      return first;
    }
    // Integer arithmetic, not `* 2 ** shift`: a float result makes V8 store every index and
    // offset decoded from it (function indices, body offsets: tens of thousands per large
    // module) as a boxed heap number instead of a small integer.
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.u8();
      if (shift === 28) {
        if (b > 0x0f) this.fail('LEB128 u32 overflow');
        return (result | (b << 28)) >>> 0;
      }
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  }

  /** Signed LEB128 of at most 33 bits (block types, heap types); returned as a JS number. */
  s33(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.u8();
      if (shift > 35) this.fail('LEB128 s33 overflow');
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    if (b & 0x40) result -= 2 ** shift;
    return result;
  }

  /** Skips a LEB128 integer of any width (i64 constants, memarg offsets). */
  skipLeb(): void {
    for (let i = 0; i < 10; i++) {
      if ((this.u8() & 0x80) === 0) return;
    }
    this.fail('LEB128 too long');
  }

  skip(n: number): void {
    if (this.pos + n > this.end) this.fail('unexpected end');
    this.pos += n;
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.end) this.fail('unexpected end');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  name(): string {
    const len = this.u32();
    // Short ASCII names (nearly all of them) are built here: cheaper than a subarray and a
    // TextDecoder call each, which shows in a module exporting tens of thousands of functions.
    if (len <= 32 && this.pos + len <= this.end) {
      const { bytes } = this;
      let s = '';
      let i = this.pos;
      const end = i + len;
      for (; i < end; i++) {
        const b = bytes[i]!;
        if (b >= 0x80) break;
        s += String.fromCharCode(b);
      }
      if (i === end) {
        this.pos = end;
        return s;
      }
    }
    try {
      return utf8.decode(this.take(len));
    } catch (e) {
      if (e instanceof MalformedBinary) throw e;
      this.fail('malformed UTF-8 name');
    }
  }
}

/** Appends bytes to a growing buffer; `finish` returns exactly the written bytes. */
export class ByteWriter {
  #buf: Uint8Array;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
  }

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u8(b: number): this {
    this.#reserve(1);
    this.#buf[this.#len++] = b;
    return this;
  }

  u32(value: number): this {
    this.#reserve(5);
    let v = value >>> 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.#buf[this.#len++] = b;
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of a 32-bit integer (i32.const immediates). */
  s32(value: number): this {
    this.#reserve(5);
    let v = value | 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
        this.#buf[this.#len++] = b;
        return this;
      }
      this.#buf[this.#len++] = b | 0x80;
    }
  }

  bytes(data: Uint8Array): this {
    this.#reserve(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    return this;
  }

  /**
   * `data[start, end)`: the same as bytes(data.subarray(start, end)), without making a view for
   * a short range (pieces are written from many short runs of the original's bytes).
   */
  range(data: Uint8Array, start: number, end: number): this {
    const n = end - start;
    if (n > 32) return this.bytes(data.subarray(start, end));
    this.#reserve(n);
    const buf = this.#buf;
    let at = this.#len;
    for (let i = start; i < end; i++) buf[at++] = data[i]!;
    this.#len = at;
    return this;
  }

  name(s: string): this {
    // Most names are short ASCII: written directly, without an encoder's intermediate array.
    const n = s.length;
    if (n < 0x80) {
      this.#reserve(n + 1);
      const buf = this.#buf;
      const start = this.#len;
      buf[start] = n;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + 1 + i] = c;
      }
      if (i === n) {
        this.#len = start + 1 + n;
        return this;
      }
    }
    const data = utf8Encoder.encode(s);
    return this.u32(data.length).bytes(data);
  }

  /** Writes `id`, the payload's size, then the payload. */
  section(id: number, payload: Uint8Array): this {
    return this.u8(id).u32(payload.length).bytes(payload);
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** How many bytes the unsigned LEB128 encoding of `value` takes. */
export function u32Size(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

export function encodeU32(value: number): Uint8Array {
  return new ByteWriter(5).u32(value).finish();
}
