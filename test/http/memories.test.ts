// Reading and writing memories: path forms, the query/body forms for any symbol name, and the
// memory-page limit.

import t from 'tap';
import { addWat, apiError, build, call, createDylib, invoke, json } from './helper.ts';

interface Read {
  offset: number;
  length: number;
  base64: string;
  pages: number;
}

const MEMORY = `(module
  (memory (export "mem") 1 3)
  (data (i32.const 16) "hello")
  (func (export "grow") (result i32) i32.const 1 memory.grow)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u))`;
const ODD_MEMORY = '(module (memory (export "my mem/0") 1))';

t.test('read by path: bytes, offset, length, pages', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', MEMORY);
  const res = await call(app, 'GET', '/dylibs/main/memories/mem?offset=16&length=5');
  t.equal(res.statusCode, 200);
  const r = json<Read>(res);
  t.same(r, { offset: 16, length: 5, base64: Buffer.from('hello').toString('base64'), pages: 1 });

  const tail = json<Read>(await call(app, 'GET', '/dylibs/main/memories/mem?offset=65530'));
  t.equal(tail.length, 6, 'without length: to the end of the memory');
  t.equal(Buffer.from(tail.base64, 'base64').length, 6);

  await invoke(app, 'main', 'grow');
  t.equal(json<Read>(await call(app, 'GET', '/dylibs/main/memories/mem?length=0')).pages, 2, 'pages follow memory.grow');
});

t.test('write by path, read back, and the wasm code sees it', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', MEMORY);
  const w = await call(app, 'PUT', '/dylibs/main/memories/mem', { offset: 100, base64: Buffer.from([7, 8, 9]).toString('base64') });
  t.equal(w.statusCode, 200);
  t.same(json(w), { offset: 100, length: 3 });
  const r = json<Read>(await call(app, 'GET', '/dylibs/main/memories/mem?offset=99&length=5'));
  t.same([...Buffer.from(r.base64, 'base64')], [0, 7, 8, 9, 0]);
  t.equal(json<{ results: { value: number }[] }>(await invoke(app, 'main', 'load', [101])).results[0]?.value, 8);
});

t.test('query and body forms name the memory with any string', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', ODD_MEMORY);
  const w = await call(app, 'PUT', '/dylibs/main/memories', { symbol: 'my mem/0', offset: 0, base64: Buffer.from('abc').toString('base64') });
  t.equal(w.statusCode, 200);
  const r = await call(app, 'GET', `/dylibs/main/memories?symbol=${encodeURIComponent('my mem/0')}&length=3`);
  t.equal(r.statusCode, 200);
  t.equal(Buffer.from(json<Read>(r).base64, 'base64').toString(), 'abc');
  const byPath = await call(app, 'GET', `/dylibs/main/memories/${encodeURIComponent('my mem/0')}?length=3`);
  t.equal(json<Read>(byPath).base64, json<Read>(r).base64, 'the same memory by path');
  const spectest = json<Read>(await call(app, 'GET', '/dylibs/spectest/memories/memory?length=1'));
  t.equal(spectest.pages, 1, "spectest's memory: one page");
});

t.test('memory errors', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', MEMORY);
  for (const q of ['offset=-1', 'offset=abc', 'offset=1.5', 'length=x']) {
    const e = apiError(t, await call(app, 'GET', `/dylibs/main/memories/mem?${q}`), 400, 'BadRequest');
    t.match(e.paths, [/^querystring\//], q);
  }
  const b64 = apiError(t, await call(app, 'PUT', '/dylibs/main/memories/mem', { offset: 0, base64: '***' }), 400, 'BadRequest');
  t.same(b64.paths, ['body/base64']);
  apiError(t, await call(app, 'PUT', '/dylibs/main/memories/mem', { offset: -4, base64: '' }), 400, 'BadRequest');
  apiError(t, await call(app, 'PUT', '/dylibs/main/memories', { offset: 0, base64: '' }), 400, 'BadRequest');
  apiError(t, await call(app, 'GET', '/dylibs/main/memories'), 400, 'BadRequest');
  // Outside the memory's current size (1 page): the client's error, not a 500.
  for (const q of ['offset=65530&length=10', 'offset=70000', 'offset=999999999999999&length=999999999999999']) {
    const e = apiError(t, await call(app, 'GET', `/dylibs/main/memories/mem?${q}`), 400, 'BadRequest');
    t.equal(e.memory, 'mem', q);
  }
  const over = apiError(t, await call(app, 'PUT', '/dylibs/main/memories/mem', { offset: 65534, base64: Buffer.from('abc').toString('base64') }), 400, 'BadRequest');
  t.same([over.offset, over.length], [65534, 3]);
  apiError(t, await call(app, 'PUT', '/dylibs/main/memories', { symbol: 'mem', offset: 70000, base64: '' }), 400, 'BadRequest');
  const nf = apiError(t, await call(app, 'GET', '/dylibs/main/memories/nope'), 404, 'SymbolsNotFound');
  t.same(nf.symbols, ['nope']);
  apiError(t, await call(app, 'GET', '/dylibs/ghost/memories/mem'), 404, 'DylibNotFound');
});

t.test('a read answers the JSON text of its schema, byte for byte, in both forms', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', MEMORY);
  await addWat(app, 'main', ODD_MEMORY);
  // Bytes of every value, so the base64 holds "+", "/" and padding.
  const bytes = Buffer.from(new Uint8Array(1000).map((_, i) => (i * 37 + 200) & 255));
  await call(app, 'PUT', '/dylibs/main/memories/mem', { offset: 1, base64: bytes.toString('base64') });
  await call(app, 'PUT', '/dylibs/main/memories', { symbol: 'my mem/0', offset: 7, base64: bytes.toString('base64') });
  for (const [url, offset, length, pages] of [
    ['/dylibs/main/memories/mem?offset=1&length=1000', 1, 1000, 1],
    ['/dylibs/main/memories?symbol=my%20mem%2F0&offset=7&length=1000', 7, 1000, 1],
    ['/dylibs/main/memories/mem?offset=65536', 65536, 0, 1],
  ] as const) {
    const res = await call(app, 'GET', url);
    t.equal(res.statusCode, 200, url);
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    const base64 = length === 0 ? '' : bytes.toString('base64');
    t.equal(res.body, JSON.stringify({ offset, length, base64, pages }), url);
    t.equal(Number(res.headers['content-length']), res.rawPayload.length);
  }
  const whole = await call(app, 'GET', '/dylibs/main/memories/mem');
  t.equal(json<Read>(whole).length, 65536, 'to the end of the memory by default');
  t.same(Buffer.from(json<Read>(whole).base64, 'base64').subarray(1, 1001), bytes);
});

