// MaterializationResponsibility behaviours ported from LLVM's CoreAPIsTest.cpp: dependencies
// and cycles, failure propagation to dependants and later lookups, replace, delegate and
// defineMaterializing, and the session dump.

import t from 'tap';
import { absoluteSymbols } from '../../src/core/AbsoluteSymbols.ts';
import { DuplicateDefinition, FailedToMaterialize } from '../../src/core/errors.ts';
import type { MaterializationResponsibility } from '../../src/core/MaterializationResponsibility.ts';
import { SymbolState } from '../../src/core/SymbolFlags.ts';
import { abs, exported, iface, parkedUnit, resolveOne, settle, setup, SimpleMaterializationUnit, track } from './helpers.ts';

t.test('TestTrivialCircularDependency: a self-dependency does not block readiness', async (t) => {
  const { es, jd } = setup();
  const { unit, parked } = parkedUnit({ Foo: exported });
  jd.define(unit);
  const q = track(es.lookup(jd.getLinkOrder(), ['Foo']));
  await settle();
  resolveOne(parked.r, 'Foo', 1);
  parked.r?.notifyEmitted(new Map([[jd, ['Foo']]]));
  await settle();
  t.equal(q.done, true);
});

t.test('TestCircularDependenceInOneJITDylib: nothing is ready until the cycle is emitted', async (t) => {
  const { es, jd } = setup();
  const foo = parkedUnit({ Foo: exported });
  const bar = parkedUnit({ Bar: exported });
  const baz = parkedUnit({ Baz: exported });
  jd.define(foo.unit);
  jd.define(bar.unit);
  jd.define(baz.unit);
  const ready = ['Foo', 'Bar', 'Baz'].map((n) => track(es.lookup(jd.getLinkOrder(), [n])));
  await settle();
  resolveOne(foo.parked.r, 'Foo', 1);
  resolveOne(bar.parked.r, 'Bar', 2);
  resolveOne(baz.parked.r, 'Baz', 3);
  foo.parked.r?.notifyEmitted(new Map([[jd, ['Foo', 'Bar']]]));
  bar.parked.r?.notifyEmitted(new Map([[jd, ['Bar', 'Baz']]]));
  await settle();
  t.same(ready.map((r) => r.done), [false, false, false], 'nothing ready before Baz is emitted');
  t.equal(jd.entry('Foo')?.state, SymbolState.Emitted);
  baz.parked.r?.notifyEmitted(new Map([[jd, ['Baz', 'Foo']]]));
  await settle();
  t.same(ready.map((r) => r.done), [true, true, true]);
});

t.test('FailureInDependency: a failure fails its dependants and later lookups, and nothing else', async (t) => {
  const { es, jd } = setup();
  const foo = parkedUnit({ Foo: exported });
  const bar = parkedUnit({ Bar: exported });
  jd.define(foo.unit);
  jd.define(bar.unit);
  jd.define(absoluteSymbols(new Map([['Other', abs(9)]])));
  const fooQ = track(es.lookup(jd.getLinkOrder(), ['Foo']));
  const barQ = track(es.lookup(jd.getLinkOrder(), ['Bar']));
  await settle();
  resolveOne(foo.parked.r, 'Foo', 1);
  foo.parked.r?.notifyEmitted(new Map([[jd, ['Bar']]]));
  await settle();
  t.equal(fooQ.done, false, 'Foo waits for Bar');
  const cause = new Error('codegen exploded');
  bar.parked.r?.failMaterialization(cause);
  await settle();
  t.ok(barQ.error instanceof FailedToMaterialize);
  t.equal((barQ.error as FailedToMaterialize).cause, cause);
  t.ok(fooQ.error instanceof FailedToMaterialize, 'the dependant failed too');
  t.match((fooQ.error as FailedToMaterialize).message, /Foo.*codegen exploded/);
  const later = await es.lookup(jd.getLinkOrder(), ['Foo']).catch((e: unknown) => e);
  t.ok(later instanceof FailedToMaterialize, 'later lookups fail the same way');
  t.ok(jd.entry('Bar')?.flags.hasError);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Other')).address, 9, 'unrelated symbols still work');
});

