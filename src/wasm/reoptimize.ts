// Re-optimization of a hot function (the wasm side of ORC's ReOptimizeLayer): the function and
// the callees it reaches go into one piece that exports only the function, so binaryen's
// optimizer can inline the callees and drop them. The baseline tier compiled each of these
// functions on its own, calling the others across instances; here those calls become direct
// or disappear.

import type { CompiledPiece } from './compiledPiece.ts';
import { extractFunctions } from './extractFunctions.ts';
import type { ParsedModule } from './ParsedModule.ts';

export interface ReoptimizeOptions {
  readonly optimizeLevel: number;
  /** Most functions (the root included) copied into the piece; the rest are called as before. */
  readonly maxFunctions: number;
}

/**
 * The functions to compile together with `root`: it, then its direct callees breadth first,
 * as long as they can be copied. A function some member takes a `ref.func` of stays out (so
 * that reference still names the function every other module sees), as do functions that
 * must live with the segments and imports (which stay imports anyway).
 */
export function reoptimizationClosure(m: ParsedModule, root: number, maxFunctions: number): number[] {
  const { binary } = m.layout;
  const defined = (f: number) => f >= binary.importedFunctions && f < binary.funcTypes.length;
  const members = [root];
  const seen = new Set(members);
  const referenced = new Set(m.references(root).refFuncs);
  for (let i = 0; i < members.length && members.length < maxFunctions; i++) {
    for (const callee of m.references(members[i]!).functions) {
      if (seen.has(callee) || !defined(callee) || referenced.has(callee)) continue;
      seen.add(callee);
      const refs = m.references(callee);
      if (refs.usesSegments) continue;
      members.push(callee);
      refs.refFuncs.forEach((f) => referenced.add(f));
      if (members.length >= maxFunctions) break;
    }
  }
  // A member added before another member turned out to take its reference goes back out.
  return members.filter((f) => f === root || !referenced.has(f));
}

/** The optimized tier of `root`: a piece exporting only it, its reachable callees inlined where binaryen sees fit. */
export function reoptimizeFunction(m: ParsedModule, root: number, opts: ReoptimizeOptions): CompiledPiece & { readonly functions: readonly number[] } {
  const functions = reoptimizationClosure(m, root, opts.maxFunctions);
  const piece = extractFunctions(m, functions, { optimizeLevel: opts.optimizeLevel, exports: [root] });
  return { ...piece, functions };
}
