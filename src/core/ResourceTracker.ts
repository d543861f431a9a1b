// ResourceTracker and ResourceManager, as in ORC since LLVM 12: the one way to remove, or hand
// over, everything the JIT made for a set of definitions.
//
// Every definition in a JITDylib belongs to one ResourceTracker of that dylib: the dylib's
// default tracker, or one made with `JITDylib.createResourceTracker()` and passed to `define`.
// Symbols a materialization adds, hands back or passes on stay with the tracker of the
// definition it materializes. Anything that holds resources for definitions (compiled code,
// instances, addresses, stubs, budgets) registers with the session as a ResourceManager and
// records what it made under the ResourceKey of the responsibility it made it for
// (`MaterializationResponsibility.withResourceKeyDo`).
//
// `tracker.remove()` then removes the tracker's symbols from its dylib and asks every manager to
// release what it recorded under that key; `tracker.transferTo(dst)` moves the symbols to `dst`
// and asks every manager to re-file its records under `dst`'s key. Either way the tracker
// becomes defunct: nothing more can be defined or recorded under it, and a materialization
// still running for it finds out with ResourceTrackerDefunct the next time it reports a result.

import type { JITDylib, SymbolTableEntry } from './JITDylib.ts';

/**
 * What a ResourceManager keys its records by. It is the tracker object itself: a manager keeps a
 * `Map<ResourceKey, ...>` and deletes the key's entry when the key is removed or transferred.
 */
export type ResourceKey = ResourceTracker;

/**
 * Listens for ResourceTracker operations (ORC's ResourceManager). Register with
 * `ExecutionSession.registerResourceManager`.
 *
 * Every registered manager is told about every tracker that is removed or transferred, whether
 * it recorded anything under that tracker's key or not: a manager looks its records up by key
 * and does nothing when it has none. Managers are called in reverse order of registration, so
 * a manager registered later (a layer built on top of another) releases its resources before
 * the ones it was built on.
 */
export interface ResourceManager {
  /**
   * Releases everything recorded under `key`, a tracker of `jd` that has just been removed. Its
   * symbols are already gone from `jd`, and nothing new can be recorded under it. The removal
   * waits for the returned promise; a throw or rejection is reported to the session
   * (ExecutionSession.reportError) and does not stop the other managers.
   */
  handleRemoveResources(jd: JITDylib, key: ResourceKey): Promise<void>;
  /**
   * Re-files everything recorded under `srcKey` under `dstKey` (both trackers of `jd`). Runs
   * synchronously, as part of `transferTo`; a throw is reported and does not stop the others.
   */
  handleTransferResources(jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void;
}

type TrackerState =
  | { readonly kind: 'live' }
  | { readonly kind: 'removed'; readonly done: Promise<void> }
  | { readonly kind: 'transferred'; readonly to: ResourceTracker };

let nextTrackerId = 1;

/**
 * API to remove or transfer ownership of JIT resources (ORC's ResourceTracker). Belongs to one
 * JITDylib for its whole life. Once removed or transferred it is defunct, for good.
 */
export class ResourceTracker {
  readonly jd: JITDylib;
  /** Unique in the process; only for messages and dumps. */
  readonly id: number;
  #state: TrackerState = { kind: 'live' };
  /**
   * @internal The symbol table entries defined under this tracker, kept by its dylib. Entries
   * later removed from the table one by one stay here until the dylib compacts the list, which
   * it skips them in; an array rather than a Set because a Set costs a hash per entry, which
   * doubled the cost of defining a symbol.
   */
  entries: SymbolTableEntry[] = [];
  /** @internal How many of `entries` have left the table since the list was last compacted. */
  staleEntries = 0;

  /** @internal Use JITDylib.getDefaultResourceTracker or createResourceTracker. */
  constructor(jd: JITDylib) {
    this.jd = jd;
    this.id = nextTrackerId++;
  }

  /** True once the tracker was removed or transferred: nothing can be defined or recorded under it. */
  get isDefunct(): boolean {
    return this.#state.kind !== 'live';
  }

  /** True once `remove()` was called (a transferred tracker is defunct but not removed). */
  get isRemoved(): boolean {
    return this.#state.kind === 'removed';
  }

  /**
   * Removes every symbol of this tracker from its dylib, then has every resource manager release
   * what it recorded under this tracker (see ExecutionSession.removeResourceTracker). The
   * tracker is defunct as soon as this is called; the promise settles once every manager is
   * done, and never rejects (managers' errors are reported to the session). Removing a tracker
   * again returns the first removal's promise; removing a transferred one does nothing, as its
   * resources now belong to the tracker it was transferred to.
   */
  remove(): Promise<void> {
    return this.jd.session.removeResourceTracker(this);
  }

  /**
   * Moves every symbol and every manager's records of this tracker to `dst`, which must belong
   * to the same dylib. This tracker becomes defunct; responsibilities still running for it carry
   * on under `dst`. Transferring a tracker to itself does nothing.
   */
  transferTo(dst: ResourceTracker): void {
    this.jd.session.transferResourceTracker(dst, this);
  }

  /**
   * The tracker that now stands for this one: itself, or, after transfers, the tracker its
   * resources ended up with. A responsibility's key is always this one.
   */
  get current(): ResourceTracker {
    let t: ResourceTracker = this;
    while (t.#state.kind === 'transferred') t = t.#state.to;
    return t;
  }

  /** @internal The promise of the removal under way or done, if any. */
  get removal(): Promise<void> | undefined {
    return this.#state.kind === 'removed' ? this.#state.done : undefined;
  }

  /** @internal */
  markRemoved(done: Promise<void>): void {
    this.#state = { kind: 'removed', done };
  }

  /** @internal */
  markTransferredTo(to: ResourceTracker): void {
    this.#state = { kind: 'transferred', to };
  }

  toString(): string {
    return `resource tracker #${this.id} of "${this.jd.name}"`;
  }
}

/**
 * An operation needed a tracker that has been removed or transferred (ORC's
 * ResourceTrackerDefunct): defining under it, recording a resource under it, or a
 * materialization for it resolving or emitting symbols that are gone. An internal signal, not
 * a user-facing error: whoever gets it releases what it made for the tracker and stops.
 */
export class ResourceTrackerDefunct extends Error {
  readonly tracker: ResourceTracker;
  constructor(tracker: ResourceTracker) {
    super(
      tracker.isRemoved
        ? `The ${tracker} was removed: its definitions are gone.`
        : `The ${tracker} was transferred to another tracker and can no longer be used.`,
    );
    this.name = 'ResourceTrackerDefunct';
    this.tracker = tracker;
  }
}
