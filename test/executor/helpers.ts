// Test helpers for the executor: compile WAT with wabt's wat2wasm (its default features: SIMD,
// multi-value, reference types, bulk memory; keeping function names, so trap stacks can be checked), and small constructors for exact wasm values.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValType, WasmValue } from '../../src/wasm/types.ts';

export function watBytes(text: string, flags: readonly string[] = []): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'executor-test-'));
  try {
    writeFileSync(join(dir, 'm.wat'), text);
    execFileSync('wat2wasm', ['--debug-names', ...flags, join(dir, 'm.wat'), '-o', join(dir, 'm.wasm')], { stdio: 'pipe' });
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

import type { Test } from 'tap';
import { Executor as ExecutorClass, type ExecutorOptions } from '../../src/executor/Executor.ts';
import { ExecutorHostPool } from '../../src/executor/ExecutorHostPool.ts';

/** Where a test's executors run their worker: a thread of the test process, or an executor host. */
export type ExecutorKind = 'in-process' | 'hosted';
export const EXECUTOR_KINDS: readonly ExecutorKind[] = ['in-process', 'hosted'];

/** Starts an executor of the suite's kind, closed when test `t` ends. */
export type StartExecutor = (t: Test, opts?: Omit<ExecutorOptions, 'host'>) => Promise<Executor>;

/**
 * Runs `suite` once per kind of executor connection, each as a subtest named after the kind.
 * Hosted executors of one run share a pool of two hosts, closed after the suite.
 */
export function forEachExecutorKind(t: Test, suite: (t: Test, start: StartExecutor) => void | Promise<void>): void {
  for (const kind of EXECUTOR_KINDS) {
    t.test(kind, async (t) => {
      const pool = kind === 'hosted' ? new ExecutorHostPool({ maxHosts: 2 }) : undefined;
      if (pool !== undefined) t.teardown(() => pool.close());
      const start: StartExecutor = async (tt, opts = {}) => {
        const ex = await ExecutorClass.start(pool === undefined ? opts : { ...opts, host: pool });
        tt.teardown(() => ex.close());
        return ex;
      };
      await suite(t, start);
    });
  }
}
