// The modules of a session, as a ResourceManager: a module is known from its add until every
// tracker that owns its definitions has been removed (its module removed, its dylib removed, or
// its add undone), and is listed in its target dylib's module list unless its add failed.

import type { JITDylib } from '../core/JITDylib.ts';
import type { ResourceKey, ResourceManager } from '../core/ResourceTracker.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

export class ModuleRegistry implements ResourceManager {
  private readonly byId = new Map<string, WasmModuleRecord>();
  private readonly byKey = new Map<ResourceKey, WasmModuleRecord>();

  add(record: WasmModuleRecord): void {
    this.byId.set(record.id, record);
    for (const t of record.trackers()) this.byKey.set(t, record);
  }

  /** The module a tracker's definitions belong to, if it is a module's. */
  byTracker(key: ResourceKey): WasmModuleRecord | undefined {
    return this.byKey.get(key);
  }

  get(id: string): WasmModuleRecord | undefined {
    return this.byId.get(id);
  }

  /** The modules added to `jd` (and not removed), in the order they were added. */
  modulesOf(jd: JITDylib): WasmModuleRecord[] {
    return [...this.byId.values()].filter((r) => r.targetJD === jd && !r.hidden);
  }

  get size(): number {
    return this.byId.size;
  }

  all(): IterableIterator<WasmModuleRecord> {
    return this.byId.values();
  }

  async handleRemoveResources(_jd: JITDylib, key: ResourceKey): Promise<void> {
    const record = this.byKey.get(key);
    if (!record) return;
    this.byKey.delete(key);
    if (record.trackers().every((t) => t.isDefunct)) this.byId.delete(record.id);
  }

  handleTransferResources(_jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void {
    const record = this.byKey.get(srcKey);
    if (!record) return;
    this.byKey.delete(srcKey);
    this.byKey.set(dstKey, record);
  }
}
