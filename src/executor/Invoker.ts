// Worker side of requests: calls a function by address through the per-signature invoke
// wrapper (exact values both ways), reads and writes memories, reads globals exactly.

import { funcTypeKey, type FuncType, type GlobalType, type WasmValue } from '../wasm/types.ts';
import { ExecutorFailure, wasmFrames } from './failures.ts';
import { GLUE_MODULE_PREFIX } from './glue.ts';
import { buildGlobalReader } from './globalReader.ts';
import { buildInvokeWrapper } from './invokeWrapper.ts';
import type { ExecutorAddr } from './protocol.ts';
import { pushRaw, readRaw, type RefCodec } from './rawValues.ts';
import type { SessionSpace } from './SessionSpace.ts';

const PAGE = 65536;

function readAll(types: readonly FuncType['results'][number][], raw: readonly unknown[], refs: RefCodec): WasmValue[] {
  const out: WasmValue[] = [];
  let at = 0;
  for (const t of types) {
    const [v, next] = readRaw(t, raw, at, refs);
    out.push(v);
    at = next;
  }
  return out;
}

/** JS sees 0 results as undefined, 1 as the value, more as an array. */
function asArray(result: unknown, rawCount: number): unknown[] {
  if (rawCount === 0) return [];
  if (rawCount === 1) return [result];
  return Array.from(result as Iterable<unknown>);
}

export class Invoker {
  private readonly space: SessionSpace;
  private readonly refs: RefCodec;
  private readonly wrappers = new Map<string, Function>();
  private readonly readerModules = new Map<string, WebAssembly.Module>();
  /** Per global, per type asked for: a wrong type must fail every time, not hit a cached reader. */
  private readonly readers = new WeakMap<WebAssembly.Global, Map<string, Function>>();

  constructor(space: SessionSpace, refs: RefCodec) {
    this.space = space;
    this.refs = refs;
  }

  invoke(addr: ExecutorAddr, type: FuncType, args: readonly WasmValue[]): WasmValue[] {
    if (this.space.functionAt(addr) === null) throw ExecutorFailure.typeMismatch(`address ${addr} holds no function`);
    const raw: unknown[] = [addr];
    for (const a of args) pushRaw(a, this.refs, raw);
    const wrapper = this.wrapper(type);
    let result: unknown;
    try {
      result = wrapper(...raw);
    } catch (err) {
      // A signature mismatch in the wrapper's own call_indirect means the caller's `type` is
      // not the function's type: a TypeMismatch, not a trap in user code.
      if (err instanceof WebAssembly.RuntimeError && wasmFrames(err.stack)[0]?.module === `${GLUE_MODULE_PREFIX}invoke`) {
        throw ExecutorFailure.typeMismatch(`the function at address ${addr} does not have type ${funcTypeKey(type)}`);
      }
      throw err;
    }
    const rawCount = type.results.reduce((n, t) => n + (t === 'v128' ? 2 : 1), 0);
    return readAll(type.results, asArray(result, rawCount), this.refs);
  }

  readMemory(addr: ExecutorAddr, offset: number, length: number | undefined): { bytes: Uint8Array; pages: number } {
    const buffer = this.memory(addr).buffer;
    length ??= Math.max(0, buffer.byteLength - offset);
    this.checkRange(buffer.byteLength, offset, length);
    return { bytes: new Uint8Array(buffer, offset, length).slice(), pages: buffer.byteLength / PAGE };
  }

  writeMemory(addr: ExecutorAddr, offset: number, bytes: Uint8Array): void {
    const buffer = this.memory(addr).buffer;
    this.checkRange(buffer.byteLength, offset, bytes.length);
    new Uint8Array(buffer, offset, bytes.length).set(bytes);
  }

  readGlobal(addr: ExecutorAddr, type: GlobalType): WasmValue {
    const g = this.space.dataAt(addr);
    if (!(g instanceof WebAssembly.Global)) throw ExecutorFailure.typeMismatch(`address ${addr} holds no global`);
    const key = `${type.mutable ? 'mut ' : ''}${type.type}`;
    let byType = this.readers.get(g);
    if (byType === undefined) this.readers.set(g, (byType = new Map()));
    let read = byType.get(key);
    if (read === undefined) {
      let module = this.readerModules.get(key);
      if (module === undefined) {
        module = new WebAssembly.Module(buildGlobalReader(type) as BufferSource);
        this.readerModules.set(key, module);
      }
      try {
        read = new WebAssembly.Instance(module, { env: { g } }).exports['get'] as Function;
      } catch (err) {
        if (err instanceof WebAssembly.LinkError) throw ExecutorFailure.typeMismatch(`the global at ${addr} is not a ${key}`);
        throw err;
      }
      byType.set(key, read);
    }
    const rawCount = type.type === 'v128' ? 2 : 1;
    const [value] = readAll([type.type], asArray(read(), rawCount), this.refs);
    return value as WasmValue;
  }

  /** A memory's size in pages, or a table's length in elements. */
  dataSize(addr: ExecutorAddr): number {
    const d = this.space.dataAt(addr);
    if (d instanceof WebAssembly.Memory) return d.buffer.byteLength / PAGE;
    if (d instanceof WebAssembly.Table) return d.length;
    throw ExecutorFailure.typeMismatch(`address ${addr} holds no memory or table`);
  }

  private memory(addr: ExecutorAddr): WebAssembly.Memory {
    const m = this.space.dataAt(addr);
    if (!(m instanceof WebAssembly.Memory)) throw ExecutorFailure.typeMismatch(`address ${addr} holds no memory`);
    return m;
  }

  private checkRange(size: number, offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new ExecutorFailure({ kind: 'OutOfBounds', message: `bytes ${offset}..${offset + length} are outside the memory (${size} bytes)` });
    }
  }

  private wrapper(type: FuncType): Function {
    const key = funcTypeKey(type);
    let w = this.wrappers.get(key);
    if (w === undefined) {
      const module = new WebAssembly.Module(buildInvokeWrapper(type) as BufferSource);
      w = new WebAssembly.Instance(module, { env: { table: this.space.table } }).exports['invoke'] as Function;
      this.wrappers.set(key, w);
    }
    return w;
  }
}