t.test('base64 in writes: malformed strings are refused and write nothing; a large one round-trips', async (t) => {
  const { app } = await build(t);
  await createDylib(app, 'main');
  await addWat(app, 'main', MEMORY);
  const before = json<Read>(await call(app, 'GET', '/dylibs/main/memories/mem')).base64;
  // Each is one or two characters from valid ("QUJD" is "ABC"): bad length, a pad inside or
  // too many, whitespace, a character outside the alphabet, base64url's alphabet.
  for (const bad of ['QUJ', 'QUJDR', 'Q===', 'QQ==QUJD', 'QU=D', ' QUJD', 'QUJD\n', 'QU JD', 'QUJ*', 'QUJ-', 'QUJ_', 'QUJé']) {
    for (const [url, body] of [
      ['/dylibs/main/memories/mem', { offset: 0, base64: bad }],
      ['/dylibs/main/memories', { symbol: 'mem', offset: 0, base64: bad }],
    ] as const) {
      const e = apiError(t, await call(app, 'PUT', url, body), 400, 'BadRequest');
      t.same(e.paths, ['body/base64'], `${JSON.stringify(bad)} at ${url}`);
      t.same(e.issues, [{ path: 'body/base64', message: 'Invalid base64-encoded string' }]);
    }
  }
  t.equal(json<Read>(await call(app, 'GET', '/dylibs/main/memories/mem')).base64, before, 'nothing was written');

  // One of each padding, then a whole page of every byte value.
  for (const [b64, bytes] of [['QUJD', [65, 66, 67]], ['QUI=', [65, 66]], ['QQ==', [65]]] as const) {
    t.equal((await call(app, 'PUT', '/dylibs/main/memories/mem', { offset: 100, base64: b64 })).statusCode, 200, b64);
    t.same([...Buffer.from(json<Read>(await call(app, 'GET', '/dylibs/main/memories/mem?offset=100&length=3')).base64, 'base64')].slice(0, bytes.length), bytes);
  }
  const page = Buffer.from(new Uint8Array(65536).map((_, i) => (i * 7 + 3) & 255));
  const w = await call(app, 'PUT', '/dylibs/main/memories/mem', { offset: 0, base64: page.toString('base64') });
  t.same(json(w), { offset: 0, length: 65536 });
  t.equal(json<Read>(await call(app, 'GET', '/dylibs/main/memories/mem')).base64, page.toString('base64'));
});

t.test('ResourceExhausted: a memory over MEMORY_LIMIT_PAGES', async (t) => {
  const { app } = await build(t, { memoryLimitPages: 16 });
  await createDylib(app, 'main');
  // The limit may be enforced when the module is added or when the memory is first needed.
  const add = await call(app, 'POST', '/dylibs/main/modules', { wat: '(module (memory (export "big") 17))' });
  const res = add.statusCode === 201 ? await call(app, 'GET', '/dylibs/main/memories/big?length=1') : add;
  const e = apiError(t, res, 422, 'ResourceExhausted');
  t.type(e.message, 'string');
  const ok = await call(app, 'POST', '/dylibs/main/modules', { wat: '(module (memory (export "fits") 16))' });
  t.equal(ok.statusCode, 201, 'at the limit is fine');
});
