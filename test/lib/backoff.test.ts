import t from 'tap';
import { backoffCeilingMs, createBackoff, equalJitterDelay, fullJitterDelay } from '../../lib/backoff.ts';

void t.test('ceiling doubles from the base and stops at the cap, without overflowing', async (t) => {
  t.same([1, 2, 3, 4].map((a) => backoffCeilingMs(a, 100, 10_000)), [100, 200, 400, 800]);
  t.equal(backoffCeilingMs(8, 100, 10_000), 10_000);
  t.equal(backoffCeilingMs(5000, 100, 10_000), 10_000, 'huge attempt counts stay finite');
  t.equal(backoffCeilingMs(0, 100, 10_000), 100, 'attempt 0 is treated as the first');
});

void t.test('full jitter stays in [0, ceiling)', async (t) => {
  t.equal(fullJitterDelay(1, 100, 10_000, 0), 0);
  t.equal(fullJitterDelay(1, 100, 10_000, 0.999999), 99);
  t.equal(fullJitterDelay(3, 100, 10_000, 0.5), 200);
  t.equal(fullJitterDelay(3, 100, 10_000, -5), 0, 'a negative draw is clamped');
  t.equal(fullJitterDelay(3, 100, 10_000, 7), 400, 'an oversized draw is clamped');
  for (let i = 0; i < 500; i++) {
    const d = fullJitterDelay(4, 100, 10_000, Math.random());
    if (d < 0 || d >= 800) t.fail(`out of bounds: ${d}`);
  }
});

void t.test('equal jitter stays in [ceiling/2, ceiling]', async (t) => {
  t.equal(equalJitterDelay(1, 500, 30_000, 0), 250);
  t.equal(equalJitterDelay(1, 500, 30_000, 1), 500);
  t.equal(equalJitterDelay(3, 500, 30_000, 0.5), 1500);
  t.equal(equalJitterDelay(20, 500, 30_000, 1), 30_000);
  t.equal(equalJitterDelay(20, 500, 30_000, 0), 15_000, 'the floor is half the cap');
});

void t.test('createBackoff counts attempts, resets, and uses the chosen jitter', async (t) => {
  let r = 0.999999;
  const b = createBackoff({ baseMs: 100, capMs: 1000, random: () => r });
  t.same([b.next(), b.next(), b.next(), b.next(), b.next()], [99, 199, 399, 799, 999]);
  t.equal(b.attempts, 5);
  b.reset();
  t.equal(b.attempts, 0);
  r = 0.5;
  t.equal(b.next(), 50, 'starts over after reset');
  const e = createBackoff({ baseMs: 100, capMs: 1000, random: () => 0, jitter: 'equal' });
  t.same([e.next(), e.next()], [50, 100]);
});
