// Parent side of one executor host process: starts it (child_process.fork of hostProcess.ts),
// routes messages between it and its connections, keeps the last lines it wrote to stderr, and
// when it ends for any reason tells every connection on it, with an error that says how it ended
// and whether V8 reported heap exhaustion.

import { fork, type ChildProcess } from 'node:child_process';
import { BatchedSend } from './batchedSend.ts';
import type { ConnectionOptions, ExecutorConnection } from './ExecutorConnection.ts';
import { HostedConnection } from './HostedConnection.ts';
import { ExecutorHostDied, ExecutorWorkerDied, mentionsHeapExhaustion } from './hostErrors.ts';
import type { FromHost, ToHost } from './hostProtocol.ts';

export interface ExecutorHostOptions {
  /** Node flags of the host process (and so of its workers). */
  readonly execArgv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Lines of stderr kept for the error that reports the host's death. */
  readonly stderrLines: number;
  /** Passes the host's stderr on to this process's stderr, each line prefixed with the host's pid. */
  readonly echoStderr: boolean;
  /** The host ended (after its connections were told). */
  readonly onEnd: (host: ExecutorHost) => void;
}

const HOST_SCRIPT = new URL('./hostProcess.ts', import.meta.url);

export class ExecutorHost {
  private readonly child: ChildProcess;
  private readonly opts: ExecutorHostOptions;
  private readonly connections = new Map<number, HostedConnection>();
  private nextConnection = 1;
  /** Held until the host says hello (it may not listen before). */
  private readonly outbox: BatchedSend<ToHost>;
  private readonly tail: string[] = [];
  private partialLine = '';
  private heapExhausted = false;
  private ended = false;
  /** Set by close(): what connections still open are told instead of "the host died". */
  private closing: Error | null = null;
  private readonly closed: Promise<void>;
  private spawnError: Error | undefined;

  constructor(opts: ExecutorHostOptions) {
    this.opts = opts;
    this.outbox = new BatchedSend<ToHost>(
      (batch) => {
        if (this.child.connected) this.child.send(batch);
      },
      { held: true },
    );
    this.child = fork(HOST_SCRIPT, [], {
      execPath: process.execPath,
      execArgv: [...opts.execArgv],
      env: { ...opts.env },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child.on('message', (batch: FromHost[]) => {
      for (const msg of batch) this.onMessage(msg);
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => this.onStderr(chunk));
    this.closed = new Promise<void>((resolve) => {
      // After 'exit' and the end of stderr, so that V8's last words are read. Not the child's
      // 'close' event: it never comes when this side closed the IPC channel (Node 24).
      let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
      let stderrDone = this.child.stderr === null;
      const finish = (): void => {
        if (exit === null || !stderrDone) return;
        this.end(exit.code, exit.signal);
        resolve();
      };
      this.child.stderr?.on('close', () => {
        stderrDone = true;
        finish();
      });
      this.child.on('exit', (code, signal) => {
        exit = { code, signal };
        finish();
        // Whatever holds the pipe open, the host is gone.
        setTimeout(() => {
          stderrDone = true;
          finish();
        }, 1000).unref();
      });
      this.child.on('error', (err) => {
        // No pid: the process never started, and no 'exit' follows.
        if (this.child.pid === undefined) {
          this.spawnError = err;
          exit = { code: null, signal: null };
          stderrDone = true;
          finish();
        }
      });
    });
    this.updateRef();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isAlive(): boolean {
    return !this.ended && this.closing === null;
  }

  /** Connections neither disposed nor dead. */
  get load(): number {
    let n = 0;
    for (const c of this.connections.values()) if (c.isLive) n++;
    return n;
  }

  open(opts: ConnectionOptions): ExecutorConnection {
    const id = this.nextConnection++;
    const conn = new HostedConnection(id, this.child.pid, (msg) => this.send(msg), {
      ...opts,
      onDeath: (err) => {
        this.forget(id);
        opts.onDeath(err);
      },
    });
    this.connections.set(id, conn);
    this.updateRef();
    return conn;
  }

  /**
   * Stops the host: it exits when its IPC channel closes; after `graceMs` it is killed. Its open
   * connections report `reason` as their death.
   */
  close(reason: Error, graceMs: number): Promise<void> {
    if (this.closing === null && !this.ended) {
      this.closing = reason;
      this.updateRef();
      if (this.child.connected) this.child.disconnect();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      void this.closed.then(() => clearTimeout(timer));
    }
    return this.closed;
  }

  private send(msg: ToHost): void {
    if (this.ended || this.closing !== null) return;
    this.outbox.push(msg);
  }

  private onMessage(msg: FromHost): void {
    if (msg.t === 'hello') return this.outbox.release();
    const conn = this.connections.get(msg.conn);
    if (conn === undefined) return;
    switch (msg.t) {
      case 'event':
        return conn.deliver(msg.ev);
      case 'death':
        this.forget(msg.conn);
        return conn.died(new ExecutorWorkerDied(msg.message, msg.code));
      case 'disposed':
        this.forget(msg.conn);
        return conn.disposedByHost();
    }
  }

  private forget(id: number): void {
    this.connections.delete(id);
    this.updateRef();
  }

  private onStderr(chunk: string): void {
    const lines = (this.partialLine + chunk).split('\n');
    this.partialLine = lines.pop() ?? '';
    for (const line of lines) this.keepLine(line);
  }

  private keepLine(line: string): void {
    if (mentionsHeapExhaustion(line)) this.heapExhausted = true;
    this.tail.push(line);
    if (this.tail.length > this.opts.stderrLines) this.tail.shift();
    if (this.opts.echoStderr) process.stderr.write(`[executor host ${this.child.pid ?? '?'}] ${line}\n`);
  }

  private end(exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return;
    this.ended = true;
    this.outbox.discard();
    if (this.partialLine !== '') this.keepLine(this.partialLine);
    this.partialLine = '';
    const error =
      this.closing ??
      new ExecutorHostDied({
        pid: this.child.pid,
        exitCode,
        signal,
        stderrTail: [...this.tail],
        heapExhausted: this.heapExhausted,
        cause: this.spawnError,
      });
    const connections = [...this.connections.values()];
    this.connections.clear();
    for (const c of connections) c.died(error);
    this.opts.onEnd(this);
  }

  /**
   * A host with no live connection does not keep this process running (a pool left open does
   * not hang a process that is otherwise done); it exits with its parent either way.
   */
  private updateRef(): void {
    // A connection waiting for its dispose to be confirmed counts, and so does closing: both
    // wait for the host to answer or end.
    const busy = (this.connections.size > 0 || this.closing !== null) && !this.ended;
    const handles: { ref?: () => unknown; unref?: () => unknown }[] = [this.child];
    if (this.child.channel) handles.push(this.child.channel);
    if (this.child.stderr) handles.push(this.child.stderr as { ref?: () => unknown; unref?: () => unknown });
    for (const h of handles) (busy ? h.ref : h.unref)?.call(h);
  }
}
