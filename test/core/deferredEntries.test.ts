// A unit of many symbols defined into a JITDylib gets its entries made as they are touched
// (JITDylib's header): each test checks that the table behaves exactly as if every entry had been
// made at `define`, and that untouched symbols really have no entry.

import t from 'tap';
import { DuplicateDefinition, FailedToMaterialize, SymbolsNotFound } from '../../src/core/errors.ts';
import { DEFER_ENTRIES_AT, type JITDylib } from '../../src/core/JITDylib.ts';
import type { MaterializationResponsibility } from '../../src/core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../../src/core/MaterializationUnit.ts';
import type { SymbolInterface } from '../../src/core/SymbolDefinition.ts';
import { SymbolState } from '../../src/core/SymbolFlags.ts';
import { exported, iface, parkedUnit, settle, setup, SimpleMaterializationUnit, track, weak } from './helpers.ts';

const N = DEFER_ENTRIES_AT + 44;
const names = (prefix: string, n = N) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Which of `jd`'s symbols have entries, without making any. */
function made(jd: JITDylib): string[] {
  const out: string[] = [];
  jd.forEachDefinition((name, _info, entry) => {
    if (entry !== undefined) out.push(name);
  });
  return out;
}

/**
 * Materializes every symbol it is asked for at address 1000 + i; splitting off `f<i>` also takes
 * `f<i+1>` (a partition reaching further than what was asked for), as the bodies unit does.
 */
class PairsUnit extends MaterializationUnit {
  readonly runs: string[][];
  readonly discarded: string[] = [];
  constructor(symbols: ReadonlyMap<string, SymbolInterface>, runs: string[][] = []) {
    super(symbols);
    this.runs = runs;
  }
  get name(): string {
    return '<Pairs>';
  }
  override splitOff(requested: ReadonlySet<string>): PairsUnit {
    const part = new Map<string, SymbolInterface>();
    for (const n of requested) {
      const next = `f${Number(n.slice(1)) + 1}`;
      for (const m of [n, next]) {
        const info = this.symbols.get(m);
        if (info === undefined) continue;
        part.set(m, info);
        this.symbols.delete(m);
      }
    }
    return new PairsUnit(part, this.runs);
  }
  materialize(r: MaterializationResponsibility): void {
    const mine = [...r.getSymbols().keys()];
    this.runs.push(mine);
    r.notifyResolved(new Map(mine.map((n) => [n, { address: 1000 + Number(n.slice(1)), flags: exported }])));
    r.notifyEmitted(new Map([[r.targetJD, mine]]));
  }
  protected override discard(_jd: JITDylib, name: string): void {
    this.discarded.push(name);
  }
}

/** The names a DuplicateDefinition thrown by `fn` reports. */
function duplicates(fn: () => void): string[] | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof DuplicateDefinition) return [...e.symbols];
    throw e;
  }
  return undefined;
}

function pairs(n = N) {
  return new PairsUnit(new Map(names('f', n).map((name) => [name, iface()])));
}

t.test('a large unit defines every name but makes an entry only for what is touched', async (t) => {
  const { es, jd } = setup();
  const unit = pairs();
  jd.define(unit);
  t.same(made(jd), [], 'no entry after define');
  t.ok(jd.has('f7') && jd.has(`f${N - 1}`), 'every name is defined');
  t.notOk(jd.has(`f${N}`), 'and nothing else');
  t.equal(jd.entry('f3')?.state, SymbolState.NeverSearched, 'entry() makes one, NeverSearched');
  t.same(made(jd), ['f3'], 'only that one');

  const r = await es.lookup(jd.getLinkOrder(), ['f10']);
  t.equal(r.get('f10')?.address, 1010);
  t.same(unit.runs, [['f10', 'f11']], 'the lookup split f10 and the f11 it takes along off the unit');
  t.same(made(jd).sort(), ['f10', 'f11', 'f3'], 'f11, which nobody looked up, got its entry with the split');
  t.equal(jd.entry('f11')?.state, SymbolState.Ready, 'and was materialized with f10');
  const again = await es.lookup(jd.getLinkOrder(), ['f11']);
  t.equal(again.get('f11')?.address, 1011);
  t.equal(unit.runs.length, 1, 'so looking it up materializes nothing more');

  const all = [...jd.symbols()];
  t.equal(all.length, N, 'symbols() lists every symbol once');
  t.same(new Set(all.map((e) => e.name)), new Set(names('f')));
  t.same(made(jd).length, N, 'having made them all');
  t.equal(jd.entry('f100')?.state, SymbolState.NeverSearched);
});

