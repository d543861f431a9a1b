// The CompileLayer plays ORC's IRCompileLayer: it turns a piece request into wasm the executor
// can instantiate, and hands it to the linking layer. Two compilers:
//
// - the baseline compiler, at byte level on the calling thread: a partition of bodies is cut
//   from the module's own bytes (src/wasm/cutPiece.ts), a globals module or an eager module
//   with optimize level 0 is rewritten from them. Its cost follows the bytes copied; V8
//   compiles the result lazily, function by function, when the executor instantiates it.
// - the optimizing compiler, binaryen in a thread of its own (OptimizingCompiler.ts): the
//   optimized tier of a hot function, and an eager module with an optimize level. Off the
//   event loop and off any call's path.

import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import {
  buildGlobalsModule,
  cutPiece,
  describeOptimizedPiece,
  describeOptimizedWhole,
  prepareForSession,
  wholeModulePiece,
  type CompiledPiece,
} from '../wasm/index.ts';
import { CodeCache } from './CodeCache.ts';
import type { OptimizingCompiler } from './OptimizingCompiler.ts';
import type { PieceLayer, PieceRequest } from './PieceRequest.ts';
import type { WasmLinkingLayer } from './WasmLinkingLayer.ts';

export class CompileLayer implements PieceLayer {
  private readonly linker: WasmLinkingLayer;
  private readonly optimizer: OptimizingCompiler;
  private readonly cache: CodeCache;

  constructor(linker: WasmLinkingLayer, optimizer: OptimizingCompiler, cache: CodeCache) {
    this.linker = linker;
    this.optimizer = optimizer;
    this.cache = cache;
  }

  async emit(r: MaterializationResponsibility, request: PieceRequest): Promise<void> {
    const started = performance.now();
    const piece = await this.compile(request);
    await this.linker.emit(r, request, piece, performance.now() - started);
  }

  private async compile(request: PieceRequest): Promise<CompiledPiece> {
    const { record } = request;
    const m = record.module;
    const references = (f: number) => m.references(f);
    switch (request.kind) {
      case 'globals':
        return prepareForSession(buildGlobalsModule(m, { keepFunctions: [...record.keptFunctions] }));
      case 'bodies':
        return cutPiece(m.binary, references, {
          functions: request.functions,
          ...(request.entryCounters ? { entryCounters: request.entryCounters } : {}),
          moduleName: record.id,
        });
      case 'whole': {
        const baseline = wholeModulePiece(m);
        if (record.options.optimize <= 0) return baseline;
        const level = record.options.optimize;
        try {
          const bytes = await this.cache.through(CodeCache.key(['whole', m.hash, level]), () =>
            this.optimizer.optimize(baseline.bytes, { level, keepImports: true }),
          );
          return describeOptimizedWhole(baseline, bytes);
        } catch {
          // binaryen could not optimize this module: the baseline is correct, only slower.
          return baseline;
        }
      }
      case 'optimized': {
        if (request.root === undefined) throw new Error(`${request.label}: an optimized piece needs a root`);
        // No module name in the piece: it would make the same code differ per module id, and
        // the cache shares it between every module with these bytes.
        const cut = cutPiece(m.binary, references, { functions: request.functions, exports: [request.root] });
        const level = Math.max(2, record.options.optimize);
        const key = CodeCache.key(['optimized', m.hash, level, request.root, request.functions.join(',')]);
        const bytes = await this.cache.through(key, () => this.optimizer.optimize(cut.bytes, { level, keepImports: false }));
        return describeOptimizedPiece(cut, bytes);
      }
    }
  }
}
