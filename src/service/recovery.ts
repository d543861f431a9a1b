// Recovery: a tenant's definitions, as the store kept them, defined again in a fresh session, in
// the order they were made. Lazily and without the executor: modules are added as they were
// (same ids, their memory, table and global imports bound to what they resolved to then), no
// function body is compiled and nothing is instantiated; the executor replays every link op in
// order (memories, globals modules, start functions) when the tenant's first call starts it, so
// runtime state is what instantiating the modules again produces. Records the store kept although
// they were removed (something imported from them) are defined and removed again at their place
// in the order, so what imported from them finds it as it did.

import type { DefinitionRecord, Store } from '../store/Store.ts';
import type { TenantSession } from './TenantSession.ts';

export interface RecoveryCounts {
  dylibs: number;
  modules: number;
  reexports: number;
}

type Event =
  | { readonly seq: number; readonly define: DefinitionRecord }
  | { readonly seq: number; readonly remove: DefinitionRecord };

export async function recoverTenant(
  session: TenantSession,
  store: Store,
  onProgress: (counts: RecoveryCounts) => void = () => {},
): Promise<RecoveryCounts> {
  const records = await store.loadDefinitions(session.tenant);
  const events: Event[] = [];
  for (const r of records) {
    events.push({ seq: r.seq, define: r });
    if (r.removed && r.removedSeq !== undefined) events.push({ seq: r.removedSeq, remove: r });
  }
  // A definition before its removal at the same seq (cannot happen, but a removal must never come first).
  events.sort((a, b) => a.seq - b.seq || ('define' in a ? -1 : 1));

  const counts: RecoveryCounts = { dylibs: 0, modules: 0, reexports: 0 };
  const blobs = new Map<string, Uint8Array>();
  const jit = session.jit;
  // Nothing runs during recovery: the executor logs what to do and does it, in order, when the
  // tenant's first request starts it.
  jit.executor.deferStart = true;
  try {
    await replay(session, store, events, records, counts, blobs, onProgress);
  } finally {
    jit.executor.deferStart = false;
  }
  onProgress({ ...counts });
  return counts;
}

async function replay(
  session: TenantSession,
  store: Store,
  events: readonly Event[],
  records: readonly DefinitionRecord[],
  counts: RecoveryCounts,
  blobs: Map<string, Uint8Array>,
  onProgress: (counts: RecoveryCounts) => void,
): Promise<void> {
  const jit = session.jit;
  for (const e of events) {
    if ('define' in e) {
      const r = e.define;
      switch (r.kind) {
        case 'dylib':
          session.restoredDylib(jit.createDylib(r.name), r.seq);
          counts.dylibs++;
          break;
        case 'module': {
          let bytes = blobs.get(r.hash);
          if (!bytes) {
            bytes = await store.loadBlob(r.hash);
            if (!bytes) throw new Error(`the store has no bytes for module ${r.id} of tenant ${session.tenant} (hash ${r.hash})`);
            blobs.set(r.hash, bytes);
          }
          await jit.addModule(r.dylib, { wasm: bytes }, {
            lazy: r.lazy,
            optimize: r.optimize,
            name: r.name,
            restore: { id: r.id, bindings: r.bindings },
          });
          counts.modules++;
          break;
        }
        case 'reexports':
          await jit.addReexports(r.dylib, r.from, new Map(Object.entries(r.aliases)), r.lazy);
          counts.reexports++;
          break;
      }
      if ((counts.dylibs + counts.modules + counts.reexports) % 100 === 0) onProgress({ ...counts });
      continue;
    }
    // A removal the store kept the record of: remove it again, and keep knowing it as kept.
    const r = e.remove;
    if (r.kind === 'dylib') {
      const jd = jit.session.getJITDylibByName(r.name);
      if (jd) session.restoredKeptDylib(jd, r.seq);
      if (jd) await jit.removeDylib(r.name);
    } else if (r.kind === 'module') {
      const jd = jit.session.getJITDylibByName(r.dylib);
      // Removed with its dylib: that removal (at the same place) takes it.
      if (!jd) continue;
      const record = jit.modulesOf(jd).find((m) => m.id === r.id);
      if (!record) continue;
      session.restoredKeptModule(record);
      await jit.removeModule(r.dylib, r.id);
    }
  }

  // Link orders last: they are stored as they are now, naming dylibs that may come later in
  // the order; a name of a dylib removed since is dropped (its removal dropped it everywhere).
  for (const r of records) {
    if (r.kind !== 'dylib' || r.removed) continue;
    const names = r.linkOrder.filter((n) => n !== r.name && jit.session.getJITDylibByName(n) !== undefined);
    jit.setLinkOrder(r.name, [r.name, ...names]);
  }
}
