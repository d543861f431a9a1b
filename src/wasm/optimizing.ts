// The jobs only binaryen can do, each from bytes to bytes so they can run in a thread of their
// own with nothing kept between jobs: turning WAT into a binary, and optimizing a binary (an
// optimized-tier piece, or a whole module added eagerly with an optimize level). Everything
// else the JIT does to wasm is done at byte level, on the main thread, without binaryen.

import { InvalidModule } from '../core/errors.ts';
import { BinaryenError, parseWat, readWasm } from './binaryen.ts';
import { emptyDeclarativeSegments } from './declarativeSegments.ts';
import { decodeModuleBinary } from './moduleBinary.ts';

/** Parses and validates WAT text; the binary keeps its names (trap stacks show them). Throws InvalidModule. */
export function watToBinary(text: string): Uint8Array {
  let ir;
  try {
    ir = parseWat(text);
  } catch (e) {
    if (e instanceof BinaryenError) throw new InvalidModule(e.message, e.diagnostics);
    throw e;
  }
  try {
    const diagnostics = ir.validate();
    if (diagnostics.length > 0) throw new InvalidModule('The module does not validate.', diagnostics);
    return ir.emit(true);
  } finally {
    ir.dispose();
  }
}

export interface OptimizeOptions {
  /** binaryen's optimize level, 1..4. */
  readonly level: number;
  /**
   * Keep every import as declared (a whole module: linking must check what instantiation would);
   * otherwise the optimizer may drop the ones it no longer uses (a piece: the linker binds what
   * the result declares).
   */
  readonly keepImports: boolean;
}

/**
 * Optimizes a valid binary. The result validates in V8 or this throws: a caller falls back to
 * the unoptimized bytes rather than hand the executor something it refuses.
 */
export function optimizeBinary(bytes: Uint8Array, opts: OptimizeOptions): Uint8Array {
  // binaryen drops declarative element segments when it reads a binary (declarativeSegments.ts).
  const input = emptyDeclarativeSegments(decodeModuleBinary(bytes));
  const ir = readWasm(input);
  let out: Uint8Array;
  try {
    ir.optimize(opts.level, { keepImports: opts.keepImports });
    const diagnostics = ir.validate();
    if (diagnostics.length > 0) throw new Error(`the optimized module does not validate:\n${diagnostics.join('\n')}`);
    out = ir.emit(true);
  } finally {
    ir.dispose();
  }
  if (!WebAssembly.validate(out as Uint8Array<ArrayBuffer>)) throw new Error('binaryen produced a module V8 does not validate');
  return out;
}
