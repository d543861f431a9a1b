// The lazy JIT end to end: adding compiles nothing, looking a function up creates its stub
// only, a first call compiles exactly the bodies it reaches, later calls compile nothing,
// concurrent first calls compile once, and the dump shows stubs and bodies.

import t, { type Test } from 'tap';
import { DuplicateDefinition, FailedToMaterialize, InvalidModule, SymbolsNotFound, Trap } from '../../src/core/errors.ts';
import { SymbolState } from '../../src/core/SymbolFlags.ts';
import type { JITConfig } from '../../src/config.ts';
import type { LazyJIT } from '../../src/jit/LazyJIT.ts';
import { watBytes } from '../executor/helpers.ts';
import { args, createJIT, i32 } from './helpers.ts';

const chain = `(module
  (memory (export "mem") 1)
  (global $g (export "g") (mut i32) (i32.const 7))
  (func $leaf (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $mid (export "mid") (param i32) (result i32) (call $leaf (i32.add (local.get 0) (i32.const 1))))
  (func $top (export "top") (param i32) (result i32) (call $mid (local.get 0)))
  (func $unused (export "unused") (result i32) (i32.const 99))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "bump") (result i32) (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
)`;

async function withJIT(t: Test, fn: (jit: LazyJIT) => Promise<void>, config: Partial<JITConfig> = {}) {
  await fn(await createJIT(t, config));
}

t.test('adding a module compiles no function body', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    const added = await jit.addModule('main', { wat: chain });
    t.same(added.symbols.map((s) => s.name).sort(), ['bump', 'fac', 'g', 'load', 'mem', 'mid', 'store', 'top', 'unused']);
    t.equal(jit.counters.compiledFunctions, 0);
    const impl = jit.getDylib('main.impl');
    t.ok([...impl.symbols()].every((e) => e.state === SymbolState.NeverSearched), 'no body materialized');
    t.same(
      impl.getLinkOrder().map((e) => e.jd.name),
      ['main'],
      'the impl dylib copies the target link order',
    );
  });
});

t.test('each stub leads to the body of its name in the impl dylib, an alias to its primary name, a body nowhere', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    const added = await jit.addModule('main', {
      wat: `(module
        (func $a (export "a") (export "b") (result i32) (call $hidden))
        (func $hidden (result i32) (i32.const 5))
        (func $c (export "c") (param i64) (result i64) (local.get 0)))`,
    });
    const main = jit.getDylib('main');
    const impl = jit.getDylib('main.impl');
    const target = (jd: typeof main, name: string) => {
      const e = jd.entry(name);
      const t = e && jit.targetOf(e);
      return t && { dylib: t.jd.name, name: t.name, lazy: t.lazy };
    };
    const hidden = `${added.id}:func[1]`;
    t.same(target(main, 'a'), { dylib: 'main.impl', name: 'a', lazy: true });
    t.same(target(main, 'b'), { dylib: 'main', name: 'a', lazy: false }, 'a second export name is an alias');
    t.same(target(main, 'c'), { dylib: 'main.impl', name: 'c', lazy: true });
    t.same(target(main, hidden), { dylib: 'main.impl', name: hidden, lazy: true }, 'a function nobody exports has a stub too');
    for (const name of ['a', 'c', hidden]) t.equal(target(impl, name), undefined, `the body ${name} leads nowhere`);
    t.same([...impl.symbols()].map((e) => e.name), ['a', hidden, 'c'], 'one body per function, in function order');
    t.equal(main.entry(hidden)?.info.flags.isExported, false, 'the private stub is not exported');
    t.equal(impl.entry('c')?.info.flags.isExported, true);
    const viaAlias = await jit.invoke('main', 'b', args());
    t.same(viaAlias.results, [i32(5)], 'the alias calls through the stub into the bodies');
    // Removing the module takes the stubs (and so their targets) away; a new definition of a
    // name starts without one.
    await jit.removeModule('main', added.id);
    t.equal(main.entry('a'), undefined);
    await jit.addModule('main', { wat: '(module (global (export "a") i32 (i32.const 1)))' });
    t.equal(target(main, 'a'), undefined);
  });
});

