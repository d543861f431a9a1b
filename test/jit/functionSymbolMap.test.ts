// FunctionSymbolMap behaves as the Map of a module's function symbols it replaces, and private
// function names parse back to their indices only when canonical.

import t from 'tap';
import { JITSymbolFlags } from '../../src/core/SymbolFlags.ts';
import type { SymbolInterface } from '../../src/core/SymbolDefinition.ts';
import { FunctionSymbolMap } from '../../src/jit/FunctionSymbolMap.ts';
import { privateFunctionIndex, privateFunctionSymbolName } from '../../src/jit/names.ts';

t.test('privateFunctionIndex inverts privateFunctionSymbolName and refuses everything else', async (t) => {
  for (const i of [0, 7, 19_999, 4_294_967_295]) t.equal(privateFunctionIndex('m12', privateFunctionSymbolName('m12', i)), i);
  for (const name of ['m12:func[]', 'm12:func[007]', 'm12:func[1e3]', 'm12:func[-1]', 'm12:func[3', 'm1:func[3]', 'm123:func[3]', 'x12:func[3]', 'm12:fun[3]', 'main']) {
    t.equal(privateFunctionIndex('m12', name), undefined, name);
  }
});

// Functions 0 and 1 imported (no name), 2 exported as "run", 3..5 private, 6 kept out.
const names: (string | undefined)[] = [undefined, undefined, 'run', 'm1:func[3]', 'm1:func[4]', 'm1:func[5]', undefined];
const indexOf = (name: string) => {
  if (name === 'run') return 2;
  const i = privateFunctionIndex('m1', name);
  return i !== undefined && names[i] === name ? i : undefined;
};
const symbolOf = (index: number): SymbolInterface & { index: number } => ({ flags: JITSymbolFlags.ExportedCallable, kind: 'function', index });

function makeMap() {
  return new FunctionSymbolMap({ names, indexOf, symbol: symbolOf });
}

t.test('the map holds the named functions, as a Map of them would', async (t) => {
  const map = makeMap();
  map.delete('m1:func[4]');
  const reference = new Map(names.flatMap((n, i) => (n !== undefined && i !== 4 ? [[n, symbolOf(i)] as const] : [])));
  t.equal(map.size, reference.size);
  t.same([...map.keys()], [...reference.keys()], 'keys in function order');
  t.same([...map.entries()], [...reference.entries()]);
  t.same([...map], [...reference], 'iterable as entries');
  t.same([...map.values()], [...reference.values()]);
  const seen: string[] = [];
  map.forEach((v, k, m) => {
    t.equal(m, map);
    t.equal(v.index, names.indexOf(k));
    seen.push(k);
  });
  t.same(seen, [...reference.keys()]);
  t.same(map.get('m1:func[5]'), symbolOf(5));
  t.equal(map.get('m1:func[4]'), undefined, 'deleted');
  t.notOk(map.has('m1:func[4]'));
  t.notOk(map.has('m1:func[6]'), 'a function without a name');
  t.notOk(map.has('m1:func[05]'), 'a non-canonical spelling');
  t.ok(map.hasIndex(3));
  t.notOk(map.hasIndex(4));
});

t.test('delete drops one function, once; forEach sees deletions made during it', async (t) => {
  const map = makeMap();
  t.equal(map.delete('m1:func[3]'), true);
  t.equal(map.delete('m1:func[3]'), false, 'not twice');
  t.equal(map.delete('nothing'), false);
  t.equal(map.size, 3);
  t.notOk(map.has('m1:func[3]'));
  t.notOk(map.hasIndex(3));
  const seen: string[] = [];
  map.forEach((_v, k) => {
    seen.push(k);
    if (k === 'run') map.delete('m1:func[5]');
  });
  t.same(seen, ['run', 'm1:func[4]'], 'the function deleted before its turn is skipped');
  t.equal(map.size, 2);
});
