// The two stores on SQLite. A file: writes in the writer thread (see writerWorker.ts for why),
// reads here on a read-only connection, which WAL mode lets read the last committed state while
// the writer works, without a thread hop: the per-request lookups (a key by its hash, a code
// cache entry) are single indexed reads that take tens of microseconds. Memory: one private
// in-memory connection for both, where commits wait for no disk.

import { BufferedStore } from '../BufferedStore.ts';
import { StoreCore } from '../sql/StoreCore.ts';
import type { Store, StoreOptions } from '../Store.ts';
import { openMemoryDatabase, openReaderDatabase } from './openSqliteDatabase.ts';
import { WriterClient } from './WriterClient.ts';

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export async function openSqliteFileStore(path: string, opts: StoreOptions): Promise<Store> {
  const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const writer = await WriterClient.start({ path, busyTimeoutMs });
  let reader;
  try {
    reader = openReaderDatabase(path, busyTimeoutMs);
  } catch (err) {
    await writer.close();
    throw err;
  }
  const db = reader;
  return new BufferedStore('sqlite', new StoreCore(db), writer.writes, opts, async () => {
    await db.close();
    await writer.close();
  });
}

export async function openMemoryStore(opts: StoreOptions): Promise<Store> {
  const db = await openMemoryDatabase();
  const core = new StoreCore(db);
  return new BufferedStore('memory', core, core, opts, () => db.close());
}
