// ResourceTracker and ResourceManager, after LLVM's ResourceTrackerTest.cpp and the removal
// cases of CoreAPIsTest.cpp: removing a tracker whose symbols are unsearched, being materialized
// or ready; managers released newest first with the tracker as key, for every removed tracker
// whether it recorded something or not; removing a dylib removes all its trackers; transfer;
// what a responsibility adds, hands back or passes on stays with its tracker; a removed name can
// be defined again; a manager that throws does not stop the others.

import t from 'tap';
import { absoluteSymbols } from '../../src/core/AbsoluteSymbols.ts';
import { DylibNotFound, FailedToMaterialize, SymbolsNotFound } from '../../src/core/errors.ts';
import type { JITDylib } from '../../src/core/JITDylib.ts';
import type { MaterializationResponsibility } from '../../src/core/MaterializationResponsibility.ts';
import { ResourceTrackerDefunct, type ResourceKey, type ResourceManager, type ResourceTracker } from '../../src/core/ResourceTracker.ts';
import { SymbolState } from '../../src/core/SymbolFlags.ts';
import { abs, exported, iface, parkedUnit, resolveOne, settle, setup, SimpleMaterializationUnit, track, weak } from './helpers.ts';

/** A manager that keeps named resources per key and logs every call into a shared log. */
class RecordingManager implements ResourceManager {
  readonly label: string;
  readonly log: string[];
  readonly records = new Map<ResourceKey, string[]>();
  readonly released: string[] = [];

  constructor(label: string, log: string[]) {
    this.label = label;
    this.log = log;
  }

  record(key: ResourceKey, what: string): void {
    const list = this.records.get(key) ?? [];
    list.push(what);
    this.records.set(key, list);
  }

  async handleRemoveResources(jd: JITDylib, key: ResourceKey): Promise<void> {
    this.log.push(`${this.label}: remove ${jd.name}#${key.id}`);
    this.released.push(...(this.records.get(key) ?? []));
    this.records.delete(key);
  }

  handleTransferResources(jd: JITDylib, dstKey: ResourceKey, srcKey: ResourceKey): void {
    this.log.push(`${this.label}: transfer ${jd.name}#${srcKey.id} -> #${dstKey.id}`);
    const moved = this.records.get(srcKey) ?? [];
    this.records.delete(srcKey);
    this.records.set(dstKey, [...(this.records.get(dstKey) ?? []), ...moved]);
  }
}

/** A unit that resolves and emits each symbol at the given address, recording one resource per symbol. */
function recordingUnit(rm: RecordingManager, symbols: Record<string, number>) {
  return new SimpleMaterializationUnit(Object.fromEntries(Object.keys(symbols).map((n) => [n, exported])), (r) => {
    r.withResourceKeyDo((key) => {
      for (const n of r.getSymbols().keys()) rm.record(key, `code of ${n}`);
    });
    r.notifyResolved(new Map(Object.entries(symbols).map(([n, a]) => [n, { address: a, flags: exported }])));
    r.notifyEmitted();
  });
}

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('removing a tracker with NeverSearched symbols: they are gone and their unit is told', async (t) => {
  const { es, jd } = setup();
  const rt = jd.createResourceTracker();
  const discarded: string[] = [];
  jd.define(new SimpleMaterializationUnit({ Foo: exported, Bar: exported }, () => void t.fail('removed unit ran'), (_jd, n) => discarded.push(n)), rt);
  jd.define(absoluteSymbols(new Map([['Other', abs(9)]])));
  t.equal(jd.entry('Foo')?.tracker, rt);
  t.equal(jd.entry('Other')?.tracker, jd.getDefaultResourceTracker(), 'a define without a tracker goes to the default one');

  await rt.remove();
  t.ok(rt.isDefunct);
  t.ok(rt.isRemoved);
  t.same(discarded.sort(), ['Bar', 'Foo']);
  t.equal(jd.entry('Foo'), undefined);
  t.equal(jd.entry('Bar'), undefined);
  const err = await es.lookup(jd.getLinkOrder(), ['Foo']).catch((e: unknown) => e);
  t.ok(err instanceof SymbolsNotFound, 'a later lookup finds nothing');
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Other')).address, 9, 'the default tracker keeps its symbols');
});