t.test('AddDependencyOnFailedSymbol: emitting with a dependency on a failed symbol fails', async (t) => {
  const { es, jd } = setup();
  const foo = parkedUnit({ Foo: exported });
  const bar = parkedUnit({ Bar: exported });
  jd.define(foo.unit);
  jd.define(bar.unit);
  const fooQ = track(es.lookup(jd.getLinkOrder(), ['Foo']));
  void es.lookup(jd.getLinkOrder(), ['Bar']).catch(() => {});
  await settle();
  bar.parked.r?.failMaterialization(new Error('bar broke'));
  resolveOne(foo.parked.r, 'Foo', 1);
  foo.parked.r?.notifyEmitted(new Map([[jd, ['Bar']]]));
  await settle();
  t.ok(fooQ.error instanceof FailedToMaterialize);
});

t.test('a throwing materializer fails its symbols with FailedToMaterialize', async (t) => {
  const { es, jd } = setup();
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported }, () => {
      throw new Error('no such import: env.f');
    }),
  );
  const err = await es.lookup(jd.getLinkOrder(), ['Foo']).catch((e: unknown) => e);
  t.ok(err instanceof FailedToMaterialize);
  t.same((err as FailedToMaterialize).symbols, [{ dylib: 'JD', name: 'Foo' }]);
  t.match((err as FailedToMaterialize).message, /no such import/);
});

t.test('replace: unrequested symbols go back unmaterialized and materialize on their own lookup', async (t) => {
  const { es, jd } = setup();
  let barRuns = 0;
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported, Bar: exported }, (r) => {
      t.same([...r.getRequestedSymbols()], ['Foo']);
      r.replace(
        new SimpleMaterializationUnit({ Bar: exported }, (r2) => {
          barRuns++;
          resolveOne(r2, 'Bar', 2);
          r2.notifyEmitted();
        }),
      );
      resolveOne(r, 'Foo', 1);
      r.notifyEmitted();
    }),
  );
  await es.lookup(jd.getLinkOrder(), ['Foo']);
  t.equal(jd.entry('Bar')?.state, SymbolState.NeverSearched);
  t.equal(barRuns, 0);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Bar')).address, 2);
  t.equal(barRuns, 1);
});

t.test('splitOff: a unit that can split hands out just the requested symbols; the rest stay in it', async (t) => {
  const { es, jd } = setup();
  const runs: string[][] = [];
  class Splittable extends SimpleMaterializationUnit {
    constructor(names: string[]) {
      super(Object.fromEntries(names.map((n) => [n, exported])), (r) => {
        runs.push([...r.getSymbols().keys()]);
        for (const n of r.getSymbols().keys()) resolveOne(r, n, n.length);
        r.notifyEmitted();
      });
    }
    override splitOff(names: ReadonlySet<string>): Splittable {
      for (const n of names) this.symbols.delete(n);
      return new Splittable([...names]);
    }
  }
  const whole = new Splittable(['A', 'BB', 'CCC']);
  jd.define(whole);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'BB')).address, 2);
  t.same(runs, [['BB']], 'only the requested symbol was materialized');
  t.equal(jd.entry('A')?.state, SymbolState.NeverSearched);
  t.equal(jd.entry('A')?.unit, whole, 'the others are still provided by the original unit');
  t.same([...whole.symbols.keys()], ['A', 'CCC']);
  await es.lookup(jd.getLinkOrder(), ['A', 'CCC']);
  t.same(runs, [['BB'], ['A', 'CCC']], 'a lookup of everything left materializes the unit itself');
  t.equal(jd.entry('CCC')?.address, 3);
});

t.test('replace of a symbol a lookup already waits for materializes it at once', async (t) => {
  const { es, jd } = setup();
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported }, (r) => {
      r.replace(
        new SimpleMaterializationUnit({ Foo: exported }, (r2) => {
          resolveOne(r2, 'Foo', 5);
          r2.notifyEmitted();
        }),
      );
    }),
  );
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Foo')).address, 5);
});

