// Worker side of the session's linear-memory budget: every memory of a user module is created
// here (LinkOp createMemory), at the handle the JIT chose, and counts until that handle is
// released. The budget's hook is what every memory.grow in compiled code calls first (see
// src/wasm/growInstrumentation.ts): it returns the requested delta when the session's memories
// can take that many more pages, else -1, which makes the memory.grow after it return -1.
//
// Counting by summing the memories' current sizes, rather than keeping a running total, means
// the hook need not know which memory is about to grow (the same compiled hook serves every
// piece), a memory shared by many modules counts once, and a memory that grew counts its
// current size. The cost is a pass over the session's memories per memory.grow, which is rare.
//
// Not counted: the built-in spectest memory (1 page, at most 2), which exists in every session.

import { ExecutorFailure } from './failures.ts';
import type { ExecutorAddr, MemoryType } from './protocol.ts';
import { growHookFunction, HOOK_ADDRESSES } from './hooks.ts';

/**
 * The hook's fixed slot in the session's funcref table, right after the spectest functions;
 * every worker places it there at start, so pieces import it by address like anything else.
 */
export const MEMORY_GROW_HOOK_ADDR: ExecutorAddr = HOOK_ADDRESSES.memoryGrow;

const PAGE_BYTES = 65536;

export class MemoryBudget {
  /** undefined: no cap. */
  readonly limitPages: number | undefined;
  private readonly memories = new Map<ExecutorAddr, WebAssembly.Memory>();

  constructor(limitPages: number | undefined) {
    this.limitPages = limitPages;
  }

  /** Pages all counted memories hold now. */
  usedPages(): number {
    let pages = 0;
    for (const m of this.memories.values()) pages += m.buffer.byteLength / PAGE_BYTES;
    return pages;
  }

  /** Creates a memory counted at `addr` (replacing one counted there); throws when its initial pages do not fit. */
  create(addr: ExecutorAddr, type: MemoryType): WebAssembly.Memory {
    const previous = this.memories.get(addr);
    const used = this.usedPages() - (previous ? previous.buffer.byteLength / PAGE_BYTES : 0);
    if (this.limitPages !== undefined && used + type.initial > this.limitPages) {
      throw new ExecutorFailure({
        kind: 'ResourceExhausted',
        limit: 'sessionMemoryPages',
        message: `A memory of ${type.initial} pages does not fit: the session's memories hold ${used} of its ${this.limitPages}-page limit.`,
      });
    }
    const descriptor: WebAssembly.MemoryDescriptor & { shared?: boolean } = { initial: type.initial };
    if (type.maximum !== undefined) descriptor.maximum = type.maximum;
    if (type.shared) descriptor.shared = true;
    const memory = new WebAssembly.Memory(descriptor);
    this.memories.set(addr, memory);
    return memory;
  }

  /** Stops counting the memory at `addr` (its handle was released). */
  forget(addr: ExecutorAddr): void {
    this.memories.delete(addr);
  }

  /** What memory.grow asks first: the delta to grow by, or -1 (an impossible delta) to refuse. */
  readonly grow = (delta: number): number => {
    if (this.limitPages === undefined) return delta;
    return this.usedPages() + (delta >>> 0) <= this.limitPages ? delta : -1;
  };

  /** The hook as a wasm function (funcref tables hold only those), to place at MEMORY_GROW_HOOK_ADDR. */
  hookFunction(): Function {
    return growHookFunction('memory', this.grow);
  }
}
