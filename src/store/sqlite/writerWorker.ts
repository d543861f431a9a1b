// The SQLite writer thread: owns the file's one writing connection and runs StoreCore's write
// methods for the main thread, one at a time. It exists because node:sqlite is synchronous and
// a durable commit waits for an fsync. Measured here (2 loaded cores; two runs, side by side):
// on the main thread the longest event-loop stall during a write was 7-12 ms for a small row,
// 45-70 ms for a 1 MiB module and 450-750 ms for a 16 MiB one; through this thread it was
// 12-20 ms at 1 MiB and 150-210 ms at 16 MiB, which is what copying the bytes into the message
// costs, and small writes were lost in the noise. A checkpoint (tens of ms) also lands here.
// Invokes take about 1 ms, so on the main thread every write would stall every request.

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
