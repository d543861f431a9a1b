// Test helpers for the executor: compile WAT with wabt's wat2wasm (its default features: SIMD,
// multi-value, reference types, bulk memory; keeping function names, so trap stacks can be checked), and small constructors for exact wasm values.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValType, WasmValue } from '../../src/wasm/types.ts';

export function watBytes(text: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'executor-test-'));
  try {
    writeFileSync(join(dir, 'm.wat'), text);
    execFileSync('wat2wasm', ['--debug-names', join(dir, 'm.wat'), '-o', join(dir, 'm.wasm')], { stdio: 'pipe' });
    return new Uint8Array(readFileSync(join(dir, 'm.wasm')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A module's binary from WAT (link ops carry bytes; the executor compiles them). */
export function wat(text: string): Uint8Array {
  return watBytes(text);
}

export const v = (type: ValType, bits: string | null): WasmValue => ({ type, bits });
export const i32 = (n: number): WasmValue => v('i32', String(n >>> 0));
export const i64 = (n: bigint): WasmValue => v('i64', BigInt.asUintN(64, n).toString());

import type { Executor } from '../../src/executor/Executor.ts';
import type { ExportPlacement, ImportBinding } from '../../src/executor/protocol.ts';
import { decodeModuleBinary } from '../../src/wasm/moduleBinary.ts';
import { definedTableElements } from '../../src/wasm/tableLimits.ts';

/**
 * Instantiates `text` with imports bound by address and exports placed at addresses (functions
 * unless `kinds` says otherwise), telling the executor what its tables start with, as the JIT does.
 */
export function link(
  ex: Executor,
  text: string,
  exports: Record<string, number>,
  imports: readonly ImportBinding[] = [],
  kinds: Record<string, ExportPlacement['kind']> = {},
): Promise<void> {
  const bytes = wat(text);
  return ex.apply({
    op: 'instantiate',
    label: 'test',
    bytes,
    imports,
    exports: Object.entries(exports).map(([name, addr]) => ({ name, addr, kind: kinds[name] ?? 'function' })),
    tableElements: definedTableElements(decodeModuleBinary(bytes)),
  });
}