t.test('lookup resolves the stub and compiles nothing', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain });
    const r = await jit.lookup('main', ['top']);
    const top = r.get('top');
    t.ok(top && top.address > 0, 'stub has an address');
    t.equal(jit.counters.compiledFunctions, 0);
    t.equal(jit.targetOf(top!.entry)?.compiled, false);
    t.equal(jit.getDylib('main.impl').entry('top')?.state, SymbolState.NeverSearched);
  });
});

t.test('a first call compiles exactly the bodies it reaches; later calls compile nothing', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain });
    const first = await jit.invoke('main', 'top', args(i32(4)));
    t.same(first.results, [i32(10)]);
    t.same(first.compiled, ['top', 'mid', 'm1:func[0]']);
    const second = await jit.invoke('main', 'top', args(i32(5)));
    t.same(second.results, [i32(12)]);
    t.same(second.compiled, []);
    const mid = await jit.invoke('main', 'mid', args(i32(0)));
    t.same(mid.compiled, [], 'mid was compiled by the first call');
    t.equal(jit.getDylib('main.impl').entry('unused')?.state, SymbolState.NeverSearched);
    t.match(jit.dumpText(), /"top": 0x[0-9a-f]+ \[Exported\|Callable\] Ready \(lazy -> main\.impl:"top", compiled, baseline\)/);
    t.match(jit.dumpText(), /"unused": <not resolved> \[Exported\|Callable\] NeverSearched/);
  });
});

t.test('self-recursion, memory and globals work across lazily compiled bodies', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain });
    const fac = await jit.invoke('main', 'fac', args({ type: 'i64', bits: '20' }));
    t.same(fac.results, [{ type: 'i64', bits: '2432902008176640000' }]);
    t.same(fac.compiled, ['fac'], 'recursive calls are direct: one body');
    await jit.invoke('main', 'store', args(i32(16), i32(-5)));
    t.same((await jit.invoke('main', 'load', args(i32(16)))).results, [i32(-5)]);
    t.same((await jit.invoke('main', 'bump', args())).results, [i32(8)]);
    const g = await jit.lookupData('main', 'g', 'global');
    t.same(await jit.globalValue(g.entry), i32(8));
    const mem = await jit.readMemory('main', 'mem', 16, 4);
    t.same([...mem.bytes], [0xfb, 0xff, 0xff, 0xff]);
  });
});

t.test('concurrent first calls compile a body once', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain });
    const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => jit.invoke('main', 'top', args(i32(i)))));
    t.same(outs.map((o) => o.results[0]), Array.from({ length: 8 }, (_, i) => i32((i + 1) * 2)));
    t.equal(jit.counters.compiledFunctions, 3);
    t.same(outs.flatMap((o) => o.compiled), ['top', 'mid', 'm1:func[0]']);
  });
});

t.test('eager modules compile whole on first lookup', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain }, { lazy: false });
    t.equal(jit.counters.compiles, 0);
    const out = await jit.invoke('main', 'top', args(i32(1)));
    t.same(out.results, [i32(4)]);
    t.same(out.compiled, ['m1:func[0]', 'mid', 'top', 'unused', 'fac', 'store', 'load', 'bump'], 'the whole module compiled for this call, named as the lazy path names bodies');
    t.same((await jit.invoke('main', 'top', args(i32(1)))).compiled, []);
  });
});

t.test('imports resolve through the link order (env) and by dylib name', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('libm');
    await jit.addModule('libm', { wat: '(module (func (export "sq") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))' });
    jit.createDylib('main', ['main', 'libm']);
    await jit.addModule('main', {
      wat: `(module (import "env" "sq" (func $sq (param i32) (result i32)))
                    (import "libm" "sq" (func $sq2 (param i32) (result i32)))
                    (import "spectest" "print_i32" (func $print (param i32)))
                    (func (export "f") (param i32) (result i32) (call $print (local.get 0)) (call $sq2 (call $sq (local.get 0)))))`,
    });
    const out = await jit.invoke('main', 'f', args(i32(3)));
    t.same(out.results, [i32(81)]);
    t.same(out.output, ['3 : i32']);
    t.same(out.compiled, ['f', 'sq']);
  });
});