t.test('a unit below the threshold gets its entries at define', async (t) => {
  const { jd } = setup();
  jd.define(pairs(DEFER_ENTRIES_AT - 1));
  t.equal(made(jd).length, DEFER_ENTRIES_AT - 1);
});

t.test('clashes with deferred names are DuplicateDefinitions, and define nothing', async (t) => {
  const { es, jd } = setup();
  jd.define(pairs());
  const { unit: small } = parkedUnit({ x: exported, f20: exported });
  t.same(duplicates(() => jd.define(small)), ['f20']);
  t.notOk(jd.has('x'), 'x was not defined');
  const big = new SimpleMaterializationUnit(Object.fromEntries(names('g').concat('f5').map((n) => [n, exported])), () => {});
  t.same(duplicates(() => jd.define(big)), ['f5'], 'a large unit too');
  t.notOk(jd.has('g0'));
  t.throws(() => jd.checkCanDefine(['f200']), DuplicateDefinition);
  t.same(made(jd), [], 'checking made no entry');
  // A large unit going into a dylib with fewer symbols walks the dylib's names, deferred ones too.
  const other = es.createJITDylib('other');
  other.define(pairs(DEFER_ENTRIES_AT));
  const bigger = new SimpleMaterializationUnit(Object.fromEntries(names('h', 2 * N).concat('f9', 'f2').map((n) => [n, exported])), () => {});
  t.same(duplicates(() => other.define(bigger)), ['f9', 'f2'], 'both clashes, in the definition order');
});

t.test('a strong definition overrides an unsearched deferred weak one, which its unit discards', async (t) => {
  const { es, jd } = setup();
  const discarded: string[] = [];
  const never = () => {
    t.fail('the weak unit never runs');
  };
  const weakUnit = new SimpleMaterializationUnit(Object.fromEntries(names('w').map((n) => [n, weak])), never, (_jd, n) => discarded.push(n));
  jd.define(weakUnit);
  jd.define(parkedUnit({ w4: exported }).unit);
  t.same(discarded, ['w4']);
  t.notOk(weakUnit.symbols.has('w4'));
  const q = track(es.lookup(jd.getLinkOrder(), ['w4']));
  await settle();
  t.equal(q.done, false, 'w4 now waits on the strong unit');
});

t.test('remove() takes deferred names out; a removed name is not made again', async (t) => {
  const { es, jd } = setup();
  const unit = pairs();
  jd.define(unit);
  jd.remove(['f30', 'f31']);
  t.notOk(jd.has('f30'));
  t.equal(jd.entry('f30'), undefined);
  t.same(unit.discarded, ['f30', 'f31'], 'the unit discarded them');
  await t.rejects(es.lookup(jd.getLinkOrder(), ['f30']), SymbolsNotFound);
  t.throws(() => jd.remove(['f30']), SymbolsNotFound);
  t.equal([...jd.symbols()].length, N - 2);
});

t.test('removing a tracker drops its deferred symbols unmade and fails what waits on made ones', async (t) => {
  const { es, jd } = setup();
  const rt = jd.createResourceTracker();
  const { unit: parked } = parkedUnit(Object.fromEntries(names('p').map((n) => [n, exported])));
  jd.define(parked, rt);
  jd.define(pairs(), jd.createResourceTracker());
  const waiting = track(es.lookup(jd.getLinkOrder(), ['p1']));
  await settle();
  await rt.remove();
  await settle();
  t.ok(waiting.error instanceof FailedToMaterialize, 'the lookup waiting on p1 failed');
  t.notOk(jd.has('p2'), 'untouched symbols of the tracker are gone');
  t.ok(jd.has('f2'), "the other tracker's are not");
  t.same(made(jd), [], "and the other tracker's were not made");
  t.equal([...jd.symbols()].length, N);
});

t.test("transferring a tracker moves its deferred symbols: removing the destination removes them", async (t) => {
  const { jd } = setup();
  const src = jd.createResourceTracker();
  const dst = jd.createResourceTracker();
  jd.define(pairs(), src);
  jd.entry('f0');
  jd.session.transferResourceTracker(dst, src);
  t.equal(jd.entry('f1')?.tracker, dst, 'an entry made after the transfer belongs to the destination');
  t.equal(jd.entry('f0')?.tracker, dst, 'as does one made before');
  await dst.remove();
  t.ok(jd.isEmpty);
});

t.test('forEachDefinition reports deferred symbols as they are, with no entry', async (t) => {
  const { jd } = setup();
  jd.define(pairs());
  let count = 0;
  jd.forEachDefinition((_n, info, entry) => {
    count++;
    t.equal(entry, undefined);
    t.ok(info.flags.isExported);
  });
  t.equal(count, N);
  t.notOk(jd.isEmpty);
});
