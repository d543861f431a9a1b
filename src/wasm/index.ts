// The wasm layer's public surface: parsing and validating modules, describing them, and
// cutting them into pieces (globals module, extracted functions, whole module) for the JIT.

export { parseModule, ParsedModule } from './ParsedModule.ts';
export type { ModuleSource, ParseOptions, ModuleLayout } from './ParsedModule.ts';
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
export { extractFunctions } from './extractFunctions.ts';
export type { EntryCounters, ExtractOptions } from './extractFunctions.ts';
export { cutPiece, REF_IMPORT_PREFIX, REOPTIMIZE_HOOK_NAME } from './cutPiece.ts';
export type { CutOptions } from './cutPiece.ts';
export { displayName } from './displayName.ts';
export { reoptimizeFunction, reoptimizationClosure } from './reoptimize.ts';
export type { ReoptimizeOptions } from './reoptimize.ts';
export { compileWhole } from './compileWhole.ts';
export type { CompileWholeOptions } from './compileWhole.ts';
export { prepareForSession } from './sessionPiece.ts';
export { instrumentMemoryGrow, MEMORY_GROW_HOOK_TYPE } from './growInstrumentation.ts';
export { entityName, parseEntityName, GLOBALS_MODULE, FUNCTION_MODULE, HOST_MODULE, chooseFunctionModule, chooseHostModule } from './linkNames.ts';
export * from './types.ts';
