// Byte-level mutations of valid module binaries, the way a careless or hostile client would
// corrupt them: flipped bits, overwritten, inserted and deleted bytes, duplicated or truncated
// ranges, and bytes that make a LEB128 length or count huge.

import type { Prng } from './prng.ts';

type Mutation = (rng: Prng, b: number[]) => void;

const at = (rng: Prng, b: number[]) => rng.below(Math.max(1, b.length));

const MUTATIONS: readonly Mutation[] = [
  // Flip one bit.
  (rng, b) => {
    const i = at(rng, b);
    b[i] = (b[i] ?? 0) ^ (1 << rng.below(8));
  },
  // Overwrite a byte, often with a value that means something in the binary format.
  (rng, b) => {
    b[at(rng, b)] = rng.chance(0.5) ? rng.pick([0x00, 0x01, 0x7f, 0x80, 0xff, 0x0b, 0x41, 0x60, 0x70, 0x6f, 0x7b]) : rng.below(256);
  },
  // Insert a few random bytes.
  (rng, b) => {
    b.splice(at(rng, b), 0, ...rng.bytes(rng.between(1, 8)));
  },
  // Delete a short range.
  (rng, b) => {
    b.splice(at(rng, b), rng.between(1, 8));
  },
  // Duplicate a range in place (repeated sections, entries, instructions).
  (rng, b) => {
    const start = at(rng, b);
    const range = b.slice(start, start + rng.between(1, 32));
    b.splice(at(rng, b), 0, ...range);
  },
  // Truncate.
  (rng, b) => {
    b.length = at(rng, b);
  },
  // A maximal 5-byte LEB128 where a length or count might be.
  (rng, b) => {
    b.splice(at(rng, b), 1, 0xff, 0xff, 0xff, 0xff, 0x0f);
  },
];

/**
 * A copy of `bytes` with random mutations. Half the mutants get a single flipped bit, which
 * often still validates (a constant, an offset, a name changed) and so reaches the linker and
 * the executor; the others get 1 to 4 mutations of any kind. The header is left alone half
 * the time.
 */
export function mutate(rng: Prng, bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const b = [...bytes];
  const header = rng.chance(0.5) ? b.splice(0, 8) : [];
  if (rng.chance(0.5)) {
    MUTATIONS[0]!(rng, b);
  } else {
    const n = rng.between(1, 4);
    for (let i = 0; i < n; i++) rng.pick(MUTATIONS)(rng, b);
  }
  return new Uint8Array([...header, ...b]);
}
