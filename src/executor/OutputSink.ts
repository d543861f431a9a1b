// Collects the lines printed through spectest during one top-level activity (an invoke, or a
// link op's start function). Capped, so a chatty loop cannot exhaust the worker's heap: lines
// past the cap are counted and reported in one final line.
//
// Lines are kept in fixed-size chunks rather than one growing array: near the worker's heap
// limit Node allows only 16 MB of extra allocation before it aborts the whole process, and a
// doubling array's reallocation can exceed that; small chunks make running out of memory here a
// clean worker exit (ResourceExhausted) instead.

const CHUNK = 4096;

export class OutputSink {
  private readonly max: number;
  private readonly chunks: string[][] = [];
  private count = 0;
  private dropped = 0;

  constructor(maxLines: number) {
    this.max = maxLines;
  }

  push(line: string): void {
    if (this.count >= this.max) {
      this.dropped++;
      return;
    }
    let last = this.chunks[this.chunks.length - 1];
    if (last === undefined || last.length === CHUNK) this.chunks.push((last = []));
    last.push(line);
    this.count++;
  }

  lines(): string[] {
    const all = this.chunks.flat();
    if (this.dropped > 0) all.push(`[${this.dropped} more lines not kept]`);
    return all;
  }
}
