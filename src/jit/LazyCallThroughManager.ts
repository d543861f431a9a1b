// The LazyCallThroughManager runs lazy call-throughs. Each lazy stub's pointer first leads to
// a trampoline carrying an id; when running code reaches it, the executor blocks that call and
// asks the JIT to resolve the id. The manager looks the body up in its implementation dylib
// (which extracts and compiles it, once, however many calls race), tells the reexport to
// patch its stub, and lets the call continue into the body.
//
// Why this cannot deadlock: the executor waits only for this answer, and producing it needs
// nothing from the executor. Everything resolving a body sends to the executor (instantiate,
// updatePointer) is only posted, never awaited; the executor applies it, in order, right after
// it wakes up and before it re-dispatches through the stub's pointer.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import type { JITDylib } from '../core/JITDylib.ts';
import type { ExecutorAddr } from '../executor/protocol.ts';

interface Trampoline {
  /** The dylib the trampoline belongs to, to forget it with that dylib. */
  readonly owner: JITDylib;
  /** Finds (materializing if need be) the address calls should continue to. */
  readonly resolve: () => Promise<ExecutorAddr>;
  readonly notifyResolved: (addr: ExecutorAddr) => void;
}

export class LazyCallThroughManager {
  private readonly session: ExecutionSession;
  private readonly trampolines = new Map<number, Trampoline>();
  private nextId = 1;

  constructor(session: ExecutionSession) {
    this.session = session;
  }

  /** Reserves a trampoline that resolves `name` in `jd` when first called. */
  getCallThroughTrampoline(jd: JITDylib, name: string, notifyResolved: (addr: ExecutorAddr) => void): number {
    const resolve = async () => (await this.session.lookupOne([{ jd, flags: 'MatchAllSymbols' }], name)).address;
    return this.getCustomTrampoline(jd, resolve, notifyResolved);
  }

  /** Reserves a trampoline that runs `resolve` when first called (e.g. a late-bound import). */
  getCustomTrampoline(owner: JITDylib, resolve: () => Promise<ExecutorAddr>, notifyResolved: (addr: ExecutorAddr) => void): number {
    const id = this.nextId++;
    this.trampolines.set(id, { owner, resolve, notifyResolved });
    return id;
  }

  /**
   * Reserves an id whose call runs `action` while the calling code waits, then lets it go on
   * where it was (the reoptimize hook): a call-through that repoints nothing itself.
   */
  getHook(owner: JITDylib, action: () => Promise<void>): number {
    const id = this.nextId++;
    this.trampolines.set(id, { owner, resolve: async () => (await action(), 0), notifyResolved: () => {} });
    return id;
  }

  /** Called by the executor from inside a running call. Resolves when the call may continue. */
  async callThrough(id: number): Promise<void> {
    const t = this.trampolines.get(id);
    if (!t) throw new Error(`call-through ${id} has no trampoline (its dylib was removed)`);
    t.notifyResolved(await t.resolve());
  }

  /** Forgets the trampolines of a removed dylib. */
  releaseFor(jd: JITDylib): void {
    for (const [id, t] of this.trampolines) if (t.owner === jd) this.trampolines.delete(id);
  }
}
