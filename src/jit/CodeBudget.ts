// The session's compiled-code budget: the bytes of wasm the session has compiled and linked
// (globals modules, baseline pieces, optimized pieces, whole modules: anything that goes through
// the linking layer) and still holds. A piece that would take the total past the limit is not
// linked: the unit materializing it fails with ResourceExhausted, so a lazy body's first call
// fails (the stub stays, later calls fail the same way, as ORC keeps a failed symbol failed)
// and nothing else changes. Bytes are counted under the ResourceKey of the tracker whose
// definition compiled them and come back when that tracker is removed.

import { FailedToMaterialize, ResourceExhausted } from '../core/errors.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { ResourceKey, ResourceManager } from '../core/ResourceTracker.ts';

export class CodeBudget implements ResourceManager {
  /** undefined: no cap. Changing it keeps what is compiled and applies to what is compiled next. */
  limitBytes: number | undefined;
  #used = 0;
  private readonly byKey = new Map<ResourceKey, number>();

  constructor(limitBytes: number | undefined) {
    this.limitBytes = limitBytes;
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** Counts `bytes` for `key`, or throws ResourceExhausted (counting nothing) if they do not fit. */
  charge(key: ResourceKey, bytes: number, what: string): void {
    if (this.limitBytes !== undefined && this.#used + bytes > this.limitBytes) {
      throw new ResourceExhausted(
        'sessionCodeBytes',
        `Compiling ${what} takes ${bytes} bytes of code; the session holds ${this.#used} of its ${this.limitBytes}-byte limit.`,
      );
    }
    this.#used += bytes;
    this.byKey.set(key, (this.byKey.get(key) ?? 0) + bytes);
  }

  /** Gives back `bytes` charged to `key` (a piece that was not linked after all). */
  refund(key: ResourceKey, bytes: number): void {
    const held = this.byKey.get(key);
    if (held === undefined) return;
    const back = Math.min(held, bytes);
    this.#used -= back;
    if (held === back) this.byKey.delete(key);
    else this.byKey.set(key, held - back);
  }

  async handleRemoveResources(_jd: JITDylib, key: ResourceKey): Promise<void> {
    this.#used -= this.byKey.get(key) ?? 0;
    this.byKey.delete(key);
  }

  handleTransferResources(_jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void {
    const moved = this.byKey.get(srcKey);
    if (moved === undefined) return;
    this.byKey.delete(srcKey);
    this.byKey.set(dstKey, (this.byKey.get(dstKey) ?? 0) + moved);
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
