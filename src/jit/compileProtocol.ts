// Messages between the JIT and its compile thread.

import type { CompiledPiece, EntityRef, ExtractOptions, ModuleInfo, ParseOptions, ReoptimizeOptions } from '../wasm/index.ts';

/** A compiled piece of a module, ready to link: ORC's object file. */
export interface CompiledObject {
  readonly module: WebAssembly.Module;
  readonly imports: CompiledPiece['imports'];
  readonly hostImports: CompiledPiece['hostImports'];
  readonly exports: CompiledPiece['exports'];
  /** Extracted and re-optimized pieces: the original functions copied into the piece. */
  readonly functions?: readonly number[];
  /** Extracted pieces: the functions each copied function references (calls or ref.func). */
  readonly callees?: ReadonlyMap<number, readonly number[]>;
  /** Bytes of wasm compiled: what the piece costs against the session's code budget. */
  readonly size: number;
  /** Globals module only: the start function the linker must run. */
  readonly start?: EntityRef;
}

export type ModuleSourceMessage = { readonly wat: string } | { readonly wasm: Uint8Array };

export type CompileRequest =
  | { readonly id: number; readonly job: 'parse'; readonly module: number; readonly source: ModuleSourceMessage; readonly options: ParseOptions }
  | { readonly id: number; readonly job: 'dispose'; readonly module: number }
  | { readonly id: number; readonly job: 'globals'; readonly module: number; readonly options: { readonly keepFunctions: readonly number[]; readonly optimizeLevel: number } }
  | { readonly id: number; readonly job: 'extract'; readonly module: number; readonly functions: readonly number[]; readonly options: ExtractOptions }
  | { readonly id: number; readonly job: 'reoptimize'; readonly module: number; readonly root: number; readonly options: ReoptimizeOptions }
  | { readonly id: number; readonly job: 'whole'; readonly module: number; readonly options: { readonly optimizeLevel: number } };

export type SerializedError =
  | { readonly kind: 'InvalidModule'; readonly message: string; readonly diagnostics: readonly string[] }
  | { readonly kind: 'ResourceExhausted'; readonly message: string; readonly limit: string }
  | { readonly kind: 'Error'; readonly message: string };

export type CompileReply =
  | { readonly id: number; readonly ok: true; readonly info?: ModuleInfo; readonly object?: CompiledObject }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };
