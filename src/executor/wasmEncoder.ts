// A minimal WebAssembly binary encoder for the executor's own glue modules: stubs,
// trampolines, invoke wrappers, global readers and the spectest host shim.
//
// Why hand-written instead of binaryen: the executor runs in a worker that must start in tens of
// milliseconds, and binaryen costs about a second and 70 MB to load. The glue modules need only
// a handful of sections and opcodes, so a few hundred bytes of encoder are enough.

import type { FuncType, ValType } from '../wasm/types.ts';

const UTF8 = new TextEncoder();

const VALTYPE_CODE: Readonly<Record<ValType, number>> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
};

/** Opcodes the glue modules use (single-byte ones; SIMD ones go through `Code.simd`). */
export const Op = {
  call: 0x10,
  callIndirect: 0x11,
  returnCallIndirect: 0x13,
  localGet: 0x20,
  localSet: 0x21,
  globalGet: 0x23,
  i32Const: 0x41,
  i32ReinterpretF32: 0xbc,
  i64ReinterpretF64: 0xbd,
  f32ReinterpretI32: 0xbe,
  f64ReinterpretI64: 0xbf,
  end: 0x0b,
} as const;

/** Opcodes after the 0xfd SIMD prefix. */
export const SimdOp = {
  i64x2Splat: 18,
  i64x2ExtractLane: 29,
  i64x2ReplaceLane: 30,
} as const;

/**
 * Byte buffer with the LEB128 and vector encodings the binary format uses. Bytes accumulate in a
 * plain array: glue modules are built from many tiny pieces (two function bodies per stub), and
 * typed-array views per piece cost far more than array pushes (measured: 20,000 stubs encode in
 * about a third of the time).
 */
export class ByteWriter {
  private readonly out: number[] = [];

  get length(): number {
    return this.out.length;
  }

  byte(b: number): this {
    this.out.push(b & 0xff);
    return this;
  }

  bytes(src: ArrayLike<number>): this {
    for (let i = 0; i < src.length; i++) this.out.push((src[i] ?? 0) & 0xff);
    return this;
  }

