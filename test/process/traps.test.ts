// Every kind of wasm trap, against the real server process: each answers API.md's documented
// error (422 Trap with the engine's message and a stack named as the module names its functions,
// or StackOverflow), and afterwards the process still serves: /health answers and a function in
// another dylib still computes. A runaway loop is stopped by its timeoutMs while /health keeps
// answering. The expected trap messages come from running the same bytes on this Node's own
// engine, the one the server runs on. One server for the whole file.

import t, { type Test } from 'tap';
import { startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import { addWasm, createDylib, expectError, expectHealthy, invoke } from './api.ts';

// No name section: functions are named by their export names, else func[<index>]. The import
// makes $divide function 1, so a piece-local index cannot pass for the module's own.
const TRAPS_WAT = `(module
  (import "spectest" "print_i32" (func $print (param i32)))
  (type $nullary (func))
  (memory 1)
  (table 3 funcref)
  (elem (i32.const 0) $divide)
  (func $divide (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "div_by_zero") (result i32) (call $divide (i32.const 1) (i32.const 0)))
  (func (export "div_overflow") (result i32) (call $divide (i32.const 0x80000000) (i32.const -1)))
  (func (export "load_oob") (result i32) (i32.load (i32.const 65536)))
  (func (export "store_oob") (i32.store (i32.const 65534) (i32.const 1)))
  (func (export "unreachable") (unreachable))
  (func (export "trunc_nan") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func (export "call_indirect_oob") (call_indirect (type $nullary) (i32.const 3)))
  (func (export "table_get_oob") (result funcref) (table.get 0 (i32.const 3)))
  (func (export "signature_mismatch") (call_indirect (type $nullary) (i32.const 0)))
  (func (export "null_element") (call_indirect (type $nullary) (i32.const 1)))
  (func $recurse (export "recurse") (param i32) (result i32) (i32.add (call $recurse (local.get 0)) (i32.const 1)))
  (func (export "fine") (result i32) (call $print (i32.const 7)) (i32.const 7)))`;

const MEMLIB_WAT = `(module (memory (export "mem") 1 2) (func (export "pages") (result i32) (memory.size)))`;

// Another dylib's memory, imported: dylib "memlib" resolves import module "memlib".
const MEMUSER_WAT = `(module
  (import "memlib" "mem" (memory 1 2))
  (func (export "imported_load_oob") (result i32) (i32.load (i32.const 65536)))
  (func (export "imported_store_oob") (i32.store8 (i32.const 65536) (i32.const 1))))`;

const SPECTEST_MEM_WAT = `(module
  (import "spectest" "memory" (memory 1 2))
  (func (export "spectest_load_oob") (result i64) (i64.load (i32.const 65530))))`;

// With a name section (wat2wasm --debug-names): the stack uses those names, and the export name
// for the function the section leaves unnamed.
const NAMED_WAT = `(module
  (func $inner (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $outer (export "named_div") (param i32) (result i32) (call $inner (local.get 0)))
  (func (export "unnamed_entry") (param i32) (result i32) (call $outer (local.get 0))))`;

const OTHER_WAT = `(module (func (export "square") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))`;

const LOOP_WAT = `(module (func (export "spin") (loop (br 0))))`;

interface TrapCase {
  readonly dylib: string;
  readonly symbol: string;
  readonly args: readonly number[];
  /** The stack API v2 promises, innermost first. */
  readonly stack: readonly string[];
}

const CASES: readonly TrapCase[] = [
  { dylib: 'traps', symbol: 'div_by_zero', args: [], stack: ['func[1]', 'div_by_zero'] },
  { dylib: 'traps', symbol: 'div_overflow', args: [], stack: ['func[1]', 'div_overflow'] },
  { dylib: 'traps', symbol: 'load_oob', args: [], stack: ['load_oob'] },
  { dylib: 'traps', symbol: 'store_oob', args: [], stack: ['store_oob'] },
  { dylib: 'memuser', symbol: 'imported_load_oob', args: [], stack: ['imported_load_oob'] },
  { dylib: 'memuser', symbol: 'imported_store_oob', args: [], stack: ['imported_store_oob'] },
  { dylib: 'spectestmem', symbol: 'spectest_load_oob', args: [], stack: ['spectest_load_oob'] },
  { dylib: 'traps', symbol: 'call_indirect_oob', args: [], stack: ['call_indirect_oob'] },
  { dylib: 'traps', symbol: 'table_get_oob', args: [], stack: ['table_get_oob'] },
  { dylib: 'traps', symbol: 'unreachable', args: [], stack: ['unreachable'] },
  { dylib: 'traps', symbol: 'trunc_nan', args: [], stack: ['trunc_nan'] },
  { dylib: 'traps', symbol: 'signature_mismatch', args: [], stack: ['signature_mismatch'] },
  { dylib: 'traps', symbol: 'null_element', args: [], stack: ['null_element'] },
  { dylib: 'named', symbol: 'named_div', args: [0], stack: ['inner', 'outer'] },
  { dylib: 'named', symbol: 'unnamed_entry', args: [0], stack: ['inner', 'outer', 'unnamed_entry'] },
  { dylib: 'named_eager', symbol: 'named_div', args: [0], stack: ['inner', 'outer'] },
  { dylib: 'named_eager', symbol: 'unnamed_entry', args: [0], stack: ['inner', 'outer', 'unnamed_entry'] },
  { dylib: 'traps_eager', symbol: 'div_by_zero', args: [], stack: ['func[1]', 'div_by_zero'] },
  { dylib: 'traps_eager', symbol: 'load_oob', args: [], stack: ['load_oob'] },
];

type DirectOutcome = { readonly kind: 'trap'; readonly message: string } | { readonly kind: 'overflow' } | { readonly kind: 'returned' };

/** The same export run on this Node's engine: what the server's engine says about it. */
function runDirect(bytes: Uint8Array<ArrayBuffer>, symbol: string, args: readonly number[]): DirectOutcome {
  const memory = () => new WebAssembly.Memory({ initial: 1, maximum: 2 });
  const imports = { spectest: { print_i32: () => {}, memory: memory() }, memlib: { mem: memory() } };
  const module = new WebAssembly.Module(bytes);
  const wanted = Object.fromEntries(
    WebAssembly.Module.imports(module).map((i) => [i.module, {}]),
  ) as Record<string, Record<string, unknown>>;
  for (const i of WebAssembly.Module.imports(module)) {
    wanted[i.module]![i.name] = (imports as Record<string, Record<string, unknown>>)[i.module]?.[i.name];
  }
  const instance = new WebAssembly.Instance(module, wanted as WebAssembly.Imports);
  const fn = instance.exports[symbol] as (...a: number[]) => unknown;
  try {
    fn(...args);
    return { kind: 'returned' };
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError) return { kind: 'trap', message: err.message };
    if (err instanceof RangeError) return { kind: 'overflow' };
    throw err;
  }
}