t.test('removing a tracker while its unit runs: the lookup fails, the responsibility is defunct', async (t) => {
  const { es, jd } = setup();
  const errors: unknown[] = [];
  es.setErrorReporter((e) => errors.push(e));
  const rt = jd.createResourceTracker();
  const { unit, parked } = parkedUnit({ Foo: exported, Bar: exported });
  jd.define(unit, rt);
  const q = track(es.lookup(jd.getLinkOrder(), ['Foo']));
  await settle();
  t.equal(jd.entry('Foo')?.state, SymbolState.Materializing);
  const r = parked.r as MaterializationResponsibility;
  t.equal(r.tracker, rt);

  const removal = rt.remove();
  t.ok(rt.isDefunct, 'defunct at once, before the managers ran');
  t.ok(r.isDefunct);
  t.equal(jd.entry('Foo'), undefined, 'the symbols being materialized are gone at once');
  await removal;
  await settle();
  t.ok(q.error instanceof FailedToMaterialize, 'the waiting lookup failed');
  t.same((q.error as FailedToMaterialize).symbols, [{ dylib: 'JD', name: 'Foo' }]);
  t.ok((q.error as FailedToMaterialize).cause instanceof ResourceTrackerDefunct);
  t.match((q.error as FailedToMaterialize).message, /removed/);

  const resolveErr = thrown(() => resolveOne(r, 'Foo', 1));
  t.ok(resolveErr instanceof ResourceTrackerDefunct, 'a later notifyResolved throws ResourceTrackerDefunct');
  t.equal((resolveErr as ResourceTrackerDefunct).tracker, rt);
  t.ok(thrown(() => r.notifyEmitted()) instanceof ResourceTrackerDefunct, 'so does notifyEmitted');
  let ran = false;
  t.ok(thrown(() => r.withResourceKeyDo(() => (ran = true))) instanceof ResourceTrackerDefunct);
  t.equal(ran, false, 'withResourceKeyDo does not run its function on a defunct tracker');
  t.ok(thrown(() => r.delegate(['Bar'])) instanceof ResourceTrackerDefunct);
  t.ok(thrown(() => r.defineMaterializing(new Map([['New', iface()]]))) instanceof ResourceTrackerDefunct);
  t.ok(thrown(() => r.replace(parkedUnit({ Bar: exported }).unit)) instanceof ResourceTrackerDefunct);
  r.failMaterialization(new Error('gave up'));
  t.same(errors, [], 'failing a defunct responsibility reports nothing');
});

t.test('removing a tracker with Ready symbols; managers release what was recorded under it', async (t) => {
  const { es, jd } = setup();
  const log: string[] = [];
  const rm = new RecordingManager('rm', log);
  es.registerResourceManager(rm);
  const a = jd.createResourceTracker();
  const b = jd.createResourceTracker();
  jd.define(recordingUnit(rm, { Foo: 1 }), a);
  jd.define(recordingUnit(rm, { Bar: 2 }), b);
  await es.lookup(jd.getLinkOrder(), ['Foo', 'Bar']);
  t.equal(jd.entry('Foo')?.state, SymbolState.Ready);
  t.same(rm.records.get(a), ['code of Foo'], 'the unit recorded under its tracker key');

  await a.remove();
  t.same(rm.released, ['code of Foo'], 'only what was recorded under the removed tracker is released');
  t.same(log, [`rm: remove JD#${a.id}`]);
  t.equal(jd.entry('Foo'), undefined);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Bar')).address, 2, 'the other tracker keeps its symbols');
  t.same(rm.records.get(b), ['code of Bar']);
});