t.test('delegate: a delegated responsibility finishes its symbols independently', async (t) => {
  const { es, jd } = setup();
  let delegated: MaterializationResponsibility | undefined;
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported, Bar: exported }, (r) => {
      delegated = r.delegate(['Bar']);
      resolveOne(r, 'Foo', 1);
      r.notifyEmitted();
    }),
  );
  const foo = await es.lookup(jd.getLinkOrder(), ['Foo']);
  t.equal(foo.get('Foo')?.address, 1);
  const bar = track(es.lookup(jd.getLinkOrder(), ['Bar']));
  await settle();
  t.equal(bar.done, false, 'Bar waits for the delegated responsibility');
  t.equal(jd.entry('Bar')?.state, SymbolState.Materializing);
  resolveOne(delegated, 'Bar', 2);
  delegated?.notifyEmitted();
  await settle();
  t.equal(bar.value?.get('Bar')?.address, 2);
});

t.test('defineMaterializing adds symbols owned by the responsibility, refusing duplicates', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Taken', abs(9)]])));
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported }, (r) => {
      t.throws(() => r.defineMaterializing(new Map([['Taken', iface()]])), DuplicateDefinition);
      r.defineMaterializing(new Map([['Extra', iface()]]));
      r.notifyResolved(new Map([['Foo', { address: 1, flags: exported }], ['Extra', { address: 2, flags: exported }]]));
      r.notifyEmitted();
    }),
  );
  await es.lookup(jd.getLinkOrder(), ['Foo']);
  t.equal(jd.entry('Extra')?.state, SymbolState.Ready);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Extra')).address, 2);
});

t.test('dump shows dylibs, link orders, addresses or <not resolved>, flags, states and materializers', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(0x10)]])));
  jd.define(new SimpleMaterializationUnit({ Bar: exported }, () => {}));
  await es.lookup(jd.getLinkOrder(), ['Foo']);
  const text = es.dumpText();
  t.match(text, /JITDylib "JD":/);
  t.match(text, /Link order: \[ \("JD", MatchAllSymbols\) \]/);
  t.match(text, /"Foo": 0x00000010 \[Exported\|Callable\] Ready/);
  t.match(text, /"Bar": <not resolved> \[Exported\|Callable\] NeverSearched \(materializer <Simple>\)/);
  const json = es.dump();
  t.same(json[0]?.symbols.map((s) => [s.name, s.state]), [
    ['Foo', 'Ready'],
    ['Bar', 'NeverSearched'],
  ]);
});

t.test('an entry records what waits on it and what it waits for only while there is some, and names its dylib through its tracker', async (t) => {
  const { es, jd } = setup();
  const foo = parkedUnit({ Foo: exported });
  const bar = parkedUnit({ Bar: exported });
  const rt = jd.createResourceTracker();
  jd.define(foo.unit, rt);
  jd.define(bar.unit);
  const fooEntry = jd.entry('Foo')!;
  const barEntry = jd.entry('Bar')!;
  t.equal(fooEntry.pendingQueries.size + fooEntry.dependants.size + fooEntry.unreadyDeps.size, 0, 'nothing before a lookup');
  const ready = track(es.lookup(jd.getLinkOrder(), ['Foo', 'Bar']));
  await settle();
  t.equal(fooEntry.pendingQueries.size, 1, 'the lookup waits on Foo');
  resolveOne(foo.parked.r, 'Foo', 1);
  resolveOne(bar.parked.r, 'Bar', 2);
  foo.parked.r?.notifyEmitted(new Map([[jd, ['Bar']]]));
  await settle();
  t.same([...fooEntry.unreadyDeps].map((e) => e.name), ['Bar'], 'Emitted Foo waits for Bar');
  t.same([...barEntry.dependants].map((e) => e.name), ['Foo'], 'Bar knows Foo waits');
  t.equal(ready.done, false);
  bar.parked.r?.notifyEmitted();
  await settle();
  t.equal(ready.done, true);
  t.equal(fooEntry.state, SymbolState.Ready);
  for (const e of [fooEntry, barEntry]) {
    t.equal(e.pendingQueries.size + e.dependants.size + e.unreadyDeps.size, 0, `${e.name} waits on nothing and nothing waits on it`);
  }
  const dst = jd.createResourceTracker();
  rt.transferTo(dst);
  t.equal(fooEntry.tracker, dst);
  t.equal(fooEntry.jd, jd, 'a transfer keeps the entry in its dylib');
  t.equal(barEntry.jd, jd);
});
