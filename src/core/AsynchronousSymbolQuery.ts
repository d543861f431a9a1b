// An AsynchronousSymbolQuery is one pending lookup: the symbols it waits for, the state they
// must reach, and the promise it settles once all have reached it, or once one has failed.

import type { SymbolTableEntry } from './JITDylib.ts';
import type { ExecutorSymbolDef } from './SymbolDefinition.ts';
import type { SymbolState } from './SymbolFlags.ts';

/** Lookup results keyed by the name that was looked up. */
export type LookupResult = Map<string, ExecutorSymbolDef & { readonly entry: SymbolTableEntry }>;

export class AsynchronousSymbolQuery {
  readonly requiredState: SymbolState;
  private readonly waiting = new Set<SymbolTableEntry>();
  private readonly result: LookupResult = new Map();
  private readonly resolve: (r: LookupResult) => void;
  private readonly reject: (e: unknown) => void;
  private settled = false;

  constructor(requiredState: SymbolState, resolve: (r: LookupResult) => void, reject: (e: unknown) => void) {
    this.requiredState = requiredState;
    this.resolve = resolve;
    this.reject = reject;
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /** Registers an entry this query still waits for. */
  wait(entry: SymbolTableEntry): void {
    this.waiting.add(entry);
    entry.addPendingQuery(this);
  }

  /** Records an entry that has reached the required state. */
  satisfy(entry: SymbolTableEntry): void {
    if (this.settled) return;
    this.waiting.delete(entry);
    entry.deletePendingQuery(this);
    this.result.set(entry.name, { address: entry.address ?? 0, flags: entry.flags, entry });
  }

  /** Settles the query if nothing is left to wait for. */
  maybeComplete(): void {
    if (this.settled || this.waiting.size > 0) return;
    this.settled = true;
    this.resolve(this.result);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    for (const e of this.waiting) e.deletePendingQuery(this);
    this.waiting.clear();
    this.reject(error);
  }
}
