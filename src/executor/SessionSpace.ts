// Worker side of the executor's address space: the session-wide funcref table whose slots are
// function addresses, and the map of data handles (memories, tables, globals). The JIT picks
// every address; this class only places objects where it is told and checks the ranges.

import { DATA_HANDLE_BASE, type ExecutorAddr } from './protocol.ts';
import { ExecutorFailure } from './failures.ts';

export class SessionSpace {
  /** Grown on demand; slot 0 is never used, so address 0 can mean "none" to the JIT. */
  readonly table = new WebAssembly.Table({ element: 'anyfunc', initial: 256 });
  private readonly handles = new Map<ExecutorAddr, object>();
  /** The first slot each function was placed at: how a funcref result is named. */
  private readonly slotOf = new Map<unknown, ExecutorAddr>();
  private used = 0;

  get slotsUsed(): number {
    return this.used;
  }

  placeFunction(addr: ExecutorAddr, fn: unknown): void {
    if (!Number.isInteger(addr) || addr < 1 || addr >= DATA_HANDLE_BASE) {
      throw ExecutorFailure.link(`${addr} is not a function address (1 .. ${DATA_HANDLE_BASE - 1})`);
    }
    if (addr >= this.table.length) {
      // Doubling keeps growth amortized; the JIT allocates slots densely from the bottom.
      this.table.grow(Math.max(addr + 1, this.table.length * 2) - this.table.length);
    }
    const previous = this.table.get(addr);
    if (previous === null) this.used++;
    else if (this.slotOf.get(previous) === addr) this.slotOf.delete(previous);
    this.table.set(addr, fn as Function);
    if (!this.slotOf.has(fn)) this.slotOf.set(fn, addr);
  }

  functionAt(addr: ExecutorAddr): Function | null {
    if (!Number.isInteger(addr) || addr < 0 || addr >= this.table.length) return null;
    return this.table.get(addr) as Function | null;
  }

  placeData(addr: ExecutorAddr, object: object): void {
    if (!Number.isInteger(addr) || addr < DATA_HANDLE_BASE) {
      throw ExecutorFailure.link(`${addr} is not a data handle (>= ${DATA_HANDLE_BASE})`);
    }
    this.handles.set(addr, object);
  }

  dataAt(addr: ExecutorAddr): object | undefined {
    return this.handles.get(addr);
  }

  slotOfFunction(fn: unknown): ExecutorAddr | undefined {
    return this.slotOf.get(fn);
  }

  release(addr: ExecutorAddr): void {
    if (addr >= DATA_HANDLE_BASE) {
      this.handles.delete(addr);
      return;
    }
    const fn = this.functionAt(addr);
    if (fn === null) return;
    if (this.slotOf.get(fn) === addr) this.slotOf.delete(fn);
    this.table.set(addr, null);
    this.used--;
  }
}
