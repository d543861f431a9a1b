// Lookup behaviours ported from LLVM's CoreAPIsTest.cpp: basic and empty lookups, unrequested
// symbols, hidden symbols, all-or-nothing missing symbols, concurrent lookups.

import t from 'tap';
import { absoluteSymbols } from '../../src/core/AbsoluteSymbols.ts';
import { SymbolsNotFound } from '../../src/core/errors.ts';
import { SymbolState } from '../../src/core/SymbolFlags.ts';
import { abs, exported, hidden, parkedUnit, resolveOne, settle, setup, SimpleMaterializationUnit, track } from './helpers.ts';

t.test('ErrorReporter: reported errors reach the registered reporter', async (t) => {
  const { es } = setup();
  const seen: unknown[] = [];
  es.setErrorReporter((e) => seen.push(e));
  const err = new Error('custom');
  es.reportError(err);
  t.same(seen, [err]);
});

t.test('BasicSuccessfulLookup: completes only once the symbol is Ready', async (t) => {
  const { es, jd } = setup();
  const { unit, parked } = parkedUnit({ Foo: exported });
  jd.define(unit);
  const q = track(es.lookup(jd.getLinkOrder(), ['Foo']));
  await settle();
  t.equal(q.done, false, 'not resolved yet');
  resolveOne(parked.r, 'Foo', 0x1000);
  await settle();
  t.equal(q.done, false, 'resolved but not ready');
  t.equal(jd.entry('Foo')?.state, SymbolState.Resolved);
  parked.r?.notifyEmitted();
  await settle();
  t.equal(q.done, true);
  t.equal(q.value?.get('Foo')?.address, 0x1000);
  t.equal(jd.entry('Foo')?.state, SymbolState.Ready);
});

t.test('EmptyLookup completes at once', async (t) => {
  const { es, jd } = setup();
  const r = await es.lookup(jd.getLinkOrder(), []);
  t.equal(r.size, 0);
});

t.test('ResolveUnrequestedSymbol: a unit materializes all its symbols once', async (t) => {
  const { es, jd } = setup();
  let runs = 0;
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported, Bar: exported }, (r) => {
      runs++;
      r.notifyResolved(new Map([['Foo', { address: 1, flags: exported }], ['Bar', { address: 2, flags: exported }]]));
      r.notifyEmitted();
    }),
  );
  const foo = await es.lookup(jd.getLinkOrder(), ['Foo']);
  t.equal(foo.size, 1);
  t.ok(foo.has('Foo'));
  t.equal(jd.entry('Bar')?.state, SymbolState.Ready, 'Bar emitted too');
  const bar = await es.lookup(jd.getLinkOrder(), ['Bar']);
  t.equal(bar.get('Bar')?.address, 2);
  t.equal(runs, 1);
});

t.test('LookupWithHiddenSymbols: exported-only link entries skip hidden symbols', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)], ['Bar', abs(2, hidden)]])));
  const jd2 = es.createJITDylib('JD2');
  jd2.define(absoluteSymbols(new Map([['Bar', abs(3)]])));
  const order = [
    { jd, flags: 'MatchExportedSymbolsOnly' as const },
    { jd: jd2, flags: 'MatchExportedSymbolsOnly' as const },
  ];
  const r = await es.lookup(order, ['Foo', 'Bar']);
  t.equal(r.get('Foo')?.address, 1);
  t.equal(r.get('Bar')?.address, 3, 'hidden Bar of JD skipped, JD2 Bar found');
  const all = await es.lookup([{ jd, flags: 'MatchAllSymbols' }], ['Bar']);
  t.equal(all.get('Bar')?.address, 2, 'MatchAllSymbols sees the hidden one');
});

t.test('LookupFlags materializes nothing and leaves out missing names', async (t) => {
  const { es, jd } = setup();
  const { unit, parked } = parkedUnit({ Bar: exported.with('Weak') });
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  jd.define(unit);
  const flags = es.lookupFlags(jd.getLinkOrder(), ['Foo', 'Bar', 'Baz']);
  t.same([...flags.keys()], ['Foo', 'Bar']);
  t.ok(flags.get('Bar')?.flags.isWeak);
  await settle();
  t.equal(parked.count, 0);
});

t.test('missing symbols fail the whole lookup, naming every one, and materialize nothing', async (t) => {
  const { es, jd } = setup();
  const { unit, parked } = parkedUnit({ Foo: exported });
  jd.define(unit);
  const err = await es.lookup(jd.getLinkOrder(), ['Foo', 'Nope', 'Gone']).catch((e: unknown) => e);
  t.ok(err instanceof SymbolsNotFound);
  t.same((err as SymbolsNotFound).symbols, ['Nope', 'Gone']);
  await settle();
  t.equal(parked.count, 0, 'Foo was not materialized');
  t.equal(jd.entry('Foo')?.state, SymbolState.NeverSearched);
});

t.test('weakly referenced symbols may be missing', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  const r = await es.lookup(
    jd.getLinkOrder(),
    new Map([
      ['Foo', 'RequiredSymbol'],
      ['Bar', 'WeaklyReferencedSymbol'],
    ] as const),
  );
  t.same([...r.keys()], ['Foo']);
});

t.test('concurrent lookups of one symbol materialize it exactly once', async (t) => {
  const { es, jd } = setup();
  let runs = 0;
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported }, async (r) => {
      runs++;
      await new Promise((res) => setTimeout(res, 5));
      resolveOne(r, 'Foo', 42);
      r.notifyEmitted();
    }),
  );
  const results = await Promise.all(Array.from({ length: 20 }, () => es.lookup(jd.getLinkOrder(), ['Foo'])));
  t.equal(runs, 1);
  t.ok(results.every((r) => r.get('Foo')?.address === 42));
  t.equal(es.materializations, 1);
});

t.test('a lookup requiring Resolved completes before emission', async (t) => {
  const { es, jd } = setup();
  const { unit, parked } = parkedUnit({ Foo: exported });
  jd.define(unit);
  const resolved = track(es.lookup(jd.getLinkOrder(), ['Foo'], SymbolState.Resolved));
  const ready = track(es.lookup(jd.getLinkOrder(), ['Foo']));
  await settle();
  resolveOne(parked.r, 'Foo', 7);
  await settle();
  t.equal(resolved.done, true);
  t.equal(ready.done, false);
  parked.r?.notifyEmitted();
  await settle();
  t.equal(ready.done, true);
});

t.test('link order: first match wins, and the dylib itself comes first', async (t) => {
  const { es, jd } = setup();
  const lib = es.createJITDylib('lib');
  lib.define(absoluteSymbols(new Map([['f', abs(10)], ['g', abs(11)]])));
  jd.define(absoluteSymbols(new Map([['f', abs(20)]])));
  jd.setLinkOrder([{ jd: lib, flags: 'MatchExportedSymbolsOnly' }]);
  t.same(
    jd.getLinkOrder().map((e) => [e.jd.name, e.flags]),
    [
      ['JD', 'MatchAllSymbols'],
      ['lib', 'MatchExportedSymbolsOnly'],
    ],
  );
  const r = await es.lookup(jd.getLinkOrder(), ['f', 'g']);
  t.equal(r.get('f')?.address, 20);
  t.equal(r.get('g')?.address, 11);
});

t.test('a unit that finishes without emitting fails its symbols instead of hanging', async (t) => {
  const { es, jd } = setup();
  jd.define(new SimpleMaterializationUnit({ Foo: exported }, async () => {}));
  const err = await es.lookup(jd.getLinkOrder(), ['Foo']).catch((e: unknown) => e);
  t.match(String(err), /without emitting/);
});