t.test('managers are called newest first, one after the other, for every removed tracker', async (t) => {
  const { es, jd } = setup();
  const log: string[] = [];
  const first = new RecordingManager('first', log);
  const second = new RecordingManager('second', log);
  let finishSecond = () => {};
  second.handleRemoveResources = async (j, key) => {
    log.push(`second: remove ${j.name}#${key.id}`);
    await new Promise<void>((resolve) => (finishSecond = resolve));
    log.push('second: done');
  };
  es.registerResourceManager(first);
  es.registerResourceManager(second);
  const rt = jd.createResourceTracker(); // nothing is ever defined or recorded under it
  const removal = track(rt.remove());
  await settle();
  t.same(log, [`second: remove JD#${rt.id}`], 'the newest manager first; the older one waits for it');
  t.equal(removal.done, false, 'remove() waits for the managers');
  finishSecond();
  await settle();
  t.same(log, [`second: remove JD#${rt.id}`, 'second: done', `first: remove JD#${rt.id}`]);
  t.equal(removal.done, true);

  es.deregisterResourceManager(second);
  log.length = 0;
  await jd.createResourceTracker().remove();
  t.same(log.map((l) => l.split(':')[0]), ['first'], 'a deregistered manager hears of no more removals');
});

t.test('a manager that throws or rejects does not stop the others; the errors are reported', async (t) => {
  const { es, jd } = setup();
  const errors: unknown[] = [];
  es.setErrorReporter((e) => errors.push(e));
  const log: string[] = [];
  const bottom = new RecordingManager('bottom', log);
  const rejecting = new RecordingManager('rejecting', log);
  rejecting.handleRemoveResources = () => Promise.reject(new Error('release failed'));
  rejecting.handleTransferResources = () => {
    throw new Error('transfer failed');
  };
  const throwing = new RecordingManager('throwing', log);
  throwing.handleRemoveResources = () => {
    throw new Error('thrown at once');
  };
  es.registerResourceManager(bottom);
  es.registerResourceManager(rejecting);
  es.registerResourceManager(throwing);
  const rt = jd.createResourceTracker();
  jd.define(recordingUnit(bottom, { Foo: 1 }), rt);
  await es.lookup(jd.getLinkOrder(), ['Foo']);
  const other = jd.createResourceTracker();
  other.transferTo(rt);
  t.same(
    log,
    [`throwing: transfer JD#${other.id} -> #${rt.id}`, `bottom: transfer JD#${other.id} -> #${rt.id}`],
    'the manager after a throwing one still hears of a transfer',
  );
  await rt.remove();
  t.same(bottom.released, ['code of Foo'], 'the oldest manager still released its resources');
  t.same(errors.map((e) => (e as Error).message), ['transfer failed', 'thrown at once', 'release failed']);
});

t.test('removing a tracker twice is harmless: the second removal is the first one', async (t) => {
  const { es, jd } = setup();
  const log: string[] = [];
  es.registerResourceManager(new RecordingManager('rm', log));
  const rt = jd.createResourceTracker();
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])), rt);
  const p1 = rt.remove();
  const p2 = rt.remove();
  t.equal(p1, p2);
  await p2;
  await rt.remove();
  t.same(log, [`rm: remove JD#${rt.id}`], 'the managers were asked once');
  t.ok(thrown(() => jd.define(absoluteSymbols(new Map([['Bar', abs(2)]])), rt)) instanceof ResourceTrackerDefunct, 'nothing can be defined under a removed tracker');
  t.equal(jd.entry('Bar'), undefined);
});

