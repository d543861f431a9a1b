// The session's compiled-code budget: the bytes of wasm the session has compiled and linked
// (globals modules, extracted bodies, whole modules; anything that goes through the linking
// layer) and still holds. A piece that would take the total past the limit is not linked: the
// unit materializing it fails with ResourceExhausted, so a lazy body's first call fails (the
// stub stays, later calls fail the same way, as ORC fails a symbol whose materialization
// failed) and nothing else changes. A module's code goes back to the budget when its record is
// disposed (its dylib removed, or its add undone); a piece whose linking or instantiation
// fails gives its bytes back at once.

import { FailedToMaterialize, ResourceExhausted } from '../core/errors.ts';
import type { CompiledObject } from './WasmCompiler.ts';
import { WasmLinkingLayer, type LinkedPiece } from './WasmLinkingLayer.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export class CodeBudget {
  /** undefined: no cap. */
  readonly limitBytes: number | undefined;
  #used = 0;
  private readonly byRecord = new Map<WasmModuleRecord, number>();

  constructor(limitBytes: number | undefined) {
    this.limitBytes = limitBytes;
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** Counts `bytes` for `record`, or throws ResourceExhausted (counting nothing) if they do not fit. */
  charge(record: WasmModuleRecord, bytes: number, what: string): void {
    if (this.limitBytes !== undefined && this.#used + bytes > this.limitBytes) {
      throw new ResourceExhausted(
        'sessionCodeBytes',
        `Compiling ${what} takes ${bytes} bytes of code; the session holds ${this.#used} of its ${this.limitBytes}-byte limit.`,
      );
    }
    this.#used += bytes;
    this.byRecord.set(record, (this.byRecord.get(record) ?? 0) + bytes);
  }

  /** Gives back `bytes` charged to `record` (a piece that was not linked after all). */
  refund(record: WasmModuleRecord, bytes: number): void {
    const held = this.byRecord.get(record);
    if (held === undefined) return; // released with its record already
    const back = Math.min(held, bytes);
    this.#used -= back;
    if (held === back) this.byRecord.delete(record);
    else this.byRecord.set(record, held - back);
  }

  /** Gives back everything charged to `record`. */
  release(record: WasmModuleRecord): void {
    this.#used -= this.byRecord.get(record) ?? 0;
    this.byRecord.delete(record);
  }
}

/** The linking layer, charging every piece it links to the session's code budget first. */
export class BudgetedLinkingLayer extends WasmLinkingLayer {
  private readonly budget: CodeBudget;

  constructor(budget: CodeBudget, ...args: ConstructorParameters<typeof WasmLinkingLayer>) {
    super(...args);
    this.budget = budget;
  }

  override async link(record: WasmModuleRecord, piece: CompiledObject, label: string): Promise<LinkedPiece> {
    this.budget.charge(record, piece.size, label);
    let linked: LinkedPiece;
    try {
      linked = await super.link(record, piece, label);
    } catch (err) {
      this.budget.refund(record, piece.size);
      throw err;
    }
    linked.instantiated.catch(() => this.budget.refund(record, piece.size));
    return linked;
  }
}

/**
 * A call or lookup that failed because a body it needed hit a configured limit: the
 * ResourceExhausted itself (its message naming the symbol), so the caller sees the limit, not
 * a generic failure to materialize. Anything else is returned unchanged.
 */
export function limitHit(err: unknown): unknown {
  let cause = err;
  while (cause instanceof FailedToMaterialize) cause = cause.cause;
  if (!(cause instanceof ResourceExhausted) || cause === err) return err;
  return new ResourceExhausted(cause.limit, (err as Error).message);
}
