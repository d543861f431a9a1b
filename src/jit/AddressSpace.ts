// The JIT's view of the executor's address space. A callable's address is its slot in the
// session-wide funcref table; memories, tables and globals get handles in their own range.
// The JIT allocates every address itself, so resolving a symbol never waits for the executor.
//
// No address is ever handed out twice. A stub of a removed dylib may still be imported by
// another instance, and a call through it must find an empty slot (a trap), not someone else's
// function; and a lazily added module links its bodies long after its imports resolved,
// against the addresses it cached then: a reused handle would give it another module's
// memory, table or global. Released addresses are remembered, so the linker can tell a stale
// one from a live one.

import { DATA_HANDLE_BASE, type ExecutorAddr } from '../executor/protocol.ts';
import type { ExternKind } from '../wasm/types.ts';

export class AddressSpace {
  private nextSlot: number;
  private nextHandle: number;
  private readonly released = new Set<ExecutorAddr>();

  /** `firstSlot`/`firstHandle`: the first addresses not taken by the executor's host symbols. */
  constructor(firstSlot: number, firstHandle: number = DATA_HANDLE_BASE) {
    this.nextSlot = firstSlot;
    this.nextHandle = firstHandle;
  }

  allocate(kind: ExternKind): ExecutorAddr {
    return kind === 'function' ? this.nextSlot++ : this.nextHandle++;
  }

  release(addrs: Iterable<ExecutorAddr>): void {
    for (const a of addrs) this.released.add(a);
  }

  /** Whether `addr` was handed out and released since (what it held is gone). */
  isReleased(addr: ExecutorAddr): boolean {
    return this.released.has(addr);
  }

  /** Table slots handed out so far, for metrics. */
  get slotsUsed(): number {
    return this.nextSlot;
  }
}
