// The wasm layer's public surface on the JIT's thread: loading and validating modules,
// describing them, and writing the pieces the JIT links (globals module, baseline partitions,
// whole modules) at byte level. Nothing exported here loads binaryen: its jobs (WAT parsing,
// the optimized tier) live in optimizing.ts and run in the optimizer thread.

export { loadModule, WasmModule } from './WasmModule.ts';
export type { LoadOptions } from './WasmModule.ts';
export type {
  EntityRef,
  EntityType,
  ExportInfo,
  FunctionInfo,
  GlobalInfo,
  ImportInfo,
  MemoryInfo,
  ModuleInfo,
  TableInfo,
} from './moduleInfo.ts';
export type { CompiledPiece, HostFunction, HostImport, PieceExport, PieceImport } from './compiledPiece.ts';
export type { CodeReferences } from './codeScan.ts';
export { buildGlobalsModule } from './globalsModule.ts';
export type { GlobalsModuleOptions } from './globalsModule.ts';
export { cutPiece, REF_IMPORT_PREFIX, REOPTIMIZE_HOOK_NAME } from './cutPiece.ts';
export type { CutOptions, EntryCounters } from './cutPiece.ts';
export { displayName } from './displayName.ts';
export { describeOptimizedPiece, describeOptimizedWhole, wholeModulePiece } from './wholeModule.ts';
export { prepareForSession } from './sessionPiece.ts';
export { instrumentMemoryGrow, MEMORY_GROW_HOOK_TYPE } from './growInstrumentation.ts';
export { entityName, parseEntityName, GLOBALS_MODULE, FUNCTION_MODULE, HOST_MODULE, chooseFunctionModule, chooseHostModule } from './linkNames.ts';
export * from './types.ts';
