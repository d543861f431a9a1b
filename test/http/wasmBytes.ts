// A tiny wasm binary encoder for tests that need what WAT tools handle badly: export names
// with NUL or non-ASCII characters. Builds a module of nullary functions returning i32 consts.

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];

/** (module (func (export names[i]) (result i32) i32.const i) ...), for up to 64 names. */
export function constFunctions(names: readonly string[]): Buffer {
  if (names.length > 64) throw new Error('at most 64 names (single-byte LEB constants)');
  const enc = new TextEncoder();
  return Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 0x00, 0x01, 0x7f]])),
    ...section(3, vec(names.map(() => [0]))),
    ...section(7, vec(names.map((n, i) => {
      const b = [...enc.encode(n)];
      return [...uleb(b.length), ...b, 0x00, i];
    }))),
    ...section(10, vec(names.map((_, i) => {
      const body = [0x00, 0x41, i, 0x0b];
      return [...uleb(body.length), ...body];
    }))),
  ]);
}
