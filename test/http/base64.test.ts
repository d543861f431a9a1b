// The base64 check of request fields (schemas/base64.ts) against zod's own z.base64(), which it
// replaces for speed: both must accept and refuse exactly the same strings.

import t from 'tap';
import { z } from 'zod';
import { base64Field, isBase64 } from '../../schemas/base64.ts';

const zodBase64 = z.base64();
const agrees = (s: string) => isBase64(s) === zodBase64.safeParse(s).success;

t.test('hand-picked strings: valid, padded, and malformed in each way', async (t) => {
  const valid = ['', 'QQ==', 'QUI=', 'QUJD', 'QUJDRA==', '+/+/', 'AAAA////', Buffer.from([0, 255, 1, 254]).toString('base64')];
  const invalid = ['=', '==', '===', '====', 'Q', 'QQ', 'QQ=', 'Q===', 'QQ==QQ==', 'Q=Q=', '=QQQ', 'QQ=Q', 'QUJD ', ' QUJD', 'QU\nJD', 'QU\tJD', 'QUJ-', 'QUJ_', 'QUJ.', 'QUJé', 'QUJ\u0000'];
  for (const s of valid) t.ok(isBase64(s), `accepts ${JSON.stringify(s)}`);
  for (const s of invalid) t.notOk(isBase64(s), `refuses ${JSON.stringify(s)}`);
  for (const s of [...valid, ...invalid]) t.ok(agrees(s), `agrees with z.base64() on ${JSON.stringify(s)}`);
});

t.test('random strings near base64 agree with z.base64()', async (t) => {
  // A fixed-seed generator: mostly alphabet characters, some pads and some strays, lengths
  // around multiples of 4, so that both outcomes are common.
  let seed = 0x2545f491;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const strays = '=-_ \n.é*';
  let accepted = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const len = Math.floor(next() * 14);
    let s = '';
    for (let k = 0; k < len; k++) {
      const r = next();
      s += r < 0.9 ? alphabet[Math.floor(next() * 64)] : r < 0.97 ? '=' : strays[Math.floor(next() * strays.length)];
    }
    if (!agrees(s)) t.fail(`disagrees on ${JSON.stringify(s)}`);
    if (isBase64(s)) accepted++;
  }
  t.ok(accepted > n / 20 && accepted < n - n / 20, `both outcomes occur (${accepted} of ${n} accepted)`);
});

t.test('the field refuses with zod\'s message and documents itself as z.base64()', async (t) => {
  const field = base64Field('some bytes');
  t.same(field.safeParse('QUJD'), { success: true, data: 'QUJD' });
  const bad = field.safeParse('QUJ');
  t.equal(bad.success, false);
  t.same(bad.error?.issues.map((i) => i.message), ['Invalid base64-encoded string']);
  t.equal(field.description, 'some bytes');
});
