// The IndirectStubsManager owns the stubs of one dylib. A stub is a tiny wasm function that
// `call_indirect`s through its pointer slot in the session table; callers hold the stub's own
// slot as the function's address, so pointing the slot elsewhere (updatePointer, a
// `table.set` in the executor) redirects every caller at once.

import type { Executor } from '../executor/Executor.ts';
import type { ExecutorAddr, StubSpec } from '../executor/protocol.ts';
import type { FuncType } from '../wasm/types.ts';
import type { AddressSpace } from './AddressSpace.ts';

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

export class IndirectStubsManager {
  private readonly executor: Executor;
  private readonly addresses: AddressSpace;
  private readonly stubs = new Map<string, Stub>();
  /** Where failures of the executor ops nobody awaits go (ORC's reportError). */
  private readonly reportError: (err: unknown) => void;

  constructor(executor: Executor, addresses: AddressSpace, reportError: (err: unknown) => void) {
    this.executor = executor;
    this.addresses = addresses;
    this.reportError = reportError;
  }

  /** Creates stubs in one executor module. Does not wait for the executor (see LazyCallThroughManager). */
  createStubs(inits: readonly StubInit[]): Map<string, Stub> {
    const specs: StubSpec[] = [];
    const created = new Map<string, Stub>();
    for (const init of inits) {
      const stub = { stubAddr: this.addresses.allocate('function'), ptrAddr: this.addresses.allocate('function') };
      this.stubs.set(init.name, stub);
      created.set(init.name, stub);
      specs.push({ ...stub, callThroughId: init.callThroughId, type: init.type });
    }
    if (specs.length > 0) this.executor.apply({ op: 'createStubs', stubs: specs }).catch(this.reportError);
    return created;
  }

  findStub(name: string): Stub | undefined {
    return this.stubs.get(name);
  }

  /** Points `name`'s stub at `target`: every later call through the stub goes straight there. */
  updatePointer(name: string, target: ExecutorAddr): void {
    const stub = this.stubs.get(name);
    if (!stub) throw new Error(`no stub named ${JSON.stringify(name)}`);
    this.executor.apply({ op: 'updatePointer', ptrAddr: stub.ptrAddr, targetAddr: target }).catch(this.reportError);
  }

  /** Forgets the named stubs; returns their addresses, for the executor to release. */
  release(names: Iterable<string>): ExecutorAddr[] {
    const addrs: ExecutorAddr[] = [];
    for (const name of names) {
      const stub = this.stubs.get(name);
      if (stub === undefined) continue;
      this.stubs.delete(name);
      addrs.push(stub.stubAddr, stub.ptrAddr);
    }
    return addrs;
  }

  /** Every address this manager allocated, to release with its dylib. */
  allocatedAddresses(): ExecutorAddr[] {
    return [...this.stubs.values()].flatMap((s) => [s.stubAddr, s.ptrAddr]);
  }
}
