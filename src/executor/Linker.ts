// Worker side of linking: applies LinkOps to the session's address space. Instantiation binds
// each import to the object at its address and places each export at its address; stubs and
// trampolines come from one generated module per createStubs; updatePointer repoints a slot;
// createMemory makes a module's memory, counted against the session's memory budget; the tables
// an instantiation defines are counted against the session's table budget, from before the
// module is compiled until their handles are released.
// Any failure throws (ExecutorFailure or the engine's error) and places nothing.

import type { ExternKind } from '../wasm/types.ts';
import { ExecutorFailure } from './failures.ts';
import type { MemoryBudget } from './memoryBudget.ts';
import type { ExecutorAddr, LinkOp } from './protocol.ts';
import type { SessionSpace } from './SessionSpace.ts';
import type { TableBudget } from './tableBudget.ts';
import { buildStubModule, stubExportName, trampolineExportName } from './stubModule.ts';

type DataCtor = typeof WebAssembly.Global | typeof WebAssembly.Memory | typeof WebAssembly.Table;
const DATA_CLASS: Readonly<Record<Exclude<ExternKind, 'function'>, DataCtor>> = {
  global: WebAssembly.Global,
  memory: WebAssembly.Memory,
  table: WebAssembly.Table,
};

export class Linker {
  private readonly space: SessionSpace;
  private readonly resolve: (callThroughId: number) => void;
  private readonly memoryBudget: MemoryBudget;
  private readonly tableBudget: TableBudget;
  /** callThroughId -> where its trampoline sits, to tell whether it has been resolved. */
  private readonly trampolines = new Map<number, { readonly ptrAddr: ExecutorAddr; readonly fn: unknown }>();
  private readonly trampolineAtPtr = new Map<ExecutorAddr, number>();

  constructor(space: SessionSpace, resolve: (callThroughId: number) => void, memoryBudget: MemoryBudget, tableBudget: TableBudget) {
    this.space = space;
    this.resolve = resolve;
    this.memoryBudget = memoryBudget;
    this.tableBudget = tableBudget;
  }

  isResolved(callThroughId: number): boolean {
    const t = this.trampolines.get(callThroughId);
    return t !== undefined && this.space.functionAt(t.ptrAddr) !== t.fn;
  }

  apply(op: LinkOp): void {
    switch (op.op) {
      case 'instantiate':
        return this.tableBudget.instantiating(op.tableElements, () => this.instantiate(op));
      case 'createStubs':
        return this.createStubs(op);
      case 'updatePointer': {
        const target = this.space.functionAt(op.targetAddr);
        if (target === null) throw ExecutorFailure.link(`updatePointer: address ${op.targetAddr} holds no function`);
        this.space.placeFunction(op.ptrAddr, target);
        return;
      }
      case 'runStart': {
        const start = this.space.functionAt(op.addr);
        if (typeof start !== 'function') throw ExecutorFailure.link(`${op.label}: address ${op.addr} holds no function to start`);
        (start as () => unknown)();
        return;
      }
      case 'createMemory':
        this.space.placeData(op.addr, this.memoryBudget.create(op.addr, op.type));
        return;
      case 'release':
        for (const addr of op.addrs) {
          this.space.release(addr);
          this.memoryBudget.forget(addr);
          this.tableBudget.forget(addr);
          const id = this.trampolineAtPtr.get(addr);
          if (id !== undefined) {
            this.trampolineAtPtr.delete(addr);
            this.trampolines.delete(id);
          }
        }
        return;
    }
  }

  private instantiate(op: Extract<LinkOp, { op: 'instantiate' }>): void {
    const imports: Record<string, Record<string, unknown>> = {};
    for (const b of op.imports) {
      const value = b.kind === 'function' ? this.space.functionAt(b.addr) : this.space.dataAt(b.addr);
      const fits = b.kind === 'function' ? value !== null : value instanceof DATA_CLASS[b.kind];
      if (!fits) {
        throw ExecutorFailure.link(
          `${op.label}: import ${JSON.stringify(b.module)} ${JSON.stringify(b.name)} is bound to address ${b.addr}, which holds no ${b.kind}`,
        );
      }
      (imports[b.module] ??= {})[b.name] = value;
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(op.bytes as Uint8Array<ArrayBuffer>);
    } catch (err) {
      // The JIT produced a piece V8 refuses: a bug in the JIT, reported as a failed link.
      throw ExecutorFailure.link(`${op.label}: the piece does not compile: ${err instanceof Error ? err.message : String(err)}`);
    }
    const instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);

    // Check every placement before making any, so a bad one places nothing.
    const placed = op.exports.map((p) => {
      const value = instance.exports[p.name];
      const fits = p.kind === 'function' ? typeof value === 'function' : value instanceof DATA_CLASS[p.kind];
      if (!fits) throw ExecutorFailure.link(`${op.label}: the instance has no ${p.kind} export named ${JSON.stringify(p.name)}`);
      return { p, value: value as object };
    });
    for (const { p, value } of placed) {
      if (p.kind === 'function') {
        this.space.placeFunction(p.addr, value);
        continue;
      }
      this.space.placeData(p.addr, value);
      if (value instanceof WebAssembly.Table) this.tableBudget.place(p.addr, value);
      else this.tableBudget.forget(p.addr);
    }
  }

  private createStubs(op: Extract<LinkOp, { op: 'createStubs' }>): void {
    const module = new WebAssembly.Module(buildStubModule(op.stubs) as BufferSource);
    const instance = new WebAssembly.Instance(module, {
      env: { table: this.space.table, resolve: (id: number) => this.resolve(id) },
    });
    op.stubs.forEach((s, i) => {
      const trampoline = instance.exports[trampolineExportName(i)];
      this.space.placeFunction(s.stubAddr, instance.exports[stubExportName(i)]);
      this.space.placeFunction(s.ptrAddr, trampoline);
      this.trampolines.set(s.callThroughId, { ptrAddr: s.ptrAddr, fn: trampoline });
      this.trampolineAtPtr.set(s.ptrAddr, s.callThroughId);
    });
  }
}
