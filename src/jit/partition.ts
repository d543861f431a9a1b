// The CompileOnDemandLayer's partitioning function: which functions a first call compiles.
// ORC's CompileOnDemandLayer takes one; per-function is one choice, "the requested functions and
// what they statically reach" another. This is the second, within a budget of body bytes: V8
// compiles a piece's functions lazily, so a large piece costs little more than its cut and
// validation (both linear in its bytes), and a real program then pays a handful of call-throughs
// (each a round trip between the executor and the JIT) instead of one per function it reaches.
//
// The default budget (PARTITION_BUDGET_BYTES, 1 MiB) is set by what a real program reaches:
// SQLite's sqlite3_exec statically reaches about 300 KB of bodies, more than the earlier 256 KiB,
// and what the budget left out came back one function at a time, each a call-through (the
// benchmark's SQLite run cuts 28 fewer pieces at 1 MiB than at 256 KiB, and none fewer at 8 MiB:
// 1 MiB covers its whole direct reach). A larger piece costs its cut on this thread (about 30 ms
// per MB) and V8's decode in the executor, not compiling: V8 compiles a body when it first runs.
// The bound stays because a first call into a huge module must not cut all of it.
//
// The walk is breadth first over direct calls (call, return_call), so what a first call is most
// likely to run next comes first; functions reached only through tables or references are left
// to their own first call. It never takes a function that is not `available` (already compiled,
// being compiled, an import, or kept with the segments).

import type { WasmModule } from '../wasm/index.ts';

export interface PartitionOptions {
  /** Most bytes of function bodies one partition takes beyond the requested functions themselves. */
  readonly budgetBytes: number;
}

export function partitionByReach(
  m: WasmModule,
  requested: Iterable<number>,
  available: (index: number) => boolean,
  opts: PartitionOptions,
): number[] {
  const members: number[] = [];
  const seen = new Set<number>();
  for (const f of requested) {
    if (seen.has(f)) continue;
    seen.add(f);
    members.push(f);
  }
  let spent = 0;
  for (let i = 0; i < members.length; i++) {
    for (const callee of m.references(members[i] as number).functions) {
      if (seen.has(callee)) continue;
      seen.add(callee);
      if (!available(callee)) continue;
      const size = m.bodySize(callee);
      if (spent + size > opts.budgetBytes) continue;
      spent += size;
      members.push(callee);
    }
  }
  return members;
}
