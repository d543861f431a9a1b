// The SQLite writer thread: owns the file's one writing connection and runs StoreCore's write
// methods for the main thread, one at a time. It exists because a durable commit waits for an
// fsync: measured here, 5 ms for a small row, 40 ms for a 1 MiB module and over a second for a
// 32 MiB one, and a checkpoint adds tens of ms now and then. On the main thread that would stall
// every request (invokes take about 1 ms); here it stalls only other writes, which queue anyway.

import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors.ts';
import { StoreCore, WRITE_METHODS } from '../sql/StoreCore.ts';
import { openWriterDatabase } from './openSqliteDatabase.ts';
import type { WriterInit, WriterReply, WriterRequest } from './writerProtocol.ts';

const port = parentPort;
if (!port) throw new Error('writerWorker.ts runs as a worker thread');
const post = (reply: WriterReply) => port.postMessage(reply);
const init = workerData as WriterInit;

try {
  const db = await openWriterDatabase(init.path, init.busyTimeoutMs);
  const core = new StoreCore(db);
  const known = new Set<string>(WRITE_METHODS);
  port.on('message', (req: WriterRequest) => {
    if (req.type === 'close') {
      void db.close().finally(() => {
        post({ type: 'closed' });
        port.close();
      });
      return;
    }
    if (!known.has(req.method)) {
      post({ type: 'error', id: req.id, error: serializeError(new Error(`unknown store method ${req.method}`)) });
      return;
    }
    const method = core[req.method] as (...args: readonly unknown[]) => Promise<unknown>;
    method.apply(core, [...req.args]).then(
      (value) => post({ type: 'result', id: req.id, value }),
      (err: unknown) => post({ type: 'error', id: req.id, error: serializeError(err) }),
    );
  });
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'failed', error: serializeError(err) });
  port.close();
}
