// Wakes a freshly started server before timed runs: wat/warmup.wat's module and its host,
// driven through every kind of request the benchmarked workloads make (see that file for why),
// several rounds. One round is not enough: the compile thread's binaryen is itself wasm, and
// V8 tiers it up as it runs (on the loaded 2-core machine, SHA-256's service run took 2-4 s
// after one round, 0.4-0.7 s after five or ten). Each round's modules differ by a custom
// section, so a cache keyed by content cannot answer for binaryen. Each round's results must
// match the same workload run directly, in this process.

import { DirectTarget } from './direct.ts';
import { watModule } from './packages.ts';
import { ServiceError, ServiceTarget } from './service.ts';
import { invokeI32, type Json, type Setup, type Target } from './target.ts';

export const WARM_UP_ROUNDS = 5;

/** `bytes` with a custom section named "round" holding `round` appended (one-byte sizes suffice). */
function withRound(bytes: Uint8Array, round: number): Uint8Array {
  const payload = new TextEncoder().encode(`warm-up round ${round}`);
  const name = new TextEncoder().encode('round');
  const body = [name.length, ...name, ...payload];
  return new Uint8Array([...bytes, 0, body.length, ...body]);
}

/** The host's dylib is named the way newer wasm-bindgen names its import module (a path). */
const HOST = './warmup_bg.js';

function setup(round: number): Setup {
  return {
    dylibs: [{ name: HOST }, { name: 'warm', linkOrder: ['warm', HOST] }],
    modules: [
      { dylib: 'warm', name: 'warmup', bytes: withRound(watModule('warmup'), round) },
      { dylib: HOST, name: 'warmup-host', bytes: withRound(watModule('warmup-host'), round) },
    ],
  };
}

async function workload(t: Target): Promise<Json> {
  await t.writeMemory('warm', 'mem', 4096, new Uint8Array(256).map((_, i) => i));
  const sum = await invokeI32(t, 'warm', 'sum', [4096, 256]);
  // 1,500 entries of $step pass the default re-optimization threshold (1,000).
  const run = await invokeI32(t, 'warm', 'run', [1500]);
  const grow = await invokeI32(t, 'warm', 'grow');
  const wide = await invokeI32(t, 'warm', 'wide', [0x12345]);
  const poke = await invokeI32(t, 'warm', 'viaHost', [8000]);
  const stored = Array.from(await t.readMemory('warm', 'mem', 1024, 16));
  const greeting = new TextDecoder().decode(await t.readMemory('warm', 'mem', 64, 7));
  const counter = await t.readGlobal('warm', 'counter');
  return { sum, run, grow, wide, poke, stored, greeting, counter };
}

/** Runs the warm-up on the server at `port`; its dylibs are gone afterwards. */
export async function warmUp(port: number, rounds = WARM_UP_ROUNDS): Promise<void> {
  const want = JSON.stringify(await workload(new DirectTarget(setup(0))));
  const t = new ServiceTarget(port);
  try {
    for (let round = 0; round < rounds; round++) {
      await t.setUp(setup(round));
      const got = JSON.stringify(await workload(t));
      if (got !== want) throw new ServiceError(`warm-up round ${round} gave ${got}, directly ${want}`);
      await t.deleteDylib('warm');
      await t.deleteDylib(HOST);
    }
  } finally {
    t.close();
  }
}
