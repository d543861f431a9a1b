// Vocabulary shared by every layer that handles WebAssembly: value types, function
// signatures and exact values. Nothing here depends on binaryen or on the executor.

export type NumType = 'i32' | 'i64' | 'f32' | 'f64';
export type ValType = NumType | 'v128' | 'funcref' | 'externref';

export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

export type ExternKind = 'function' | 'global' | 'memory' | 'table';

/**
 * A wasm value, exact: `bits` is the raw bit pattern as an unsigned decimal string for
 * numbers (the form wast2json writes), 32 lowercase hex digits in little-endian byte order
 * for v128, and null or an opaque string for references. NaN payloads survive this form.
 */
export interface WasmValue {
  readonly type: ValType;
  readonly bits: string | null;
}

export interface GlobalType {
  readonly type: ValType;
  readonly mutable: boolean;
}

export interface Limits {
  readonly initial: number;
  readonly maximum?: number | undefined;
  readonly shared?: boolean | undefined;
}

export interface TableType extends Limits {
  readonly elementType: 'funcref' | 'externref';
}

export type MemoryType = Limits;

export function funcTypeKey(t: FuncType): string {
  return `${t.params.join(',')}->${t.results.join(',')}`;
}
