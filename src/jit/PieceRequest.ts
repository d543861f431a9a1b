// What flows down the JIT's layer chain (ORC's IRLayer -> IRCompileLayer -> ObjectLinkingLayer):
// a request to compile and link one piece of a module for a MaterializationResponsibility. The
// units of the CompileOnDemandLayer (and the eager and re-optimizing paths) make requests; each
// layer's `emit` adds what it is for and hands the request to the next.

import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import type { EntityRef, EntryCounters } from '../wasm/index.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export type PieceKind =
  /** A lazy module's memories, tables, globals, segments, start and segment-using functions. */
  | 'globals'
  /** Baseline bodies of a lazy module: one partition, cut from the bytes. */
  | 'bodies'
  /** An eager module, whole. */
  | 'whole'
  /** The optimized tier of one hot function, its callees copied in for binaryen to inline. */
  | 'optimized';

export interface PieceRequest {
  readonly kind: PieceKind;
  readonly record: WasmModuleRecord;
  /** 'bodies' and 'optimized': the defined functions the piece holds. */
  readonly functions: readonly number[];
  /** 'optimized': the function the piece exports, whose tier it is. */
  readonly root?: number;
  /**
   * What each of the responsibility's symbols resolves to: an entity of the module (a piece
   * export, or an import the module re-exports), or undefined for the module's initializer
   * symbol, which stands for the instantiation itself and has no address.
   */
  readonly symbols: ReadonlyMap<string, EntityRef | undefined>;
  /** 'bodies': entry counters, added by the ReOptimizeLayer. */
  readonly entryCounters?: EntryCounters;
  /** For logs, dumps and errors, e.g. "m1 f, g". */
  readonly label: string;
}

/** One layer of the chain. */
export interface PieceLayer {
  emit(r: MaterializationResponsibility, request: PieceRequest): Promise<void>;
}

/** What a layer reports once a piece is linked (ORC's compile callbacks, in one place). */
export interface CompileEvent {
  readonly dylib: string;
  /** Names of the function bodies the piece compiled (for an optimized piece, "f (optimized)"). */
  readonly names: readonly string[];
  readonly kind: PieceKind;
  readonly bytes: number;
  readonly ms: number;
}

export type CompileObserver = (e: CompileEvent) => void;
