// Definition behaviours ported from LLVM's CoreAPIsTest.cpp: strong and weak definitions,
// removal, aliases (chained too) and reexports that materialize only what is asked for.

import t from 'tap';
import { absoluteSymbols } from '../../src/core/AbsoluteSymbols.ts';
import { DuplicateDefinition, DylibNotFound, SymbolsNotFound } from '../../src/core/errors.ts';
import { SymbolsCouldNotBeRemoved } from '../../src/core/JITDylib.ts';
import { buildSimpleReexportsAliasMap, reexports, symbolAliases } from '../../src/core/ReExports.ts';
import { SymbolState } from '../../src/core/SymbolFlags.ts';
import { abs, exported, iface, parkedUnit, resolveOne, settle, setup, SimpleMaterializationUnit, weak } from './helpers.ts';

t.test('a strong definition of an existing strong symbol is a DuplicateDefinition, all or nothing', async (t) => {
  const { jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  const err = (() => {
    try {
      jd.define(absoluteSymbols(new Map([['Bar', abs(2)], ['Foo', abs(3)]])));
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof DuplicateDefinition);
  t.same((err as DuplicateDefinition).symbols, ['Foo']);
  t.equal(jd.entry('Bar'), undefined, 'nothing of the failed define was added');
});

t.test('clashes are found and listed in the definition\'s order whether the dylib or the unit is larger', async (t) => {
  const duplicates = (f: () => void): readonly string[] | undefined => {
    try {
      f();
    } catch (e) {
      if (e instanceof DuplicateDefinition) return e.symbols;
      throw e;
    }
    return undefined;
  };
  // The dylib is smaller than the unit: its two names are found from its side.
  const small = setup().jd;
  small.define(absoluteSymbols(new Map([['Foo', abs(1)], ['Bar', abs(2)]])));
  const five = new Map(['A', 'Bar', 'B', 'Foo', 'C'].map((n, i) => [n, abs(10 + i)]));
  t.same(duplicates(() => small.define(absoluteSymbols(five))), ['Bar', 'Foo']);
  t.equal(small.entry('A'), undefined, 'nothing of the failed define was added');
  // The dylib is larger than the unit.
  const large = setup().jd;
  large.define(absoluteSymbols(new Map(['P', 'Q', 'R', 'Foo', 'Bar'].map((n, i) => [n, abs(20 + i)]))));
  t.same(duplicates(() => large.define(absoluteSymbols(new Map([['Foo', abs(1)], ['Z', abs(2)], ['Bar', abs(3)]])))), ['Foo', 'Bar']);
  t.equal(large.entry('Z'), undefined);
  t.same(large.clashes(new Map([['Bar', 1], ['Nope', 2], ['P', 3]])), [['Bar', 1], ['P', 3]]);
  // A strong definition still overrides an unsearched weak one found from the dylib's side.
  const { es, jd } = setup();
  const discarded: string[] = [];
  jd.define(new SimpleMaterializationUnit({ W: weak }, () => void t.fail('overridden weak unit ran'), (_jd, n) => discarded.push(n)));
  jd.define(absoluteSymbols(new Map([['X', abs(5)], ['W', abs(6)], ['Y', abs(7)]])));
  t.same(discarded, ['W']);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'W')).address, 6);
});

t.test('weak definitions: a later weak one is discarded, a strong one overrides an unsearched weak one', async (t) => {
  const { es, jd } = setup();
  const discarded: string[] = [];
  jd.define(new SimpleMaterializationUnit({ Foo: weak, Bar: weak }, () => void t.fail('overridden weak unit ran'), (_jd, n) => discarded.push(n)));
  // A second weak Foo loses to the first.
  const second: string[] = [];
  jd.define(new SimpleMaterializationUnit({ Foo: weak }, () => void t.fail('discarded unit ran'), (_jd, n) => second.push(n)));
  t.same(second, ['Foo']);
  // A strong Foo overrides the unsearched weak one.
  jd.define(absoluteSymbols(new Map([['Foo', abs(7)]])));
  t.same(discarded, ['Foo']);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Foo')).address, 7);
});

t.test('a strong definition may not override a weak symbol that was already searched', async (t) => {
  const { es, jd } = setup();
  const { unit, parked } = parkedUnit({ Foo: weak });
  jd.define(unit);
  void es.lookup(jd.getLinkOrder(), ['Foo']);
  await settle();
  t.throws(() => jd.define(absoluteSymbols(new Map([['Foo', abs(1)]]))), DuplicateDefinition);
  resolveOne(parked.r, 'Foo', 2, weak);
  parked.r?.notifyEmitted();
});

