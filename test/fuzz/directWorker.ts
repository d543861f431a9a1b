// Worker half of direct.ts: instantiates the import providers and the module with Node's
// engine, makes the planned calls in order and posts each outcome as soon as it is known, so
// the main thread keeps what finished even if a later call never returns.

import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { DirectInput, FinalState, Outcome, WorkerMessage } from './direct.ts';
import { bitsToJs, jsToBits } from './numbers.ts';

const input = workerData as DirectInput;
const post = (msg: WorkerMessage) => parentPort?.postMessage(msg);

function outcomeOf(err: unknown): Outcome {
  if (err instanceof WebAssembly.RuntimeError) return { kind: 'trap', message: err.message };
  if (err instanceof RangeError && /call stack size/i.test(err.message)) return { kind: 'stackOverflow' };
  return { kind: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}

function instantiate(): WebAssembly.Instance {
  const imports: Record<string, WebAssembly.ModuleImports> = {};
  for (const [name, bytes] of Object.entries(input.importModules)) {
    imports[name] = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as WebAssembly.ModuleImports;
  }
  return new WebAssembly.Instance(new WebAssembly.Module(input.bytes), imports);
}

function finalState(instance: WebAssembly.Instance): FinalState {
  const globals: Record<string, string> = {};
  for (const g of input.globals) {
    globals[g.name] = jsToBits(g.type, (instance.exports[g.name] as WebAssembly.Global).value);
  }
  const memories: Record<string, string> = {};
  for (const name of input.memories) {
    const buffer = (instance.exports[name] as WebAssembly.Memory).buffer;
    memories[name] = `${buffer.byteLength / 65536} pages, sha256 ${createHash('sha256').update(new Uint8Array(buffer)).digest('hex')}`;
  }
  return { globals, memories };
}

let instance: WebAssembly.Instance;
try {
  instance = instantiate();
  post({ kind: 'instantiated', outcome: { kind: 'ok', results: [] } });
} catch (err) {
  post({ kind: 'instantiated', outcome: outcomeOf(err) });
  process.exit(0);
}

for (const call of input.calls) {
  const fn = instance.exports[call.name] as (...args: unknown[]) => unknown;
  let outcome: Outcome;
  try {
    const out = fn(...call.args.map((bits, i) => bitsToJs(call.params[i]!, bits)));
    // Several results come back as an array, one as itself, none as undefined.
    const values = call.results.length === 1 ? [out] : call.results.length === 0 ? [] : (out as unknown[]);
    outcome = { kind: 'ok', results: call.results.map((type, i) => jsToBits(type, values[i])) };
  } catch (err) {
    outcome = outcomeOf(err);
  }
  post({ kind: 'call', outcome });
}
post({ kind: 'final', state: finalState(instance) });
