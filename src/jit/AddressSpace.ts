// The JIT's view of the executor's address space. A callable's address is its slot in the
// session-wide funcref table; memories, tables and globals get handles in their own range.
// The JIT allocates every address itself, so resolving a symbol never waits for the executor.
//
// Table slots are never reused: a stub of a removed dylib may still be imported by another
// instance, and a call through it must find an empty slot (a trap), not someone else's
// function. Data handles are only read when an instance is linked, so they are reused.

import { DATA_HANDLE_BASE, type ExecutorAddr } from '../executor/protocol.ts';
import type { ExternKind } from '../wasm/types.ts';

export class AddressSpace {
  private nextSlot: number;
  private nextHandle: number;
  private readonly freeHandles: ExecutorAddr[] = [];

  /** `firstSlot`/`firstHandle`: the first addresses not taken by the executor's host symbols. */
  constructor(firstSlot: number, firstHandle: number = DATA_HANDLE_BASE) {
    this.nextSlot = firstSlot;
    this.nextHandle = firstHandle;
  }

  allocate(kind: ExternKind): ExecutorAddr {
    if (kind === 'function') return this.nextSlot++;
    return this.freeHandles.pop() ?? this.nextHandle++;
  }

  release(addrs: Iterable<ExecutorAddr>): void {
    for (const a of addrs) if (a >= DATA_HANDLE_BASE) this.freeHandles.push(a);
  }

  /** Table slots handed out so far, for metrics. */
  get slotsUsed(): number {
    return this.nextSlot;
  }
}
