// The executor's address space as the JIT hands it out, and the ResourceManager that gives it
// back. A callable's address is its slot in the session-wide funcref table; memories, tables
// and globals get handles in their own range. The JIT allocates every address itself (so
// resolving a symbol never waits for the executor) and records each under the ResourceKey of
// the tracker whose definition made it; removing that tracker releases them in the executor.
//
// Two rules come from wasm itself:
// - No address is handed out twice. A stub of a removed module may still be imported by another
//   instance, and a call through it must find an empty slot, not someone else's function; a
//   lazily added module links its bodies long after its imports resolved, against addresses it
//   knew then. Released addresses are remembered, so a linker can tell a stale one from a live one.
// - A memory, table or global lives as long as some live code uses it: an instance keeps its
//   imports alive. So a data handle whose owner is removed while another tracker's module still
//   imports it stays until that module goes too.

import type { JITDylib } from '../core/JITDylib.ts';
import type { ResourceKey, ResourceManager } from '../core/ResourceTracker.ts';
import type { ExecutorAddr } from '../core/SymbolDefinition.ts';
import type { Executor } from '../executor/Executor.ts';
import { DATA_HANDLE_BASE } from '../executor/protocol.ts';
import type { ExternKind } from '../wasm/index.ts';

interface Held {
  /** Addresses made for this key's definitions. */
  readonly owned: ExecutorAddr[];
  /** Data handles of other keys that this key's code imports (keeps them alive). */
  readonly uses: Set<ExecutorAddr>;
}

export class ExecutorResources implements ResourceManager {
  private readonly executor: Executor;
  private nextSlot: number;
  private nextHandle: number;
  private readonly released = new Set<ExecutorAddr>();
  private readonly held = new Map<ResourceKey, Held>();
  /** Data handles whose owner is gone but that some live key still uses. */
  private readonly deferred = new Set<ExecutorAddr>();
  private readonly reportError: (err: unknown) => void;

  /** `firstSlot`/`firstHandle`: the first addresses not taken by the executor's own symbols. */
  constructor(executor: Executor, firstSlot: number, firstHandle: number, reportError: (err: unknown) => void) {
    this.executor = executor;
    this.nextSlot = firstSlot;
    this.nextHandle = Math.max(firstHandle, DATA_HANDLE_BASE);
    this.reportError = reportError;
  }

  /** A fresh address for an entity of `kind`, owned by `key`. */
  allocate(key: ResourceKey, kind: ExternKind): ExecutorAddr {
    const addr = kind === 'function' ? this.nextSlot++ : this.nextHandle++;
    this.heldBy(key).owned.push(addr);
    return addr;
  }

  /** `key`'s code imports the data entity at `addr` (made by another key): keep it while `key` lives. */
  noteUse(key: ResourceKey, addr: ExecutorAddr): void {
    if (addr >= DATA_HANDLE_BASE) this.heldBy(key).uses.add(addr);
  }

  /** Whether `addr` was handed out and released since (what it held is gone). */
  isReleased(addr: ExecutorAddr): boolean {
    return this.released.has(addr);
  }

  /** Table slots handed out so far, for metrics. */
  get slotsUsed(): number {
    return this.nextSlot;
  }

  async handleRemoveResources(_jd: JITDylib, key: ResourceKey): Promise<void> {
    const held = this.held.get(key);
    if (held === undefined) return;
    this.held.delete(key);
    const inUse = new Set<ExecutorAddr>();
    for (const h of this.held.values()) for (const a of h.uses) inUse.add(a);
    const now: ExecutorAddr[] = [];
    for (const addr of new Set([...held.owned, ...this.deferred])) {
      if (inUse.has(addr) && addr >= DATA_HANDLE_BASE) {
        this.deferred.add(addr);
      } else {
        this.deferred.delete(addr);
        now.push(addr);
      }
    }
    if (now.length === 0) return;
    for (const a of now) this.released.add(a);
    const released = this.executor.apply({ op: 'release', addrs: now }).catch((err: unknown) => {
      // A closed executor has nothing left to release.
      if (!(err instanceof Error && err.message === 'The executor is closed.')) this.reportError(err);
    });
    // During recovery the executor only logs ops, for the worker that the tenant's first request
    // starts: waiting for this one would wait for a worker nobody starts (and hang recovery).
    if (!this.executor.deferStart) await released;
  }

  handleTransferResources(_jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void {
    const src = this.held.get(srcKey);
    if (src === undefined) return;
    this.held.delete(srcKey);
    const dst = this.heldBy(dstKey);
    dst.owned.push(...src.owned);
    for (const a of src.uses) dst.uses.add(a);
  }

  private heldBy(key: ResourceKey): Held {
    let h = this.held.get(key);
    if (h === undefined) this.held.set(key, (h = { owned: [], uses: new Set() }));
    return h;
  }
}
