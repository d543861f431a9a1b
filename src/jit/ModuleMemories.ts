// Main side of the session's linear-memory budget. The memory a module defines is created by
// the executor when the module is added (LinkOp createMemory), at a handle the module's record
// owns, before any of the module's code is compiled: the executor refuses it with
// ResourceExhausted when its initial pages do not fit, and the add then defines nothing. Every
// piece of the module imports that memory (src/wasm/sessionPiece.ts); the executor counts it
// until its handle is released.
//
// A memory can be imported by other modules, of this dylib or others; they hold the same
// memory object. So a memory's handle is released (and its pages given back) only once no
// live module record refers to it: removing the dylib that defined it while another dylib's
// module still imports it keeps it counted until that module goes too. The same holds for the
// tables and globals a live module imports: its bodies, compiled lazily later, link against
// them, as a wasm instance keeps its imports alive. Records are the only holders that matter:
// a reexport or alias of the entity in another dylib keeps its address, but nothing can link
// to it once the handle is released (the linker checks).

import type { Executor } from '../executor/Executor.ts';
import type { ExecutorAddr } from '../executor/protocol.ts';
import type { AddressSpace } from './AddressSpace.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

const MEMORY_0 = { kind: 'memory', index: 0 } as const;

export class ModuleMemories {
  private readonly executor: Executor;
  private readonly addresses: AddressSpace;
  /** Handles of memories whose defining module is gone but that another live module imports. */
  private readonly deferred = new Set<ExecutorAddr>();

  constructor(executor: Executor, addresses: AddressSpace) {
    this.executor = executor;
    this.addresses = addresses;
  }

  /**
   * Creates the memory `record`'s module defines, if any, and records its handle as the
   * module's memory 0. Throws ResourceExhausted when it does not fit the session's budget;
   * then nothing is allocated.
   */
  async create(record: WasmModuleRecord): Promise<void> {
    const memory = record.parsed.info.memories.find((m) => !m.imported);
    if (!memory) return;
    const addr = this.addresses.allocate('memory');
    try {
      await this.executor.apply({ op: 'createMemory', addr, type: memory.type });
    } catch (err) {
      this.addresses.release([addr]);
      throw err;
    }
    record.setAddress(MEMORY_0, addr);
    record.allocated.push(addr);
  }

  /**
   * Of `released` (addresses of removed records) and the handles waiting from earlier, those
   * to release now: everything but the memories, tables and globals some record in `live`
   * still refers to, which wait for a later call.
   */
  releasable(released: readonly ExecutorAddr[], live: Iterable<WasmModuleRecord>): ExecutorAddr[] {
    const inUse = new Set<ExecutorAddr>();
    for (const r of live) {
      const addr = r.address(MEMORY_0);
      if (addr !== undefined) inUse.add(addr);
      for (const a of r.importedDataAddresses()) inUse.add(a);
    }
    const now: ExecutorAddr[] = [];
    for (const addr of new Set([...released, ...this.deferred])) {
      if (inUse.has(addr)) {
        this.deferred.add(addr);
      } else {
        this.deferred.delete(addr);
        now.push(addr);
      }
    }
    return now;
  }
}
