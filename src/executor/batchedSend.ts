// Coalesces the messages one side of a host's IPC channel sends during one turn of the event
// loop into one IPC message (an array, in order). A call costs the host two events (activity,
// response) and ten sessions' calls often finish in the same turn: one serialization and one
// write instead of many is most of what the relay costs. The batch goes out in the same turn's
// check phase (setImmediate), so nothing waits for a timer.

export class BatchedSend<T> {
  private readonly write: (batch: T[]) => void;
  private queue: T[] = [];
  private scheduled = false;
  private held = false;

  /** `held`: queue without sending until release() (e.g. until the other side listens). */
  constructor(write: (batch: T[]) => void, opts: { held?: boolean } = {}) {
    this.write = write;
    this.held = opts.held ?? false;
  }

  push(msg: T): void {
    this.queue.push(msg);
    if (!this.scheduled && !this.held) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  release(): void {
    this.held = false;
    this.flush();
  }

  /** Drops what is queued (the other side is gone). */
  discard(): void {
    this.queue = [];
  }

  private flush(): void {
    this.scheduled = false;
    if (this.held || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.write(batch);
  }
}
