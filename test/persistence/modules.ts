// The modules the durability workload adds, as WAT text and as a binary of the same module
// (encoded here, so the workload needs no tool and no extra process per module). Each module is
// named by a tag and returns a constant of its own, so a call after a restart shows it reached
// that module's code: `f_<tag>` returns k through a private function, global `g_<tag>` holds
// k + 1, and some modules also export a memory `mem_<tag>` and a table `tab_<tag>`.

export interface ModuleSpec {
  readonly tag: string;
  readonly k: number;
  readonly memory: boolean;
  readonly table: boolean;
}

/** The export names and kinds a module of this spec defines. */
export function exportsOf(m: ModuleSpec): { name: string; kind: 'function' | 'global' | 'memory' | 'table' }[] {
  return [
    { name: `f_${m.tag}`, kind: 'function' },
    { name: `g_${m.tag}`, kind: 'global' },
    ...(m.memory ? [{ name: `mem_${m.tag}`, kind: 'memory' as const }] : []),
    ...(m.table ? [{ name: `tab_${m.tag}`, kind: 'table' as const }] : []),
  ];
}

export function moduleWat(m: ModuleSpec): string {
  return `(module
  ${m.table ? `(table (export "tab_${m.tag}") 1 funcref)` : ''}
  ${m.memory ? `(memory (export "mem_${m.tag}") 1)` : ''}
  (global (export "g_${m.tag}") i32 (i32.const ${m.k + 1}))
  (func $k (result i32) (i32.const ${m.k}))
  (func (export "f_${m.tag}") (result i32) (call $k)))`;
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

const name = (s: string) => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s)];
const section = (id: number, items: number[][]) => {
  const body = [...uleb(items.length), ...items.flat()];
  return [id, ...uleb(body.length), ...body];
};

/** The same module as moduleWat, encoded directly (function 0 is the private one). */
export function moduleBinary(m: ModuleSpec): Uint8Array {
  const I32 = 0x7f;
  const END = 0x0b;
  const exports: number[][] = [[...name(`g_${m.tag}`), 0x03, 0], [...name(`f_${m.tag}`), 0x00, 1]];
  if (m.memory) exports.push([...name(`mem_${m.tag}`), 0x02, 0]);
  if (m.table) exports.push([...name(`tab_${m.tag}`), 0x01, 0]);
  const body = (code: number[]) => {
    const b = [0, ...code, END];
    return [...uleb(b.length), ...b];
  };
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [[0x60, 0, 1, I32]]),
    ...section(3, [[0], [0]]),
    ...(m.table ? section(4, [[0x70, 0x00, 1]]) : []),
    ...(m.memory ? section(5, [[0x00, 1]]) : []),
    ...section(6, [[I32, 0x00, 0x41, ...sleb(m.k + 1), END]]),
    ...section(7, exports),
    ...section(10, [body([0x41, ...sleb(m.k)]), body([0x10, 0])]),
  ]);
}