t.test('removeJITDylib removes every tracker of the dylib, created ones then the default one', async (t) => {
  const { es, jd } = setup();
  const log: string[] = [];
  const rm = new RecordingManager('rm', log);
  es.registerResourceManager(rm);
  const lib = es.createJITDylib('lib');
  const rt = lib.createResourceTracker();
  lib.define(recordingUnit(rm, { Foo: 1 }), rt);
  lib.define(recordingUnit(rm, { Bar: 2 }));
  const { unit } = parkedUnit({ Baz: exported });
  lib.define(unit);
  await es.lookup(lib.getLinkOrder(), ['Foo', 'Bar']);
  const waiting = track(es.lookup(lib.getLinkOrder(), ['Baz']));
  await settle();
  const def = lib.getDefaultResourceTracker();
  jd.setLinkOrder([{ jd: lib, flags: 'MatchExportedSymbolsOnly' }]);

  const removal = es.removeJITDylib(lib);
  t.equal(es.getJITDylibByName('lib'), undefined, 'the dylib left the session at once');
  t.same(jd.getLinkOrder().map((e) => e.jd.name), ['JD']);
  t.ok(rt.isDefunct && def.isDefunct, 'every tracker is defunct at once');
  t.equal([...lib.symbols()].length, 0);
  await removal;
  await settle();
  t.same(log, [`rm: remove lib#${rt.id}`, `rm: remove lib#${def.id}`]);
  t.same(rm.released.sort(), ['code of Bar', 'code of Foo']);
  t.ok(waiting.error instanceof DylibNotFound, 'a lookup waiting in the removed dylib fails with DylibNotFound');
  t.throws(() => es.removeJITDylib(lib), DylibNotFound, 'removing it again is a DylibNotFound');
});

t.test('a symbol emitted depending on a removed one fails instead of waiting for ever', async (t) => {
  const { es, jd } = setup();
  const rt = jd.createResourceTracker();
  const dep = parkedUnit({ Dep: exported });
  const user = parkedUnit({ User: exported });
  jd.define(dep.unit, rt);
  jd.define(user.unit);
  const userQ = track(es.lookup(jd.getLinkOrder(), ['User']));
  void es.lookup(jd.getLinkOrder(), ['Dep']).catch(() => {});
  await settle();
  resolveOne(dep.parked.r, 'Dep', 1);
  resolveOne(user.parked.r, 'User', 2);
  user.parked.r?.notifyEmitted(new Map([[jd, ['Dep']]]));
  await settle();
  t.equal(userQ.done, false, 'User waits for Dep to become Ready');
  await rt.remove();
  await settle();
  t.ok(userQ.error instanceof FailedToMaterialize);
  t.same((userQ.error as FailedToMaterialize).symbols, [{ dylib: 'JD', name: 'User' }]);
  t.ok(jd.entry('User')?.flags.hasError, 'the dependant is failed, and stays in its dylib');
});

t.test('a tracker removed before its unit ran: the unit never runs and is told to discard', async (t) => {
  const { es, jd } = setup();
  const rt = jd.createResourceTracker();
  const discarded: string[] = [];
  let ran = false;
  jd.define(new SimpleMaterializationUnit({ Foo: exported }, () => void (ran = true), (_jd, n) => discarded.push(n)), rt);
  const q = track(es.lookup(jd.getLinkOrder(), ['Foo']));
  await rt.remove(); // the materialization was queued, not yet started
  await settle();
  t.equal(ran, false);
  t.same(discarded, ['Foo']);
  t.ok(q.error instanceof FailedToMaterialize);
});

t.test('a removed name can be defined again, even while the old unit still runs', async (t) => {
  const { es, jd } = setup();
  const rt = jd.createResourceTracker();
  const old = parkedUnit({ Foo: exported });
  jd.define(old.unit, rt);
  void es.lookup(jd.getLinkOrder(), ['Foo']).catch(() => {});
  await settle();
  await rt.remove();
  const rt2 = jd.createResourceTracker();
  jd.define(absoluteSymbols(new Map([['Foo', abs(42)]])), rt2);
  t.ok(thrown(() => resolveOne(old.parked.r, 'Foo', 1)) instanceof ResourceTrackerDefunct);
  old.parked.r?.failMaterialization(new Error('late failure'));
  const def = await es.lookupOne(jd.getLinkOrder(), 'Foo');
  t.equal(def.address, 42, 'the new definition is untouched by the old responsibility');
  t.equal(def.entry.tracker, rt2);
  t.notOk(def.entry.flags.hasError);
});

