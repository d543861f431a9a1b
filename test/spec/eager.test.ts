// Conformance, eagerly: every spec script through the JIT with each module added eagerly (one
// whole-module piece, compiled on first lookup, at optimize level 0: the byte-level path).
// binaryen's whole-module optimization is checked against every spec module at the wasm layer
// (test/wasm/spec.test.ts); lazy adds are checked over HTTP (http.test.ts).

import t from 'tap';
import { compareWithDirect } from './compareWithDirect.ts';
import { JITTarget } from './JITTarget.ts';

t.test('spec scripts through the JIT, eagerly', async (t) => {
  await compareWithDirect(t, 'eager', () => JITTarget.create({ lazy: false, optimize: 0 }));
});
