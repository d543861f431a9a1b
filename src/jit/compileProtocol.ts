// Messages between the JIT and its compile thread.

import type { CompiledPiece, EntityRef, ModuleInfo } from '../wasm/index.ts';

/** A compiled piece of a module, ready to link: ORC's object file. */
export interface CompiledObject {
  readonly module: WebAssembly.Module;
  readonly imports: CompiledPiece['imports'];
  readonly exports: CompiledPiece['exports'];
  /** Bytes of wasm compiled: what the piece costs against the session's code budget. */
  readonly size: number;
  /** Globals module only: the start function the linker must run. */
  readonly start?: EntityRef;
}

export type ModuleSourceMessage = { readonly wat: string } | { readonly wasm: Uint8Array };

export type CompileRequest =
  | { readonly id: number; readonly job: 'parse'; readonly module: number; readonly source: ModuleSourceMessage; readonly options: { readonly memoryMaxPages?: number } }
  | { readonly id: number; readonly job: 'dispose'; readonly module: number }
  | { readonly id: number; readonly job: 'globals'; readonly module: number; readonly options: { readonly keepFunctions: readonly number[]; readonly optimizeLevel: number } }
  | { readonly id: number; readonly job: 'extract'; readonly module: number; readonly functions: readonly number[]; readonly options: { readonly optimizeLevel: number } }
  | { readonly id: number; readonly job: 'whole'; readonly module: number; readonly options: { readonly optimizeLevel: number } };

export type SerializedError =
  | { readonly kind: 'InvalidModule'; readonly message: string; readonly diagnostics: readonly string[] }
  | { readonly kind: 'ResourceExhausted'; readonly message: string; readonly limit: string }
  | { readonly kind: 'Error'; readonly message: string };

export type CompileReply =
  | { readonly id: number; readonly ok: true; readonly info?: ModuleInfo; readonly object?: CompiledObject }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };
