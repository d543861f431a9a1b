// A small wasm binary encoder and the generators the benchmarks use. Bodies are hand-encoded
// bytes; only i32 types, type/function/export/code sections are needed.

const I32 = 0x7f;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function str(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

/** A section as a list of chunks (avoids building one huge number[]). */
function section(id: number, count: number, items: Uint8Array[]): Uint8Array[] {
  const c = Uint8Array.from(uleb(count));
  const size = items.reduce((s, i) => s + i.length, c.length);
  return [Uint8Array.from([id, ...uleb(size)]), c, ...items];
}

export interface FuncDef {
  readonly type: number;
  /** Local declarations: count of i32 locals beyond params. */
  readonly i32Locals?: number;
  /** The body's instructions, without the final `end`. */
  readonly code: number[];
}

export interface ModuleDef {
  readonly types: ReadonlyArray<{ params: number; results: number }>; // all i32
  readonly funcs: readonly FuncDef[];
  readonly exports: ReadonlyArray<{ name: string; func: number }>;
}

export function encodeModule(m: ModuleDef): Uint8Array<ArrayBuffer> {
  const chunks: Uint8Array[] = [Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])];
  chunks.push(
    ...section(
      1,
      m.types.length,
      m.types.map((t) => Uint8Array.from([0x60, ...uleb(t.params), ...Array(t.params).fill(I32), ...uleb(t.results), ...Array(t.results).fill(I32)])),
    ),
  );
  chunks.push(...section(3, m.funcs.length, m.funcs.map((f) => Uint8Array.from(uleb(f.type)))));
  chunks.push(...section(7, m.exports.length, m.exports.map((e) => Uint8Array.from([...str(e.name), 0x00, ...uleb(e.func)]))));
  chunks.push(
    ...section(
      10,
      m.funcs.length,
      m.funcs.map((f) => {
        const locals = f.i32Locals ? [1, ...uleb(f.i32Locals), I32] : [0];
        const body = [...locals, ...f.code, 0x0b];
        return Uint8Array.from([...uleb(body.length), ...body]);
      }),
    ),
  );
  return new Uint8Array(Buffer.concat(chunks));
}

const call = (f: number) => [0x10, ...uleb(f)];
const i32const = (n: number) => [0x41, ...sleb(n)];
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;

/**
 * `n` functions () -> i32. f0 ("main") calls f1, which calls f2, ... up to f{chain-1}: `chain`
 * functions run. The rest are small independent leaves. `nonce` goes into every body so that
 * each trial's bytes (and each extracted function) differ, defeating V8's native module cache.
 * `exportLeaves` exports every function not in the chain as `f<i>` as well.
 */
export function chainModule(n: number, chain: number, nonce: number, exportLeaves = false): Uint8Array<ArrayBuffer> {
  const funcs: FuncDef[] = [];
  for (let i = 0; i < n; i++) {
    if (i < chain - 1) funcs.push({ type: 0, code: [...call(i + 1), ...i32const(nonce + i), I32_ADD] });
    else if (i === chain - 1) funcs.push({ type: 0, code: i32const(nonce) });
    else funcs.push({ type: 0, code: [...i32const(nonce + i), ...i32const(3), I32_MUL] });
  }
  const exports = [{ name: 'main', func: 0 }];
  if (exportLeaves) for (let i = chain; i < n; i++) exports.push({ name: `f${i}`, func: i });
  return encodeModule({ types: [{ params: 0, results: 1 }], funcs, exports });
}

/** The value main() returns for chainModule(_, chain, nonce). */
export function chainResult(chain: number, nonce: number): number {
  let v = nonce;
  for (let i = chain - 2; i >= 0; i--) v = (v + nonce + i) | 0;
  return v >>> 0;
}

/** inc(x) = x + 1 (func 0); run(n) calls inc n times from a loop (func 1), returning the count. */
export function loopModule(): Uint8Array<ArrayBuffer> {
  // run: locals: 0 = n (param), 1 = acc, 2 = i
  const run = [
    0x02, 0x40, // block
    0x03, 0x40, // loop
    0x20, 2, 0x20, 0, 0x4f, 0x0d, 1, // i >= n (unsigned) -> br 1 (exit)
    0x20, 1, ...call(0), 0x21, 1, // acc = inc(acc)
    0x20, 2, ...i32const(1), I32_ADD, 0x21, 2, // i++
    0x0c, 0, // br 0 (loop)
    0x0b, 0x0b,
    0x20, 1,
  ];
  return encodeModule({
    types: [{ params: 1, results: 1 }],
    funcs: [
      { type: 0, code: [0x20, 0, ...i32const(1), I32_ADD] },
      { type: 0, i32Locals: 2, code: run },
    ],
    exports: [
      { name: 'inc', func: 0 },
      { name: 'run', func: 1 },
    ],
  });
}

/** add(a, b) = a + b. */
export function addModule(): Uint8Array<ArrayBuffer> {
  return encodeModule({
    types: [{ params: 2, results: 1 }],
    funcs: [{ type: 0, code: [0x20, 0, 0x20, 1, I32_ADD] }],
    exports: [{ name: 'add', func: 0 }],
  });
}

/** An LLVM IR module equivalent to chainModule (for lli). */
export function chainLL(n: number, chain: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i < chain - 1) out.push(`define i32 @f${i}() {\n  %a = call i32 @f${i + 1}()\n  %b = add i32 %a, ${i}\n  ret i32 %b\n}`);
    else if (i === chain - 1) out.push(`define i32 @f${i}() {\n  ret i32 1\n}`);
    else out.push(`define i32 @f${i}() {\n  %r = mul i32 ${i}, 3\n  ret i32 %r\n}`);
  }
  out.push(`define i32 @main() {\n  %r = call i32 @f0()\n  %m = and i32 %r, 0\n  ret i32 %m\n}`);
  return out.join('\n') + '\n';
}
