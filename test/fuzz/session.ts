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
 * Known deviations from "defines nothing", found by this fuzz test in src/jit (which this
 * test may not change). They are reported as TODO failures, with counts, rather than hidden;
 * anything else a refusal changes fails the test.
 */
export const KNOWN = {
  implLeftovers:
    'a lazy add refused after its globals module was linked (a trapping start function, an import that ' +
    'resolves nowhere) leaves the bodies that got stubs (the start function among them) and the module ' +
    'record in <dylib>.impl (LazyJIT.undoAdd keeps every body that has a stub)',
  emptyImpl:
    'a refused lazy add leaves a new, empty <dylib>.impl dylib behind (LazyJIT.addModule creates it before the add can fail)',
  staleImport:
    'calling a lazy function whose module imported from a since-removed dylib answers 500 Internal "call-through N was ' +
    'resolved, but its pointer slot still holds the trampoline": the body is linked to the import address cached at add, ' +
    'which the removal released; the executor refuses the link, and that error only reaches the log',
} as const;

/** Recognizes a 5xx answer caused by a known bug; undefined for any other answer. */
export function known5xx(status: number, text: string): KnownBug | undefined {
  if (status === 500 && /call-through \d+ was resolved, but its pointer slot still holds the trampoline/.test(text)) return 'staleImport';
  return undefined;
}
export type KnownBug = keyof typeof KNOWN;

export interface Differences {
  /** Changes nothing explains: test failures. */
  readonly unexpected: string[];
  /** Changes explained by a known bug, with an example each. */
  readonly known: { readonly bug: KnownBug; readonly example: string }[];
}

/** How the refused request was refused, for recognizing the known bugs. */
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
    if (impl && !b && a && a.symbols.length === 0 && a.modules.length === 0) out.known.push({ bug: 'emptyImpl', example });
    else if (impl && a && grewOnly(b, a)) out.known.push({ bug: 'implLeftovers', example });
    else out.unexpected.push(example);
  }
  return out;
}

/** `after` has everything `before` had (nothing was taken away), plus more. */
function grewOnly(before: DylibDefinitions | undefined, after: DylibDefinitions): boolean {
  if (!before) return true;
  return before.symbols.every((s) => after.symbols.includes(s)) && before.modules.every((m) => after.modules.includes(m));
}

/** Counts of known-bug sightings, with the first example of each, for one TODO line per bug. */
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