t.test('defineMaterializing, replace and delegate keep the responsibility\'s tracker', async (t) => {
  const { es, jd } = setup();
  const rt = jd.createResourceTracker();
  let delegated: MaterializationResponsibility | undefined;
  let replacedRuns: ResourceTracker[] = [];
  jd.define(
    new SimpleMaterializationUnit({ Foo: exported, Bar: exported, Baz: exported }, (r) => {
      r.defineMaterializing(new Map([['Extra', iface()]]));
      r.replace(
        new SimpleMaterializationUnit({ Bar: exported }, (r2) => {
          replacedRuns.push(r2.tracker);
          resolveOne(r2, 'Bar', 2);
          r2.notifyEmitted();
        }),
      );
      delegated = r.delegate(['Baz']);
      r.notifyResolved(new Map([['Foo', { address: 1, flags: exported }], ['Extra', { address: 4, flags: exported }]]));
      r.notifyEmitted();
    }),
    rt,
  );
  await es.lookup(jd.getLinkOrder(), ['Foo']);
  t.equal(jd.entry('Extra')?.tracker, rt, 'a symbol added by defineMaterializing');
  t.equal(jd.entry('Bar')?.tracker, rt, 'a symbol handed back by replace');
  t.equal(jd.entry('Bar')?.state, SymbolState.NeverSearched);
  t.equal(delegated?.tracker, rt, 'a delegated responsibility');
  t.equal(jd.entry('Baz')?.tracker, rt);
  await es.lookup(jd.getLinkOrder(), ['Bar']);
  t.same(replacedRuns, [rt], 'the handed-back unit materializes under the same tracker');
  replacedRuns = [];

  const rtSyms = () => [...jd.symbols()].filter((e) => e.tracker === rt).map((e) => e.name).sort();
  t.same(rtSyms(), ['Bar', 'Baz', 'Extra', 'Foo']);
  await rt.remove();
  t.same([...jd.symbols()].map((e) => e.name), [], 'removing the tracker removes all of them');
  t.ok(delegated?.isDefunct);
});

t.test('transferTo moves symbols, responsibilities and managers\' records to the destination', async (t) => {
  const { es, jd } = setup();
  const log: string[] = [];
  const rm = new RecordingManager('rm', log);
  es.registerResourceManager(rm);
  const src = jd.createResourceTracker();
  const dst = jd.createResourceTracker();
  jd.define(recordingUnit(rm, { Foo: 1 }), src);
  const running = parkedUnit({ Bar: exported });
  jd.define(running.unit, src);
  jd.define(absoluteSymbols(new Map([['Kept', abs(7)]])), dst);
  await es.lookup(jd.getLinkOrder(), ['Foo']);
  void es.lookup(jd.getLinkOrder(), ['Bar']);
  await settle();

  src.transferTo(dst);
  t.ok(src.isDefunct);
  t.notOk(src.isRemoved);
  t.notOk(dst.isDefunct);
  t.same(log, [`rm: transfer JD#${src.id} -> #${dst.id}`]);
  t.same(rm.records.get(dst), ['code of Foo']);
  t.equal(jd.entry('Foo')?.tracker, dst);
  t.equal(jd.entry('Bar')?.tracker, dst);
  const r = running.parked.r as MaterializationResponsibility;
  t.equal(r.tracker, dst, 'a responsibility of the source now works for the destination');
  r.withResourceKeyDo((key) => rm.record(key, 'code of Bar'));
  resolveOne(r, 'Bar', 2);
  r.notifyEmitted();
  t.ok(thrown(() => jd.define(absoluteSymbols(new Map([['Late', abs(3)]])), src)) instanceof ResourceTrackerDefunct, 'nothing can be defined under the source');

  log.length = 0;
  await src.remove();
  t.same(log, [], 'removing the transferred source does nothing');
  t.equal(jd.entry('Foo')?.state, SymbolState.Ready);
  await dst.remove();
  t.same(rm.released.sort(), ['code of Bar', 'code of Foo']);
  t.same([...jd.symbols()].map((e) => e.name), []);

  const other = es.createJITDylib('other').createResourceTracker();
  const t1 = jd.createResourceTracker();
  t.throws(() => t1.transferTo(other), /different dylibs/);
  t.ok(thrown(() => t1.transferTo(dst)) instanceof ResourceTrackerDefunct, 'nor transfer to a removed tracker');
  t1.transferTo(t1);
  t.notOk(t1.isDefunct, 'a transfer to itself does nothing');
});

