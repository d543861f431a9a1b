// The executor's watchdog (src/executor/Watchdog.ts): it fires once per armed limit that runs
// out, never before the limit armed last, never after a disarm, and its timer, kept across
// arms, does not hold the process open while disarmed.

import t from 'tap';
import { Watchdog } from '../../src/executor/Watchdog.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A watchdog whose expiries are recorded with the time since the last arm. */
function recorded() {
  const fired: { limitMs: number; afterMs: number }[] = [];
  let armedAt = 0;
  const dog = new Watchdog((limitMs) => fired.push({ limitMs, afterMs: performance.now() - armedAt }));
  const arm = (ms: number) => {
    armedAt = performance.now();
    dog.arm(ms);
  };
  return { dog, fired, arm };
}

t.test('an armed limit that runs out fires once, with that limit, not before it', async (t) => {
  const { fired, arm } = recorded();
  arm(30);
  await sleep(120);
  t.equal(fired.length, 1);
  t.equal(fired[0]?.limitMs, 30);
  t.ok((fired[0]?.afterMs ?? 0) >= 30, `fired ${fired[0]?.afterMs} ms after the arm`);
});

t.test('a disarm stops it, however often it was armed', async (t) => {
  const { dog, fired, arm } = recorded();
  for (let i = 0; i < 1000; i++) {
    arm(20);
    dog.disarm();
  }
  await sleep(100);
  t.same(fired, []);
});

t.test('a longer limit armed after a shorter one waits for the longer', async (t) => {
  const { fired, arm } = recorded();
  arm(20);
  arm(80);
  await sleep(250);
  t.equal(fired.length, 1);
  t.equal(fired[0]?.limitMs, 80);
  t.ok((fired[0]?.afterMs ?? 0) >= 80, `fired ${fired[0]?.afterMs} ms after the second arm`);
});

t.test('a shorter limit armed after a longer one fires at the shorter', async (t) => {
  const { dog, fired, arm } = recorded();
  arm(60_000);
  arm(20);
  await sleep(150);
  t.equal(fired.length, 1);
  t.equal(fired[0]?.limitMs, 20);
  dog.disarm();
});

t.test('calls in a row: each one limited by its own arm, the last one fires', async (t) => {
  const { dog, fired, arm } = recorded();
  for (let i = 0; i < 5; i++) {
    arm(40);
    await sleep(15);
    dog.disarm();
  }
  t.same(fired, [], 'none of the calls ran past its limit');
  arm(40);
  await sleep(200);
  t.equal(fired.length, 1);
  t.ok((fired[0]?.afterMs ?? 0) >= 40);
});

t.test('disarmed, the kept timer does not hold the process open', async (t) => {
  const { dog, arm } = recorded();
  arm(60_000);
  dog.disarm();
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  arm(60_000);
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timers + 1, 'armed: one more referenced timer');
  dog.disarm();
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timers, 'disarmed: not counted');
});

t.test('stop drops the kept timer: nothing fires, nothing is scheduled', async (t) => {
  const { dog, fired, arm } = recorded();
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  arm(20);
  dog.stop();
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
  await sleep(80);
  t.same(fired, []);
  arm(20);
  await sleep(100);
  t.equal(fired.length, 1, 'armed again after stop, it works');
});