t.test('RemoveSymbols: missing and materializing symbols refuse removal; unmaterialized ones are discarded', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  const discarded: string[] = [];
  jd.define(new SimpleMaterializationUnit({ Bar: exported }, () => void t.fail('Bar materialized'), (_jd, n) => discarded.push(n)));
  const { unit, parked } = parkedUnit({ Baz: exported });
  jd.define(unit);
  const done = es.lookup(jd.getLinkOrder(), ['Foo', 'Baz']);
  await settle();
  t.throws(() => jd.remove(['Foo', 'Bar', 'Baz', 'Qux']), SymbolsNotFound);
  t.throws(() => jd.remove(['Foo', 'Bar', 'Baz']), SymbolsCouldNotBeRemoved);
  resolveOne(parked.r, 'Baz', 3);
  parked.r?.notifyEmitted();
  await done;
  jd.remove(['Foo', 'Bar', 'Baz']);
  t.same(discarded, ['Bar']);
  t.equal([...jd.symbols()].length, 0);
});

t.test('TestBasicAliases: an alias resolves to its aliasee; a weak alias is overridden', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)], ['Bar', abs(2)]])));
  jd.define(
    symbolAliases(
      new Map([
        ['Baz', { ...iface(exported), aliasee: 'Foo' }],
        ['Qux', { ...iface(weak), aliasee: 'Bar' }],
      ]),
    ),
  );
  jd.define(absoluteSymbols(new Map([['Qux', abs(3)]])));
  const r = await es.lookup(jd.getLinkOrder(), ['Baz', 'Qux']);
  t.equal(r.get('Baz')?.address, 1);
  t.equal(r.get('Qux')?.address, 3, 'the weak alias was overridden');
});

t.test('TestChainedAliases: aliases of aliases in one unit', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  jd.define(
    symbolAliases(
      new Map([
        ['Baz', { ...iface(), aliasee: 'Bar' }],
        ['Bar', { ...iface(), aliasee: 'Foo' }],
      ]),
    ),
  );
  const r = await es.lookup(jd.getLinkOrder(), ['Bar', 'Baz']);
  t.equal(r.get('Bar')?.address, 1);
  t.equal(r.get('Baz')?.address, 1);
  const only = setup();
  only.jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  only.jd.define(symbolAliases(new Map([['A', { ...iface(), aliasee: 'B' }], ['B', { ...iface(), aliasee: 'Foo' }]])));
  t.equal((await only.es.lookupOne(only.jd.getLinkOrder(), 'A')).address, 1, 'looking up only the head of a chain works');
});

t.test('TestBasicReExports and ReExportsDontUnnecessarilyMaterialize', async (t) => {
  const { es, jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  let barMaterialized = false;
  jd.define(
    new SimpleMaterializationUnit({ Bar: exported }, (r) => {
      barMaterialized = true;
      resolveOne(r, 'Bar', 2);
      r.notifyEmitted();
    }),
  );
  const jd2 = es.createJITDylib('JD2');
  jd2.define(
    reexports(
      jd,
      new Map([
        ['Baz', { ...iface(), aliasee: 'Foo' }],
        ['Qux', { ...iface(), aliasee: 'Bar' }],
      ]),
    ),
  );
  t.equal((await es.lookupOne(jd2.getLinkOrder(), 'Baz')).address, 1);
  await settle();
  t.equal(barMaterialized, false, 'Bar was not materialized');
  t.equal(jd2.entry('Qux')?.state, SymbolState.NeverSearched, 'Qux was handed back unmaterialized');
  t.equal((await es.lookupOne(jd2.getLinkOrder(), 'Qux')).address, 2);
  t.equal(barMaterialized, true);
});

t.test('buildSimpleReexportsAliasMap takes the targets flags and refuses missing ones', async (t) => {
  const { jd } = setup();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  const m = buildSimpleReexportsAliasMap(jd, new Map([['F', 'Foo']]));
  t.equal(m.get('F')?.aliasee, 'Foo');
  t.ok(m.get('F')?.flags.isCallable);
  t.throws(() => buildSimpleReexportsAliasMap(jd, new Map([['X', 'Nope']])), SymbolsNotFound);
});

t.test('removing a dylib drops it from other link orders and fails lookups waiting in it', async (t) => {
  const { es, jd } = setup();
  const lib = es.createJITDylib('lib');
  const { unit } = parkedUnit({ f: exported });
  lib.define(unit);
  jd.setLinkOrder([{ jd: lib, flags: 'MatchExportedSymbolsOnly' }]);
  const pending = es.lookup(jd.getLinkOrder(), ['f']).catch((e: unknown) => e);
  await settle();
  await es.removeJITDylib(lib);
  const err = await pending;
  t.ok(err instanceof DylibNotFound, 'the waiting lookup fails with DylibNotFound');
  t.match(String(err), /lib/);
  t.same(jd.getLinkOrder().map((e) => e.jd.name), ['JD']);
  t.equal(es.getJITDylibByName('lib'), undefined);
});
