// Runs async jobs one after another, in the order they were queued: a tenant's changes are made
// in the JIT and written to the store in one order, the one recovery replays. A job that fails
// does not stop the ones after it.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
