// The LazyCallThroughManager runs lazy call-throughs. Each lazy stub's pointer first leads to a
// trampoline carrying an id; when running code reaches it, the executor blocks that call and
// asks the JIT to resolve the id. The manager looks the body up in its implementation dylib
// (which compiles it, once, however many calls race), tells the reexport to patch its stub, and
// lets the call continue into the body. Trampolines belong to the ResourceKey of the definition
// that made them and are forgotten with it.
//
// Why this cannot deadlock: the executor waits only for this answer, and producing it needs
// nothing from the executor but the link ops it applies while it waits (see the executor's
// CallThroughClient): everything resolving a body sends to the executor is posted in order and
// applied before the trampoline re-dispatches through the stub's pointer.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { ResourceKey, ResourceManager } from '../core/ResourceTracker.ts';
import type { ExecutorAddr } from '../core/SymbolDefinition.ts';

interface Trampoline {
  readonly key: ResourceKey;
  /** Finds (materializing if need be) the address calls should continue to. */
  readonly resolve: () => Promise<ExecutorAddr>;
  readonly notifyResolved: (addr: ExecutorAddr) => void;
}

/** A call-through whose trampoline is gone: its module or dylib was removed. */
export class TrampolineRemoved extends Error {
  override readonly name = 'TrampolineRemoved';
}

export class LazyCallThroughManager implements ResourceManager {
  private readonly session: ExecutionSession;
  private readonly trampolines = new Map<number, Trampoline>();
  private readonly byKey = new Map<ResourceKey, number[]>();
  private nextId = 1;

  constructor(session: ExecutionSession) {
    this.session = session;
  }

  /** Reserves a trampoline, owned by `key`, that resolves `name` in `jd` when first called. */
  getCallThroughTrampoline(key: ResourceKey, jd: JITDylib, name: string, notifyResolved: (addr: ExecutorAddr) => void): number {
    const resolve = async () => (await this.session.lookupOne([{ jd, flags: 'MatchAllSymbols' }], name)).address;
    return this.getCustomTrampoline(key, resolve, notifyResolved);
  }

  /** Reserves a trampoline, owned by `key`, that runs `resolve` when called (e.g. a late-bound import). */
  getCustomTrampoline(key: ResourceKey, resolve: () => Promise<ExecutorAddr>, notifyResolved: (addr: ExecutorAddr) => void): number {
    const id = this.nextId++;
    this.trampolines.set(id, { key, resolve, notifyResolved });
    let ids = this.byKey.get(key);
    if (!ids) this.byKey.set(key, (ids = []));
    ids.push(id);
    return id;
  }

  /** Called by the executor from inside a running call. Resolves when the call may continue. */
  async callThrough(id: number): Promise<void> {
    const t = this.trampolines.get(id);
    if (!t) throw new TrampolineRemoved(`call-through ${id} has no trampoline: the module or dylib it led to was removed`);
    t.notifyResolved(await t.resolve());
  }

  async handleRemoveResources(_jd: JITDylib, key: ResourceKey): Promise<void> {
    for (const id of this.byKey.get(key) ?? []) this.trampolines.delete(id);
    this.byKey.delete(key);
  }

  handleTransferResources(_jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void {
    const moved = this.byKey.get(srcKey);
    if (!moved) return;
    this.byKey.delete(srcKey);
    for (const id of moved) {
      const t = this.trampolines.get(id);
      if (t) this.trampolines.set(id, { ...t, key: dstKey });
    }
    const dst = this.byKey.get(dstKey);
    if (dst) dst.push(...moved);
    else this.byKey.set(dstKey, moved);
  }
}
