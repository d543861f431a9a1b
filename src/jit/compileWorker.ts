// The compile thread (ORC's compile threads): holds parsed modules and does every binaryen job
// (parse and validate, build a globals module, extract functions, compile a whole module) off
// the main thread, which stays free to answer requests while a large module parses.

import { parentPort } from 'node:worker_threads';
import { InvalidModule, ResourceExhausted } from '../core/errors.ts';
import {
  buildGlobalsModule,
  compileWhole,
  extractFunctions,
  parseModule,
  prepareForSession,
  reoptimizeFunction,
  type CompiledPiece,
  type ModuleInfo,
  type ParsedModule,
} from '../wasm/index.ts';
import type { CompiledObject, CompileReply, CompileRequest, SerializedError } from './compileProtocol.ts';

const port = parentPort;
if (!port) throw new Error('compileWorker.ts must run in a worker thread');

const modules = new Map<number, ParsedModule>();

function moduleOf(id: number): ParsedModule {
  const m = modules.get(id);
  if (!m) throw new Error(`compile thread has no module ${id}`);
  return m;
}

/**
 * The module's info as plain data for the main thread. Function facts are computed on demand
 * in this thread (getters do not survive postMessage): the JIT needs `usesSegments`, which one
 * cheap scan gives for all functions; `size` needs a full body scan each, so it is not sent.
 */
function plainInfo(m: ParsedModule): ModuleInfo {
  const segmentUsers = new Set(m.functionsUsingSegments());
  return {
    ...m.info,
    functions: m.info.functions.map((f) => ({
      index: f.index,
      name: f.name,
      type: f.type,
      imported: f.imported,
      usesSegments: segmentUsers.has(f.index),
      size: -1,
    })),
  };
}

function serialize(err: unknown): SerializedError {
  if (err instanceof InvalidModule) return { kind: 'InvalidModule', message: err.message, diagnostics: [...err.diagnostics] };
  if (err instanceof ResourceExhausted) return { kind: 'ResourceExhausted', message: err.message, limit: err.limit };
  return { kind: 'Error', message: err instanceof Error ? err.message : String(err) };
}

function run(req: CompileRequest): { reply: CompileReply; transfer: ArrayBuffer[] } {
  let piece: CompiledPiece;
  let functions: readonly number[] | undefined;
  switch (req.job) {
    case 'parse': {
      const m = parseModule(req.source, req.options);
      modules.set(req.module, m);
      return { reply: { id: req.id, ok: true, info: plainInfo(m) }, transfer: [] };
    }
    case 'dispose':
      modules.get(req.module)?.dispose();
      modules.delete(req.module);
      return { reply: { id: req.id, ok: true }, transfer: [] };
    case 'globals':
      piece = buildGlobalsModule(moduleOf(req.module), req.options);
      break;
    case 'extract':
      piece = extractFunctions(moduleOf(req.module), req.functions, req.options);
      functions = req.functions;
      break;
    case 'reoptimize': {
      const optimized = reoptimizeFunction(moduleOf(req.module), req.root, req.options);
      piece = optimized;
      functions = optimized.functions;
      break;
    }
    case 'whole':
      piece = compileWhole(moduleOf(req.module), req.options);
      break;
  }
  // Every piece, whatever built it, imports the memory it would define and checks its grows
  // against the session's memory budget (sessionPiece.ts).
  piece = prepareForSession(piece);
  // Compiling here too keeps even V8's validation of the piece off the main thread;
  // a WebAssembly.Module crosses threads without being compiled again.
  const module = new WebAssembly.Module(piece.bytes as Uint8Array<ArrayBuffer>);
  const object: CompiledObject = {
    module,
    imports: piece.imports,
    hostImports: piece.hostImports,
    exports: piece.exports,
    size: piece.bytes.byteLength,
    ...(piece.start ? { start: piece.start } : {}),
    ...(functions ? { functions, callees: calleesOf(moduleOf(req.module), functions) } : {}),
  };
  return { reply: { id: req.id, ok: true, object }, transfer: [] };
}

/** What each copied function references, for the JIT's record of who calls whom. */
function calleesOf(m: ParsedModule, functions: readonly number[]): Map<number, readonly number[]> {
  return new Map(functions.map((f) => [f, m.references(f).functions]));
}

port.on('message', (req: CompileRequest) => {
  try {
    const { reply, transfer } = run(req);
    port.postMessage(reply, transfer);
  } catch (err) {
    port.postMessage({ id: req.id, ok: false, error: serialize(err) } satisfies CompileReply);
  }
});