t.test('bad modules are refused and define nothing', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await t.rejects(jit.addModule('main', { wat: '(module (func (export "f") (result i32) (i64.const 1)))' }), InvalidModule);
    await t.rejects(jit.addModule('main', { wasm: new Uint8Array([0, 97, 115, 109, 2, 0, 0, 0]) }), InvalidModule);
    const trap = await jit.addModule('main', { wat: '(module (func $s unreachable) (func (export "f")) (start $s))' }).catch((e: unknown) => e);
    t.ok(trap instanceof Trap, 'a trapping start function fails the add with Trap');
    t.same([...jit.getDylib('main').symbols()].map((e) => e.name), [], 'nothing was defined');
    await jit.addModule('main', { wat: '(module (func (export "f")))' });
    await t.rejects(jit.addModule('main', { wat: '(module (func (export "f")))' }), DuplicateDefinition);
    await t.rejects(jit.lookup('main', ['f', 'g']), SymbolsNotFound);
  });
});

t.test('a function import that resolves nowhere fails each call, until it is defined', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    const added = await jit.addModule('main', {
      wat: '(module (import "env" "later" (func $l (result i32))) (func (export "f") (result i32) (call $l)) (func (export "g") (result i32) (i32.const 5)))',
    });
    t.same(added.unresolvedImports.map((i) => i.name), ['later']);
    for (const attempt of [1, 2]) {
      const err = await jit.invoke('main', 'f', args()).catch((e: unknown) => e);
      t.ok(err instanceof FailedToMaterialize, `attempt ${attempt} fails to materialize`);
      t.match((err as Error).message, /later/);
    }
    t.same((await jit.invoke('main', 'g', args())).results, [i32(5)], 'other functions keep working');
    await jit.addModule('main', { wat: '(module (func (export "later") (result i32) (i32.const 42)))' });
    t.same((await jit.invoke('main', 'f', args())).results, [i32(42)]);
  });
});

t.test('a function import of the wrong type is refused at add', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    const err = await jit.addModule('main', { wat: '(module (import "spectest" "print_i32" (func (param i64))))' }).catch((e: unknown) => e);
    t.ok(err instanceof FailedToMaterialize);
    t.match((err as Error).message, /print_i32/);
  });
});

t.test('a start function runs at add and may call lazily compiled functions', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', {
      wat: `(module (memory (export "mem") 1)
        (func $init (i32.store (i32.const 0) (call $value)))
        (func $value (result i32) (i32.const 1234))
        (start $init))`,
    });
    const mem = await jit.readMemory('main', 'mem', 0, 4);
    t.same([...mem.bytes], [0xd2, 0x04, 0, 0]);
  });
});

t.test('partitions follow the call graph, within the budget', async (t) => {
  await withJIT(
    t,
    async (jit) => {
      jit.createDylib('main');
      await jit.addModule('main', { wat: chain });
      const before = jit.counters.compiles;
      const top = await jit.invoke('main', 'top', args(i32(1)));
      t.same(top.results, [i32(4)]);
      t.same(top.compiled, ['top', 'mid', 'm1:func[0]'], 'the call still compiles what it reaches...');
      t.equal(jit.counters.compiles - before, 3, '...but with budget 0 one piece per function (three call-throughs)');
    },
    { partitionBudgetBytes: 0 },
  );
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain });
    const before = jit.counters.compiles;
    const top = await jit.invoke('main', 'top', args(i32(1)));
    t.same(top.compiled, ['top', 'mid', 'm1:func[0]'], 'the default budget: what top statically reaches, breadth first...');
    t.equal(jit.counters.compiles - before, 1, '...in one piece');
    t.same((await jit.invoke('main', 'unused', args())).compiled, ['unused'], 'nothing top reaches is unused');
    t.equal(jit.getDylib('main.impl').entry('fac')?.state, SymbolState.NeverSearched, 'fac, unreached, is not compiled');
  });
});

