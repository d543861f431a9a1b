// Link-op ordering without a worker: OpSequencer (what the worker applies when, including ops
// sent while an instantiate's start function is blocked in a call-through) and ReplayLog
// (what a fresh worker must replay, compacted on release).

import t from 'tap';
import { OpSequencer } from '../../src/executor/OpSequencer.ts';
import type { LinkOp, LinkOpInput } from '../../src/executor/protocol.ts';
import { ReplayLog } from '../../src/executor/ReplayLog.ts';

const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
let seq = 1;
const op = (o: LinkOpInput): LinkOp => ({ ...o, seq: seq++ }) as LinkOp;
const inst = (exports: number[], imports: number[] = []): LinkOp =>
  op({
    op: 'instantiate',
    label: 'x',
    bytes,
    exports: exports.map((addr) => ({ name: `e${addr}`, kind: 'function', addr })),
    imports: imports.map((addr) => ({ module: 'env', name: `i${addr}`, kind: 'function', addr })),
    tableElements: 0,
  });
const ptr = (ptrAddr: number, targetAddr: number): LinkOp => op({ op: 'updatePointer', ptrAddr, targetAddr });

t.test('ops that depend on an instantiate in progress wait for it; others go at once', async (t) => {
  const order: string[] = [];
  const a = inst([102]);
  const b = ptr(101, 102); // needs A's export
  const c = inst([122]);
  const d = ptr(121, 122);
  const e = ptr(140, 141); // independent, but sent after B: still fine to go
  const seqr: OpSequencer = new OpSequencer((o) => {
    order.push(`start ${o.seq}`);
    if (o === a) {
      // A's start function reaches a call-through; main's ops arrive meanwhile.
      for (const x of [b, c, d, e]) seqr.submit(x);
      t.equal(seqr.heldCount, 1, 'only B is held while A runs');
    }
    order.push(`end ${o.seq}`);
  });
  seqr.submit(a);
  t.same(order, [`start ${a.seq}`, `start ${c.seq}`, `end ${c.seq}`, `start ${d.seq}`, `end ${d.seq}`, `start ${e.seq}`, `end ${e.seq}`, `end ${a.seq}`, `start ${b.seq}`, `end ${b.seq}`]);
  t.equal(seqr.heldCount, 0);
});

t.test('a start function sent while another runs waits for it: start functions never nest', async (t) => {
  // A replay posts every op at once: module A's start reaches a call-through, and the drain
  // that finds A's body (its instantiate and pointer) also finds B's globals and B's start.
  const order: string[] = [];
  const startA = op({ op: 'runStart', label: 'A', addr: 200 });
  const bodyA = inst([202]);
  const linkA = ptr(201, 202);
  const globalsB = inst([210]);
  const startB = op({ op: 'runStart', label: 'B', addr: 211 });
  const startC = op({ op: 'runStart', label: 'C', addr: 212 });
  const seqr: OpSequencer = new OpSequencer((o) => {
    order.push(`start ${o.seq}`);
    if (o === startA) {
      for (const x of [bodyA, linkA, globalsB, startB, startC]) seqr.submit(x);
      t.equal(seqr.heldCount, 2, "B's and C's start functions wait; A's body, its pointer and B's globals go at once");
    }
    order.push(`end ${o.seq}`);
  });
  seqr.submit(startA);
  const ran = (o: LinkOp) => [`start ${o.seq}`, `end ${o.seq}`];
  t.same(order, [`start ${startA.seq}`, ...ran(bodyA), ...ran(linkA), ...ran(globalsB), `end ${startA.seq}`, ...ran(startB), ...ran(startC)]);
  t.equal(seqr.heldCount, 0);
});

t.test('an op touching an address of a held op is held behind it', async (t) => {
  const order: number[] = [];
  const a = inst([10]);
  const b = ptr(11, 10);
  const c = ptr(11, 12); // same pointer as B: must stay after B
  const seqr: OpSequencer = new OpSequencer((o) => {
    if (o === a) {
      seqr.submit(b);
      seqr.submit(c);
    }
    order.push(o.seq);
  });
  seqr.submit(a);
  t.same(order, [a.seq, b.seq, c.seq]);
});

t.test('replay log: send order, compaction on release', async (t) => {
  const log = new ReplayLog();
  const stubs = op({ op: 'createStubs', stubs: [{ stubAddr: 20, ptrAddr: 21, callThroughId: 1, type: { params: [], results: [] } }] });
  const body1 = inst([22]);
  const p1 = ptr(21, 22);
  const body2 = inst([23]);
  const p2 = ptr(21, 23); // supersedes p1
  const user = inst([30], [20]);
  for (const o of [stubs, body1, p1, body2, p2, user]) log.add(o);
  // Acks may come out of send order (nested ops); replay is still in send order.
  for (const o of [stubs, body2, p2, body1, p1, user]) log.markApplied(o.seq);
  t.same(log.ops().map((o) => o.seq), [stubs, body1, p1, body2, p2, user].map((o) => o.seq));

  const rel = op({ op: 'release', addrs: [22] });
  log.add(rel);
  log.markApplied(rel.seq);
  t.same(log.ops().map((o) => o.seq), [stubs, body2, p2, user].map((o) => o.seq), 'body1 and the superseded pointer are dropped');

  const rel2 = op({ op: 'release', addrs: [20, 21] });
  log.add(rel2);
  log.markApplied(rel2.seq);
  const kept = log.ops();
  t.same(
    kept.map((o) => o.seq),
    [stubs, body2, user, rel2].map((o) => o.seq),
    'the user module imports the stub, so the stubs stay, and the release with them; the pointer update goes',
  );
  t.same(kept.at(-1), { ...rel2, addrs: [20, 21] }, 'the release still clears the trampoline the stubs op placed at 21');
  t.equal(log.liveFunctionAddrs(), 2, 'addresses 23 and 30');
});

t.test('replay log: an op that places nothing stays only while what it reaches is kept', async (t) => {
  const log = new ReplayLog();
  const apply = (o: LinkOp): LinkOp => {
    log.add(o);
    log.markApplied(o.seq);
    return o;
  };
  const release = (...addrs: number[]) => apply(op({ op: 'release', addrs }));
  // An empty globals module: no imports, no exports. Nothing can observe its instantiation.
  const empty = apply(inst([]));
  // One that imports a host entity (an address no op placed, like spectest's): kept.
  const host = apply(inst([], [3]));
  // A defines f (40) and g (41); B places nothing but imports f: its start may have changed f's state.
  const a = apply(inst([40, 41]));
  const b = apply(inst([], [40]));
  // C defines h (50); D places nothing and imports h.
  const c = apply(inst([50]));
  const d = apply(inst([], [50]));
  release(99); // compaction runs on every applied release
  t.same(log.ops().map((o) => o.seq), [host, a, b, c, d].map((o) => o.seq), 'the empty one goes at the first compaction');

  release(50);
  t.same(log.ops().map((o) => o.seq), [host, a, b].map((o) => o.seq), 'once h is released, C and D reach nothing live and go');

  const releaseF = release(40);
  t.same(
    log.ops().map((o) => o.seq),
    [host, a, b, releaseF].map((o) => o.seq),
    'f is released but A stays for g, so B (which reaches A) stays, and the release of f with it',
  );
  release(41);
  t.same(log.ops().map((o) => o.seq), [host.seq], 'with A gone entirely, B goes too');
});