  u32(n: number): this {
    let v = n >>> 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.out.push(b);
    } while (v !== 0);
    return this;
  }

  s32(n: number): this {
    let v = n | 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.out.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  name(s: string): this {
    let ascii = true;
    for (let i = 0; i < s.length && ascii; i++) ascii = s.charCodeAt(i) < 0x80;
    if (ascii) {
      this.u32(s.length);
      for (let i = 0; i < s.length; i++) this.out.push(s.charCodeAt(i));
      return this;
    }
    const utf8 = UTF8.encode(s);
    return this.u32(utf8.length).bytes(utf8);
  }

  valType(t: ValType): this {
    return this.byte(VALTYPE_CODE[t]);
  }

  /** A length-prefixed copy of another writer (how sections and function bodies are framed). */
  framed(inner: ByteWriter): this {
    this.u32(inner.length);
    return this.append(inner);
  }

  append(inner: ByteWriter): this {
    const src = inner.out;
    for (let i = 0; i < src.length; i++) this.out.push(src[i] as number);
    return this;
  }

  /** Copies the bytes into `target` at `at`; returns the offset just past them. */
  copyTo(target: Uint8Array, at: number): number {
    const src = this.out;
    for (let i = 0; i < src.length; i++) target[at + i] = src[i] as number;
    return at + src.length;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** The instruction sequence of one function body, with a typed helper per opcode used. */
export class Code {
  readonly w = new ByteWriter();

  localGet(i: number): this {
    this.w.byte(Op.localGet).u32(i);
    return this;
  }
  localSet(i: number): this {
    this.w.byte(Op.localSet).u32(i);
    return this;
  }
  globalGet(i: number): this {
    this.w.byte(Op.globalGet).u32(i);
    return this;
  }
  i32Const(n: number): this {
    this.w.byte(Op.i32Const).s32(n);
    return this;
  }
  call(funcIdx: number): this {
    this.w.byte(Op.call).u32(funcIdx);
    return this;
  }
  callIndirect(typeIdx: number, tableIdx: number): this {
    this.w.byte(Op.callIndirect).u32(typeIdx).u32(tableIdx);
    return this;
  }
  /** Tail call through a table: the caller's frame is gone, so stubs add no stack depth. */
  returnCallIndirect(typeIdx: number, tableIdx: number): this {
    this.w.byte(Op.returnCallIndirect).u32(typeIdx).u32(tableIdx);
    return this;
  }
  op(opcode: number): this {
    this.w.byte(opcode);
    return this;
  }
  simd(opcode: number, lane?: number): this {
    this.w.byte(0xfd).u32(opcode);
    if (lane !== undefined) this.w.byte(lane);
    return this;
  }
}

interface ImportEntry {
  readonly module: string;
  readonly name: string;
  readonly encode: (w: ByteWriter) => void;
}

interface FuncEntry {
  readonly typeIdx: number;
  readonly locals: readonly ValType[];
  readonly code: Code;
  readonly name: string | undefined;
}

/**
 * Builds one module. Imports must be declared before functions are added, because imported
 * functions take the first function indices.
 */
export class ModuleEncoder {
  private readonly types: FuncType[] = [];
  private readonly typeIndex = new Map<string, number>();
  private readonly imports: ImportEntry[] = [];
  private importedFuncs = 0;
  private readonly funcs: FuncEntry[] = [];
  private readonly exports: { name: string; funcIdx: number }[] = [];
  private moduleName: string | undefined;

  /** Index of `t` in the type section, adding it once. */
  type(t: FuncType): number {
    const key = `${t.params.join(',')}->${t.results.join(',')}`;
    let idx = this.typeIndex.get(key);
    if (idx === undefined) {
      idx = this.types.length;
      this.types.push(t);
      this.typeIndex.set(key, idx);
    }
    return idx;
  }

  importFunc(module: string, name: string, t: FuncType): number {
    this.assertNoFuncsYet();
    const typeIdx = this.type(t);
    this.imports.push({ module, name, encode: (w) => w.byte(0x00).u32(typeIdx) });
    return this.importedFuncs++;
  }

  /** Imports a table with no maximum, so any table of that element type satisfies it. */
  importTable(module: string, name: string, element: 'funcref' | 'externref', minimum: number): void {
    this.imports.push({ module, name, encode: (w) => w.byte(0x01).valType(element).byte(0x00).u32(minimum) });
  }

  importGlobal(module: string, name: string, type: ValType, mutable: boolean): void {
    this.imports.push({ module, name, encode: (w) => w.byte(0x03).valType(type).byte(mutable ? 1 : 0) });
  }

  addFunc(t: FuncType, code: Code, locals: readonly ValType[] = [], name?: string): number {
    this.funcs.push({ typeIdx: this.type(t), locals, code, name });
    return this.importedFuncs + this.funcs.length - 1;
  }

  exportFunc(name: string, funcIdx: number): void {
    this.exports.push({ name, funcIdx });
  }

  /** Sets the name-section module name; V8 shows it in stack frames, which lets us filter glue frames. */
  setModuleName(name: string): void {
    this.moduleName = name;
  }

  encode(): Uint8Array {
    // Sections are kept as separate writers and copied once into the result, instead of being
    // framed into one growing writer (the code section is most of a stubs module).
    const parts: ByteWriter[] = [new ByteWriter().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])];
    const section = (id: number, fill: (w: ByteWriter) => void): void => {
      const body = new ByteWriter();
      fill(body);
      parts.push(new ByteWriter().byte(id).u32(body.length), body);
    };

    section(1, (w) => {
      w.u32(this.types.length);
      for (const t of this.types) {
        w.byte(0x60).u32(t.params.length);
        for (const p of t.params) w.valType(p);
        w.u32(t.results.length);
        for (const r of t.results) w.valType(r);
      }
    });
    if (this.imports.length > 0) {
      section(2, (w) => {
        w.u32(this.imports.length);
        for (const imp of this.imports) {
          w.name(imp.module).name(imp.name);
          imp.encode(w);
        }
      });
    }
    section(3, (w) => {
      w.u32(this.funcs.length);
      for (const f of this.funcs) w.u32(f.typeIdx);
    });
    section(7, (w) => {
      w.u32(this.exports.length);
      for (const e of this.exports) w.name(e.name).byte(0x00).u32(e.funcIdx);
    });
    section(10, (w) => {
      w.u32(this.funcs.length);
      for (const f of this.funcs) {
        // One local entry per local keeps this simple; glue functions have very few.
        const locals = new ByteWriter().u32(f.locals.length);
        for (const l of f.locals) locals.u32(1).valType(l);
        w.u32(locals.length + f.code.w.length + 1)
          .append(locals)
          .append(f.code.w)
          .byte(Op.end);
      }
    });
    const names = this.encodeNames();
    if (names !== undefined) parts.push(new ByteWriter().byte(0).u32(names.length), names);

    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) at = p.copyTo(out, at);
    return out;
  }

  private encodeNames(): ByteWriter | undefined {
    const named = this.funcs.map((f, i) => ({ idx: this.importedFuncs + i, name: f.name })).filter((f) => f.name !== undefined);
    if (this.moduleName === undefined && named.length === 0) return undefined;
    const body = new ByteWriter().name('name');
    if (this.moduleName !== undefined) {
      body.byte(0).framed(new ByteWriter().name(this.moduleName));
    }
    if (named.length > 0) {
      const map = new ByteWriter().u32(named.length);
      for (const f of named) map.u32(f.idx).name(f.name ?? '');
      body.byte(1).framed(map);
    }
    return body;
  }

  private assertNoFuncsYet(): void {
    if (this.funcs.length > 0) throw new Error('ModuleEncoder: imports must come before functions');
  }
}