// $leaf sits in the table (its stub is made when the globals module is linked) and is also
// called directly by $top, so top's partition compiles it.
const tableAndDirect = `(module
  (type $r (func (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $leaf)
  (func $leaf (export "leaf") (type $r) (i32.const 5))
  (func (export "top") (result i32) (i32.add (call $leaf) (call_indirect (type $r) (i32.const 0)))))`;

t.test('a body compiled in another function\'s partition is reached through its stub without a call-through', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: tableAndDirect });
    const before = jit.executor.stats().callThroughs;
    const top = await jit.invoke('main', 'top', args());
    t.same(top.results, [i32(10)]);
    t.same(top.compiled, ['top', 'leaf'], 'one piece: top and the leaf it calls directly');
    t.equal(jit.executor.stats().callThroughs - before, 1, "top's own call-through only: the table's stub of leaf was pointed at its body");
    const leaf = await jit.invoke('main', 'leaf', args());
    t.same(leaf.results, [i32(5)]);
    t.same(leaf.compiled, [], 'already compiled');
    t.equal(jit.executor.stats().callThroughs - before, 1, 'invoking leaf: no call-through either');
  });
});

t.test('a stub made after its body was compiled leads straight to the body', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain });
    await jit.invoke('main', 'top', args(i32(1)));
    const before = jit.executor.stats().callThroughs;
    const mid = await jit.invoke('main', 'mid', args(i32(1)));
    t.same(mid.compiled, [], 'mid was compiled in top\'s partition');
    t.equal(jit.executor.stats().callThroughs - before, 0, "mid's stub, made by this lookup, needed no call-through");
    t.same(mid.results, (await jit.invoke('main', 'mid', args(i32(1)))).results, 'and calls it as before');
  });
});

/** Records the kind of every link op the JIT posts to its executor from now on. */
function recordOps(jit: LazyJIT): string[] {
  const ops: string[] = [];
  const apply = jit.executor.apply.bind(jit.executor);
  jit.executor.apply = (op) => {
    ops.push(op.op);
    return apply(op);
  };
  return ops;
}

t.test('a call-through repoints no stub its body\'s instantiate already pointed; a new target is still sent', async (t) => {
  await withJIT(
    t,
    async (jit) => {
      jit.createDylib('main');
      await jit.addModule('main', { wat: chain });
      await jit.lookup('main', ['top', 'mid']); // the stubs exist before the bodies
      const ops = recordOps(jit);
      const top = await jit.invoke('main', 'top', args(i32(3)));
      t.same(top.results, [i32(8)]);
      t.same(top.compiled, ['top', 'mid', 'm1:func[0]'], 'one piece');
      t.equal(ops.filter((o) => o === 'instantiate').length, 1);
      t.equal(ops.filter((o) => o === 'updatePointer').length, 0, "the instantiate placed top's and mid's bodies in their stubs' slots");
      t.equal(jit.executor.stats().callThroughs, 1, "mid's stub needed no call-through");
      t.same((await jit.invoke('main', 'mid', args(i32(3)))).results, [i32(8)]);

      // The optimized tier is another address: its repoint goes out.
      for (let i = 0; i < 3; i++) await jit.invoke('main', 'top', args(i32(1)));
      await jit.whenIdle();
      t.ok(ops.filter((o) => o === 'updatePointer').length > 0, 'the optimized tier repointed its stubs');
      t.same((await jit.invoke('main', 'top', args(i32(3)))).results, [i32(8)], 'through the optimized tier');
    },
    { reoptimizeThreshold: 2 },
  );
});