const server: ServerProcess = await startServerProcess(t);
const binaries = new Map<string, Uint8Array<ArrayBuffer>>();

/** The process still serves: /health, and a function in a dylib no trap touched. */
async function expectServing(t: Test, why: string): Promise<void> {
  await expectHealthy(t, server);
  const res = await invoke(server, 'other', 'square', [12]);
  t.equal(res.status, 200, `another dylib's function still answers ${why}`);
  t.same(res.json.results, [{ type: 'i32', value: 144, bits: '144' }]);
  t.equal(server.exitStatus, undefined, 'the process is running');
}

t.before(async () => {
  const modules: [dylib: string, wat: string, query: string, debugNames: boolean][] = [
    ['other', OTHER_WAT, '', false],
    ['traps', TRAPS_WAT, '', false],
    ['memlib', MEMLIB_WAT, '', false],
    ['memuser', MEMUSER_WAT, '', false],
    ['spectestmem', SPECTEST_MEM_WAT, '', false],
    ['named', NAMED_WAT, '', true],
    // optimize=0: binaryen's inliner would fold $inner into $outer, and these cases are about naming.
    ['named_eager', NAMED_WAT, '?lazy=false&optimize=0', true],
    ['traps_eager', TRAPS_WAT, '?lazy=false&optimize=0', false],
    ['loop', LOOP_WAT, '', false],
  ];
  for (const [dylib, wat, query, debugNames] of modules) {
    const bytes = wat2wasm(wat, { debugNames });
    binaries.set(dylib, bytes);
    await createDylib(server, dylib);
    await addWasm(server, dylib, bytes, query);
  }
});

for (const c of CASES) {
  t.test(`trap: ${c.dylib} ${c.symbol}`, async (t) => {
    const direct = runDirect(binaries.get(c.dylib)!, c.symbol, c.args);
    t.equal(direct.kind, 'trap', 'the engine itself traps here');
    const res = await invoke(server, c.dylib, c.symbol, c.args);
    const error = expectError(t, res, 422, 'Trap');
    t.equal(error?.['trap'], direct.kind === 'trap' ? direct.message : undefined, "details.trap is the engine's message");
    t.same(error?.['stack'], c.stack, 'details.stack names the functions as the module does, innermost first');
    await expectServing(t, 'after the trap');
  });
}

t.test('stack overflow: StackOverflow, and the process lives on', async (t) => {
  t.equal(runDirect(binaries.get('traps')!, 'recurse', [0]).kind, 'overflow', "the engine's stack overflows here");
  const res = await invoke(server, 'traps', 'recurse', [0]);
  const error = expectError(t, res, 422, 'StackOverflow');
  const stack = error?.['stack'];
  t.ok(Array.isArray(stack) && stack.length > 0, 'details.stack is a non-empty list');
  t.same(
    [...new Set(Array.isArray(stack) ? stack : [])],
    ['recurse'],
    'every frame is the recursive function, named by its export name',
  );
  await expectServing(t, 'after the stack overflow');
});

t.test('the module that trapped still works', async (t) => {
  const res = await invoke(server, 'traps', 'fine');
  t.equal(res.status, 200);
  t.same(res.json.results, [{ type: 'i32', value: 7, bits: '7' }]);
  t.same(res.json.output, ['7 : i32'], 'its spectest import still prints');
  const pages = await invoke(server, 'memlib', 'pages');
  t.same(pages.json.results, [{ type: 'i32', value: 1, bits: '1' }], 'the imported memory is unchanged');
});

t.test('a runaway loop is stopped by timeoutMs while /health keeps answering', async (t) => {
  const timeoutMs = 2000;
  let settled = false;
  const running = invoke(server, 'loop', 'spin', [], timeoutMs).finally(() => {
    settled = true;
  });
  // The loop is running once the invoke reached the server.
  await server.waitForLog((l) => l.msg === 'incoming request' && /\/dylibs\/loop\/invoke/.test(JSON.stringify(l['req'])));
  const health = await server.get('/health');
  t.equal(health.status, 200, '/health answers while the loop runs');
  t.notOk(settled, 'the loop was still running when /health answered');
  const res = await running;
  const error = expectError(t, res, 422, 'ExecutionTimeout');
  t.equal(error?.['timeoutMs'], timeoutMs, 'details.timeoutMs is the limit the call asked for');
  await expectServing(t, 'after the timeout');
});

t.test('nothing ended the process', async (t) => {
  t.equal(server.exitStatus, undefined);
  t.notOk(/FATAL ERROR|Segmentation fault|Aborted/.test(server.unloggedOutput(100_000)), 'no fatal error in its output');
});
