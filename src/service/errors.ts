// Errors the service facade raises itself, in the JIT's error vocabulary (src/core/errors.ts),
// for failures the layers below report only as plain errors.

import { JITError } from '../core/errors.ts';

/**
 * A memory read or write outside the memory's current size: the request's offset and length
 * do not fit, so it is the client's error (400), not the server's. The executor reports this
 * as a plain RangeError (src/executor/errors.ts, OutOfBounds), which would otherwise be a 500.
 */
export class MemoryOutOfRange extends JITError {
  readonly code = 'BadRequest';
  readonly memory: string;
  readonly offset: number;
  readonly length: number | undefined;
  constructor(memory: string, offset: number, length: number | undefined, cause: string) {
    super(`Memory ${JSON.stringify(memory)}: ${cause}.`);
    this.memory = memory;
    this.offset = offset;
    this.length = length;
  }
  override details() {
    return { memory: this.memory, offset: this.offset, ...(this.length === undefined ? {} : { length: this.length }) };
  }
}
