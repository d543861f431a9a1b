// A typed view of the parts of the WebAssembly JS API the direct target uses. The project's
// lib settings (es2024, node types) declare no `WebAssembly` global, and test/spec must not
// add ambient declarations that could clash with one src/ may add later, so the global is
// read through this local interface instead.

export interface WasmModuleObject {
  readonly __wasmModule?: never;
}

export interface WasmImportDescriptor {
  readonly module: string;
  readonly name: string;
  readonly kind: string;
}

export interface WasmInstanceObject {
  readonly exports: Readonly<Record<string, unknown>>;
}

export interface WasmGlobalObject {
  value: unknown;
}

export type WasmErrorClass = new (message?: string) => Error;

export interface WasmJsApi {
  readonly Module: {
    new (bytes: Uint8Array): WasmModuleObject;
    imports(module: WasmModuleObject): WasmImportDescriptor[];
  };
  readonly Instance: new (module: WasmModuleObject, imports: Record<string, Record<string, unknown>>) => WasmInstanceObject;
  readonly Global: new (descriptor: { value: string; mutable: boolean }, value: unknown) => WasmGlobalObject;
  readonly Table: new (descriptor: { element: string; initial: number; maximum?: number }) => object;
  readonly Memory: new (descriptor: { initial: number; maximum?: number }) => object;
  readonly CompileError: WasmErrorClass;
  readonly LinkError: WasmErrorClass;
  readonly RuntimeError: WasmErrorClass;
}

export const wasmApi: WasmJsApi = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;

export function isWasmGlobal(x: unknown): x is WasmGlobalObject {
  return typeof x === 'object' && x !== null && x instanceof (wasmApi.Global as unknown as new () => object);
}