t.test('the default budget takes a direct reach of several hundred KB in one piece', async (t) => {
  // Three callees of about 120 KB each (i32.const 1, drop: 3 bytes, 40,000 times): 360 KB, past
  // the earlier 256 KiB default, within the 1 MiB one.
  const big = (name: string) => `(func $${name} (result i32) ${'(drop (i32.const 1)) '.repeat(40_000)}(i32.const 1))`;
  const bytes = watBytes(`(module ${big('a')} ${big('b')} ${big('c')}
    (func (export "top") (result i32) (i32.add (call $a) (i32.add (call $b) (call $c)))))`);
  const run = async (config: Partial<JITConfig>) => {
    let pieces = 0;
    await withJIT(
      t,
      async (jit) => {
        jit.createDylib('main');
        await jit.addModule('main', { wasm: bytes });
        const before = jit.counters.compiles;
        const top = await jit.invoke('main', 'top', args());
        t.same(top.results, [i32(3)]);
        t.equal(top.compiled.length, 4, 'top and its three callees');
        pieces = jit.counters.compiles - before;
      },
      config,
    );
    return pieces;
  };
  t.equal(await run({}), 1, 'the default budget: one piece');
  t.equal(await run({ partitionBudgetBytes: 256 * 1024 }), 2, 'at 256 KiB the third callee is a piece of its own');
});

t.test('removing a dylib removes its impl dylib and leaves others working', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('a');
    jit.createDylib('b');
    await jit.addModule('a', { wat: chain });
    await jit.addModule('b', { wat: chain });
    await jit.invoke('a', 'top', args(i32(1)));
    await jit.removeDylib('a');
    t.equal(jit.session.getJITDylibByName('a.impl'), undefined);
    t.same((await jit.invoke('b', 'top', args(i32(1)))).results, [i32(4)]);
  });
});

t.test('add/remove cycles leave nothing behind in the executor', async (t) => {
  await withJIT(t, async (jit) => {
    const before = jit.executor.stats();
    for (let i = 0; i < 5; i++) {
      jit.createDylib(`c${i}`);
      // No memory, table or global (an empty globals module), and an import that resolves nowhere (a late-bound stub).
      await jit.addModule(`c${i}`, { wat: '(module (import "env" "nowhere" (func (result i32))) (func (export "f") (result i32) (i32.const 1)))' });
      t.same((await jit.invoke(`c${i}`, 'f', args())).results, [i32(1)]);
      await jit.removeDylib(`c${i}`);
    }
    const after = jit.executor.stats();
    t.equal(after.slotsUsed, before.slotsUsed, 'every table slot is released');
    t.equal(after.replayLogOps, before.replayLogOps, 'nothing is left to replay');
  });
});

t.test('removing an impl dylib by itself: calls into it fail, the next lazy add makes a new one', async (t) => {
  await withJIT(t, async (jit) => {
    jit.createDylib('main');
    await jit.addModule('main', { wat: chain });
    await jit.removeDylib('main.impl');
    await t.rejects(jit.invoke('main', 'top', args(i32(1))));
    await jit.addModule('main', { wat: '(module (func (export "h") (result i32) (i32.const 3)))' });
    t.ok(jit.session.getJITDylibByName('main.impl'), 'a new impl dylib');
    t.same((await jit.invoke('main', 'h', args())).results, [i32(3)]);
  });
});

t.test('multi-memory modules work in the baseline tier, lazily and eagerly', async (t) => {
  const bytes = watBytes(
    `(module (memory $a (export "a") 1) (memory $b (export "b") 1 4)
      (data (memory $b) (i32.const 0) "\\2a")
      (func (export "copy") (result i32) (i32.store $a (i32.const 0) (i32.load8_u $b (i32.const 0))) (i32.load $a (i32.const 0)))
      (func (export "growB") (result i32) (memory.grow $b (i32.const 1))))`,
    ['--enable-multi-memory'],
  );
  for (const lazy of [true, false]) {
    await withJIT(t, async (jit) => {
      jit.createDylib('main');
      await jit.addModule('main', { wasm: bytes }, { lazy, optimize: 0 });
      t.same((await jit.invoke('main', 'copy', args())).results, [i32(42)], `lazy: ${lazy}: each memory holds its own data`);
      t.same((await jit.invoke('main', 'growB', args())).results, [i32(1)], `lazy: ${lazy}: the second memory grows through the budget hook`);
      t.equal((await jit.readMemory('main', 'b', 0, 1)).pages, 2);
      t.equal((await jit.readMemory('main', 'a', 0, 4)).bytes[0], 42);
    });
  }
});
