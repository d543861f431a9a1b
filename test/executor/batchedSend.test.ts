// BatchedSend: what one turn of the event loop sends goes out as one batch, in order; a held
// sender keeps everything until released.

import t from 'tap';
import { BatchedSend } from '../../src/executor/batchedSend.ts';

const turn = () => new Promise((r) => setImmediate(r));

t.test('messages of one turn go out together, in order; later turns get batches of their own', async (t) => {
  const batches: number[][] = [];
  const out = new BatchedSend<number>((b) => batches.push(b));
  out.push(1);
  out.push(2);
  await Promise.resolve();
  out.push(3);
  t.same(batches, [], 'nothing is sent synchronously or at the next microtask');
  await turn();
  out.push(4);
  await turn();
  t.same(batches, [[1, 2, 3], [4]]);
});

t.test('held: nothing goes out until release, then everything at once; discard drops the queue', async (t) => {
  const batches: string[][] = [];
  const out = new BatchedSend<string>((b) => batches.push(b), { held: true });
  out.push('a');
  await turn();
  out.push('b');
  await turn();
  t.same(batches, []);
  out.release();
  t.same(batches, [['a', 'b']], 'released synchronously, in order');
  out.push('c');
  out.discard();
  await turn();
  t.same(batches, [['a', 'b']], 'a discarded message is never sent');
});