t.test('the default tracker: transferable, removable, and replaced by a fresh one afterwards', async (t) => {
  const { es, jd } = setup();
  const log: string[] = [];
  es.registerResourceManager(new RecordingManager('rm', log));
  const def = jd.getDefaultResourceTracker();
  t.equal(jd.getDefaultResourceTracker(), def, 'the same tracker until it is defunct');
  jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])));
  const rt = jd.createResourceTracker();
  def.transferTo(rt);
  t.equal(jd.entry('Foo')?.tracker, rt);
  const def2 = jd.getDefaultResourceTracker();
  t.not(def2, def);
  t.notOk(def2.isDefunct);
  jd.define(absoluteSymbols(new Map([['Bar', abs(2)]])));
  await def2.remove();
  t.equal(jd.entry('Bar'), undefined);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Foo')).address, 1, 'the transferred symbols stay');
  const def3 = jd.getDefaultResourceTracker();
  t.notOk(def3.isDefunct);
  jd.define(absoluteSymbols(new Map([['Bar', abs(3)]])));
  t.equal((await es.lookupOne(jd.getLinkOrder(), 'Bar')).address, 3);
  t.same(log, [`rm: transfer JD#${def.id} -> #${rt.id}`, `rm: remove JD#${def2.id}`]);
});

t.test('a tracker of another dylib cannot own definitions', async (t) => {
  const { es, jd } = setup();
  const other = es.createJITDylib('other');
  t.throws(() => jd.define(absoluteSymbols(new Map([['Foo', abs(1)]])), other.createResourceTracker()), /cannot own definitions in "JD"/);
  t.equal(jd.entry('Foo'), undefined);
});

t.test('symbols removed one by one or overridden leave their tracker; the rest is removed with it', async (t) => {
  const { es, jd } = setup();
  const rt = jd.createResourceTracker();
  const names = Array.from({ length: 100 }, (_, i) => `s${i}`);
  jd.define(absoluteSymbols(new Map(names.map((n, i) => [n, abs(i)]))), rt);
  jd.define(absoluteSymbols(new Map([['W', abs(1, weak)]])), rt);
  jd.remove(names.slice(0, 80)); // enough to make the tracker compact its list
  const strong = jd.createResourceTracker();
  jd.define(absoluteSymbols(new Map([['W', abs(2)], ['s0', abs(3)]])), strong);
  t.equal(jd.entry('W')?.tracker, strong, 'a strong definition overriding a weak one belongs to its own tracker');

  const other = jd.createResourceTracker();
  rt.transferTo(other);
  t.same([...jd.symbols()].filter((e) => e.tracker === other).map((e) => e.name), names.slice(80), 'only the symbols still defined move');
  await other.remove();
  t.same([...jd.symbols()].map((e) => e.name).sort(), ['W', 's0']);
  t.equal((await es.lookupOne(jd.getLinkOrder(), 's0')).address, 3, 'a name redefined under another tracker is untouched');
});
