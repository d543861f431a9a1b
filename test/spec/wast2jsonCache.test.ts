// The machine-wide wast2json cache: a script is converted once per content, processes racing to
// convert the same content all end up reading one complete conversion, and a changed script is
// converted again. Runs in a private cache directory (WAST2JSON_CACHE_DIR). Needs wast2json.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { cacheRoot, convertCached } from './wast2jsonCache.ts';

function hasWast2json(): boolean {
  try {
    execFileSync('wast2json', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const SCRIPT = `(module (func (export "one") (result i32) (i32.const 1)))
(assert_return (invoke "one") (i32.const 1))
`;

t.test('wast2json output is cached by content', { skip: hasWast2json() ? false : 'wast2json is not installed' }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'wast2json-cache-test-'));
  const saved = process.env['WAST2JSON_CACHE_DIR'];
  process.env['WAST2JSON_CACHE_DIR'] = join(work, 'cache');
  t.teardown(() => {
    if (saved === undefined) delete process.env['WAST2JSON_CACHE_DIR'];
    else process.env['WAST2JSON_CACHE_DIR'] = saved;
    rmSync(work, { recursive: true, force: true });
  });
  t.equal(cacheRoot(), join(work, 'cache'));

  const a = join(work, 'a.wast');
  writeFileSync(a, SCRIPT);
  const first = await convertCached(a);
  t.ok(first.ok, 'converted without complaint');
  const json = JSON.parse(readFileSync(first.jsonPath, 'utf8')) as { commands: { type: string; filename?: string }[] };
  t.same(json.commands.map((c) => c.type), ['module', 'assert_return']);
  const wasm = json.commands[0]?.filename;
  t.ok(wasm !== undefined && statSync(join(first.dir, wasm)).size > 8, 'the module file sits beside the JSON');

  const mtime = statSync(first.jsonPath).mtimeMs;
  const again = await convertCached(a);
  t.equal(again.jsonPath, first.jsonPath, 'the same content is read from the same place');
  t.equal(statSync(again.jsonPath).mtimeMs, mtime, 'and not converted again');

  // Same content under another name: still one conversion.
  const b = join(work, 'b.wast');
  writeFileSync(b, SCRIPT);
  t.equal((await convertCached(b)).jsonPath, first.jsonPath);

  writeFileSync(a, `${SCRIPT}(assert_return (invoke "one") (i32.const 1))\n`);
  const changed = await convertCached(a);
  t.not(changed.dir, first.dir, 'changed content is converted again');
  const changedJson = JSON.parse(readFileSync(changed.jsonPath, 'utf8')) as { commands: unknown[] };
  t.equal(changedJson.commands.length, 3);

  // Racing conversions of new content all read one complete result.
  const c = join(work, 'c.wast');
  writeFileSync(c, `${SCRIPT};; race\n`);
  const raced = await Promise.all([convertCached(c), convertCached(c), convertCached(c), convertCached(c)]);
  t.same(new Set(raced.map((r) => r.jsonPath)).size, 1, 'one place for all of them');
  t.same(
    readdirSync(join(work, 'cache')).filter((f) => f.startsWith('tmp-')),
    [],
    'no scratch directory is left behind',
  );
  t.equal((JSON.parse(readFileSync(raced[0]!.jsonPath, 'utf8')) as { commands: unknown[] }).commands.length, 2);
});
