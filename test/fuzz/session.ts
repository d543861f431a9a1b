// What the session defines, from GET /dump?format=json, reduced to what a refused request must
// not change: the dylibs, their link orders, symbol names and modules. Comparing a snapshot
// before and after a refusal checks API.md's "nothing of that request is defined".

import { type Api, shorten } from './api.ts';

/** One dylib's definitions; `text` is all of them, comparable as a whole. */
export interface DylibDefinitions {
  readonly text: string;
  readonly symbols: readonly string[];
  readonly modules: readonly string[];
}

/** dylib name -> its definitions. */
export type Snapshot = ReadonlyMap<string, DylibDefinitions>;

export async function snapshot(api: Api): Promise<Snapshot> {
  const reply = await api.get('/dump?format=json');
  if (reply.status !== 200) throw new Error(`GET /dump?format=json answered ${reply.status}: ${shorten(reply.text)}`);
  const dump = reply.body as { dylibs: { name: string; linkOrder: string[]; symbols: { name: string }[]; modules: { id: string }[] }[] };
  return new Map(
    dump.dylibs.map((d) => {
      const symbols = d.symbols.map((s) => s.name).sort();
      const modules = d.modules.map((m) => m.id);
      return [d.name, { text: JSON.stringify({ linkOrder: d.linkOrder, symbols, modules }), symbols, modules }];
    }),
  );
}

/**
 * The one documented exception to "a refused add defines nothing" (README, How it works): a
 * lazy add whose instantiation trapped keeps, in <dylib>.impl, the bodies whose stubs may have
 * escaped through what the module imports (a table, a funcref global, a function taking a
 * funcref), as wasm keeps what a failed instantiation stored. Counted and reported as a
 * comment; anything else a refusal changes fails the test.
 */
export const KNOWN = {
  escapedBodies: 'a lazy add refused by a trap kept the bodies whose stubs may have escaped through its imports',
} as const;

export type KnownBug = keyof typeof KNOWN;

/** Refusals that come after the module's instantiation ran (only these may keep bodies). */
const INSTANTIATION_RAN = new Set(['Trap', 'StackOverflow', 'ExecutionTimeout']);

export interface Differences {
  /** Changes nothing explains: test failures. */
  readonly unexpected: string[];
  /** Changes the documented exception explains, with an example each. */
  readonly known: { readonly bug: KnownBug; readonly example: string }[];
}

/** How the refused request was refused, for recognizing the documented exception. */
export interface Refusal {
  readonly what: string;
  /** Set for a module add: whether it was lazy. */
  readonly lazyAdd?: boolean;
  readonly code: string;
}

export function differences(before: Snapshot, after: Snapshot, refusal: Refusal): Differences {
  const out: Differences = { unexpected: [], known: [] };
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const [b, a] = [before.get(name), after.get(name)];
    if (b?.text === a?.text) continue;
    const example = `${refusal.code} for ${refusal.what} changed ${name}: ${b?.text ?? '(absent)'} -> ${a?.text ?? '(absent)'}`;
    const impl = name.endsWith('.impl') && refusal.lazyAdd === true;
    if (impl && INSTANTIATION_RAN.has(refusal.code) && a && grewOnly(b, a)) out.known.push({ bug: 'escapedBodies', example });
    else out.unexpected.push(example);
  }
  return out;
}

/** `after` has everything `before` had (nothing was taken away), plus more. */
function grewOnly(before: DylibDefinitions | undefined, after: DylibDefinitions): boolean {
  if (!before) return true;
  return before.symbols.every((s) => after.symbols.includes(s)) && before.modules.every((m) => after.modules.includes(m));
}

/** Counts of sightings of the documented exception, with the first example, for one comment each. */
export class KnownBugLog {
  readonly seen = new Map<KnownBug, { count: number; example: string }>();
  add(d: Pick<Differences, 'known'>): void {
    for (const { bug, example } of d.known) this.note(bug, example);
  }

  note(bug: KnownBug, example: string): void {
    const entry = this.seen.get(bug);
    if (entry) entry.count++;
    else this.seen.set(bug, { count: 1, example });
  }
}
