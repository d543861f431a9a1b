// Worker side of the session's table budget, the twin of memoryBudget.ts. Unlike a linear
// memory's buffer, a table lives in the worker's V8 heap (a funcref element costs about 32 bytes
// there), and V8 aborts the whole process, not just the worker, when one allocation passes the
// heap limit: the tables the session's modules define are what this keeps well under it.
//
// What counts: every WebAssembly.Table an instantiate op places in the session (a module
// defines tables only in its globals module or its whole-module piece, which export each of
// them), until its handle is released; a table placed at several handles counts once, at its
// current length, summed when asked (table.grow is rare), so the hook need not know which table
// is about to grow. The built-in spectest table is not counted.
//
// Two ways in, both refused rather than attempted:
// - an instantiate op whose tables do not fit (the JIT says how many elements they start with)
//   fails with ResourceExhausted before anything is compiled or instantiated;
// - every table.grow in compiled code calls the hook first (src/wasm/growInstrumentation.ts,
//   cutPiece.ts), which returns the requested delta when the tables can take that many more
//   elements, else -1, an impossible delta, so the table.grow after it returns -1 as wasm allows.
//
// Tables being instantiated are not placed yet, yet a whole module's start function runs during
// instantiation and may grow them: until the outermost instantiation that defines tables is
// over, their initial elements and every grow granted meanwhile count as "unplaced" elements.
// That over-counts a grow of an already placed table for that moment, which errs on the safe side.

import { ExecutorFailure } from './failures.ts';
import { growHookFunction, HOOK_ADDRESSES } from './hooks.ts';
import type { ExecutorAddr } from './protocol.ts';

/** The hook's fixed slot in the session's funcref table (see hooks.ts). */
export const TABLE_GROW_HOOK_ADDR: ExecutorAddr = HOOK_ADDRESSES.tableGrow;

export class TableBudget {
  /** undefined: no cap. */
  readonly limitElements: number | undefined;
  private readonly tables = new Map<ExecutorAddr, WebAssembly.Table>();
  /** Instantiations in progress whose modules define tables (a start function's call-through may nest another). */
  private instantiations = 0;
  private unplaced = 0;

  constructor(limitElements: number | undefined) {
    this.limitElements = limitElements;
  }

  /** Elements all counted tables hold now, tables being instantiated included. */
  usedElements(): number {
    let elements = this.unplaced;
    for (const table of new Set(this.tables.values())) elements += table.length;
    return elements;
  }

  /**
   * Runs `instantiate`, which creates tables of `elements` elements in all and places them,
   * counting them from the start; throws ResourceExhausted, running nothing, when they do not fit.
   */
  instantiating<T>(elements: number, instantiate: () => T): T {
    if (!(elements > 0)) return instantiate();
    const used = this.usedElements();
    if (this.limitElements !== undefined && used + elements > this.limitElements) {
      throw new ExecutorFailure({
        kind: 'ResourceExhausted',
        limit: 'sessionTableElements',
        message: `Tables of ${elements} elements do not fit: the session's tables hold ${used} of its ${this.limitElements}-element limit.`,
      });
    }
    this.instantiations++;
    this.unplaced += elements;
    try {
      return instantiate();
    } finally {
      this.instantiations--;
      // Once nothing is being instantiated, every table made is placed (or gone with a failure).
      this.unplaced = this.instantiations === 0 ? 0 : this.unplaced - elements;
    }
  }

  /** Counts the table placed at `addr` (replacing whatever was counted there). */
  place(addr: ExecutorAddr, table: WebAssembly.Table): void {
    this.tables.set(addr, table);
  }

  /** Stops counting the table at `addr` (its handle was released). */
  forget(addr: ExecutorAddr): void {
    this.tables.delete(addr);
  }

  /** What table.grow asks first: the delta to grow by, or -1 (an impossible delta) to refuse. */
  readonly grow = (delta: number): number => {
    if (this.limitElements === undefined) return delta;
    const wanted = delta >>> 0;
    if (this.usedElements() + wanted > this.limitElements) return -1;
    if (this.instantiations > 0) this.unplaced += wanted;
    return delta;
  };

  /** The hook as a wasm function (funcref tables hold only those), to place at TABLE_GROW_HOOK_ADDR. */
  hookFunction(): Function {
    return growHookFunction('table', this.grow);
  }
}
