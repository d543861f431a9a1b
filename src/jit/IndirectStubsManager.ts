// The IndirectStubsManager owns the session's stubs. A stub is a tiny wasm function that
// `call_indirect`s through its pointer slot in the session table; callers hold the stub's own
// slot as the function's address, so pointing the slot elsewhere (updatePointer, a `table.set`
// in the executor) redirects every caller at once. Stubs are named per dylib (a lazy reexport's
// symbol name) and belong to the ResourceKey that created them: removing that tracker forgets
// them (their addresses go back through ExecutorResources).

import type { JITDylib } from '../core/JITDylib.ts';
import type { ResourceKey, ResourceManager } from '../core/ResourceTracker.ts';
import type { ExecutorAddr } from '../core/SymbolDefinition.ts';
import type { Executor } from '../executor/Executor.ts';
import type { StubSpec } from '../executor/protocol.ts';
import type { FuncType } from '../wasm/index.ts';
import type { ExecutorResources } from './ExecutorResources.ts';

export interface StubInit {
  readonly name: string;
  readonly type: FuncType;
  /** The trampoline the stub's pointer leads to until updatePointer is called. */
  readonly callThroughId: number;
}

export interface Stub {
  readonly stubAddr: ExecutorAddr;
  readonly ptrAddr: ExecutorAddr;
}

export class IndirectStubsManager implements ResourceManager {
  private readonly executor: Executor;
  private readonly addresses: ExecutorResources;
  private readonly stubs = new Map<JITDylib, Map<string, Stub>>();
  private readonly byKey = new Map<ResourceKey, { jd: JITDylib; name: string }[]>();
  /**
   * Where a stub's pointer leads once the ops posted so far are applied, when this side put it
   * there (an updatePointer, or a body's instantiate placing the body in the slot): a repeat of
   * the same target is no op at all.
   */
  private readonly pointing = new WeakMap<Stub, ExecutorAddr>();
  /** Where failures of the executor ops nobody awaits go (ORC's reportError). */
  private readonly reportError: (err: unknown) => void;

  constructor(executor: Executor, addresses: ExecutorResources, reportError: (err: unknown) => void) {
    this.executor = executor;
    this.addresses = addresses;
    this.reportError = reportError;
  }

  /** Creates stubs in `jd`, owned by `key`, in one executor module; does not wait for the executor. */
  createStubs(jd: JITDylib, key: ResourceKey, inits: readonly StubInit[]): Map<string, Stub> {
    const specs: StubSpec[] = [];
    const created = new Map<string, Stub>();
    let named = this.stubs.get(jd);
    if (!named) this.stubs.set(jd, (named = new Map()));
    let owned = this.byKey.get(key);
    if (!owned) this.byKey.set(key, (owned = []));
    for (const init of inits) {
      const stub = { stubAddr: this.addresses.allocate(key, 'function'), ptrAddr: this.addresses.allocate(key, 'function') };
      named.set(init.name, stub);
      owned.push({ jd, name: init.name });
      created.set(init.name, stub);
      specs.push({ ...stub, callThroughId: init.callThroughId, type: init.type });
    }
    if (specs.length > 0) this.executor.apply({ op: 'createStubs', stubs: specs }).catch(this.reportError);
    return created;
  }

  findStub(jd: JITDylib, name: string): Stub | undefined {
    return this.stubs.get(jd)?.get(name);
  }

  /**
   * Points `name`'s stub at `target`: every later call through the stub goes straight there.
   * A call-through whose body was just compiled lands here with the address the body's own
   * instantiate already placed in the slot (WasmLinkingLayer): that sends nothing, rather than
   * one more op for the host process to relay and the waiting worker to wake for.
   */
  updatePointer(jd: JITDylib, name: string, target: ExecutorAddr): void {
    const stub = this.findStub(jd, name);
    if (!stub) throw new Error(`no stub named ${JSON.stringify(name)} in ${jd.name}`);
    if (this.pointing.get(stub) === target) return;
    this.pointing.set(stub, target);
    this.executor.apply({ op: 'updatePointer', ptrAddr: stub.ptrAddr, targetAddr: target }).catch((err: unknown) => {
      this.forgetPointing(stub, target);
      this.reportError(err);
    });
  }

  /** An op already posted (a body's instantiate) places `target` in `stub`'s pointer slot. */
  notePointing(stub: Stub, target: ExecutorAddr): void {
    this.pointing.set(stub, target);
  }

  /** That op failed: the slot holds whatever it held before. */
  forgetPointing(stub: Stub, target: ExecutorAddr): void {
    if (this.pointing.get(stub) === target) this.pointing.delete(stub);
  }

  async handleRemoveResources(_jd: JITDylib, key: ResourceKey): Promise<void> {
    for (const { jd, name } of this.byKey.get(key) ?? []) {
      const named = this.stubs.get(jd);
      named?.delete(name);
      if (named?.size === 0) this.stubs.delete(jd);
    }
    this.byKey.delete(key);
  }

  handleTransferResources(_jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void {
    const moved = this.byKey.get(srcKey);
    if (!moved) return;
    this.byKey.delete(srcKey);
    const dst = this.byKey.get(dstKey);
    if (dst) dst.push(...moved);
    else this.byKey.set(dstKey, moved);
  }
}
