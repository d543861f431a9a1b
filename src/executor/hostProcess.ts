// An executor host: a child process (started by ExecutorHostPool with child_process.fork) that
// holds the worker threads of several sessions, so that V8 aborting a process when a worker runs
// out of heap (nodejs/node#47224) takes down only the sessions of this host, never the server.
//
// It is a relay and nothing more: each connection the parent opens is a WorkerConnection here,
// which owns the worker's SharedArrayBuffer and wakes the worker after every op and call-through
// answer exactly as it does in the server's own process. This thread never blocks, so a worker
// blocked in a call-through always gets its ops and its answer.

import { BatchedSend } from './batchedSend.ts';
import type { ExecutorConnection } from './ExecutorConnection.ts';
import type { FromHost, ToHost } from './hostProtocol.ts';
import { WorkerConnection } from './WorkerConnection.ts';

if (process.send === undefined) throw new Error('hostProcess.ts must be started with an IPC channel (child_process.fork)');

const outbox = new BatchedSend<FromHost>((batch) => {
  // After a disconnect the process is on its way out; nothing is listening any more.
  if (process.connected) process.send?.(batch);
});
const send = (msg: FromHost): void => outbox.push(msg);

const connections = new Map<number, ExecutorConnection>();

function open(conn: number, msg: Extract<ToHost, { t: 'open' }>): void {
  const connection = new WorkerConnection({
    ...msg.settings,
    onEvent: (ev) => send({ t: 'event', conn, ev }),
    onDeath: (err) => {
      connections.delete(conn);
      const code = (err as { code?: unknown }).code;
      send({ t: 'death', conn, message: err.message, code: typeof code === 'string' ? code : undefined });
    },
  });
  connections.set(conn, connection);
}

function dispose(conn: number): void {
  const connection = connections.get(conn);
  connections.delete(conn);
  if (connection === undefined) {
    send({ t: 'disposed', conn });
    return;
  }
  void connection.dispose().then(
    () => send({ t: 'disposed', conn }),
    () => send({ t: 'disposed', conn }),
  );
}

function receive(msg: ToHost): void {
  // A connection missing here has died (its death is on the way to the parent) or was disposed:
  // what was sent to it meanwhile has nobody to go to.
  switch (msg.t) {
    case 'open':
      return open(msg.conn, msg);
    case 'op':
      return connections.get(msg.conn)?.postOp(msg.op);
    case 'request':
      return connections.get(msg.conn)?.postRequest(msg.req);
    case 'answer':
      return connections.get(msg.conn)?.answer(msg.answer);
    case 'dispose':
      return dispose(msg.conn);
  }
}

process.on('message', (batch: ToHost[]) => {
  for (const msg of batch) receive(msg);
});

// The parent is gone (closed the pool, exited or was killed): so are all our sessions.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group; the server decides when its hosts stop (by closing
// the pool or exiting), so that a host does not die, and get replaced, while the server shuts down.
process.on('SIGINT', () => {});

send({ t: 'hello', pid: process.pid });
