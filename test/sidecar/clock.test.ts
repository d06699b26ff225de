/** The sidecar's epoch clock: anchored at a millisecond edge of the wall clock, past stalls. */
import t from 'tap';
import { bestBracket, createEpochClock, epochAtPerformanceZero, wallClockEdge } from '../../sidecar/clock.ts';
import { rng } from '../helpers/rng.ts';

/**
 * A monotonic clock (ns) that moves 1 µs per read, and a wall clock in whole milliseconds on top
 * of it whose true time at monotonic zero is `wallAtZeroNs`. `stalls` maps a wall-clock read's
 * number (from 1) to a pause just before it, as a GC or a wait for a CPU; `stallsAfter` to a
 * pause just after it, before the monotonic read that follows.
 */
function fakeClocks(wallAtZeroNs: bigint, stalls: (read: number) => bigint = () => 0n, stallsAfter: (read: number) => bigint = () => 0n) {
  let mono = 1_000_000_000n;
  let reads = 0;
  const hrtime = (): bigint => (mono += 1000n);
  const dateNow = (): number => {
    mono += stalls(++reads);
    const ms = Number((wallAtZeroNs + mono) / 1_000_000n);
    mono += stallsAfter(reads);
    return ms;
  };
  return { hrtime, dateNow, truth: (): bigint => wallAtZeroNs + mono, truthAt: (at: bigint): bigint => wallAtZeroNs + at, reads: () => reads };
}

// A wall time with a fraction of a millisecond that Date.now() cannot show.
const TRUTH_AT_ZERO = 1_796_590_289_262_345_600n;

function offBy(clock: () => bigint, truth: () => bigint): bigint {
  const now = clock();
  return now - truth();
}

void t.test('the epoch is the wall clock\'s millisecond edge, to a few microseconds', async (t) => {
  const clocks = fakeClocks(TRUTH_AT_ZERO);
  const clock = createEpochClock({ dateNow: clocks.dateNow, hrtime: clocks.hrtime });
  const off = offBy(clock, clocks.truth);
  t.ok(off > -3_000n && off < 3_000n, `within 3 µs of the true wall time, not Date.now()'s whole millisecond (off by ${off} ns)`);
});

void t.test('a stall inside a try (15 ms, as a GC or a wait for a CPU) does not shift the epoch', async (t) => {
  const clocks = fakeClocks(TRUTH_AT_ZERO, (read) => (read === 2 ? 15_000_000n : 0n));
  const clock = createEpochClock({ dateNow: clocks.dateNow, hrtime: clocks.hrtime });
  const off = offBy(clock, clocks.truth);
  t.ok(off > -3_000n && off < 3_000n, `within 3 µs (off by ${off} ns)`);
  const alone = fakeClocks(TRUTH_AT_ZERO, (read) => (read === 2 ? 15_000_000n : 0n));
  const edge = wallClockEdge(alone.dateNow, alone.hrtime);
  t.ok(edge.gap >= 15_000_000n, `the stalled try says how wide its bracket is (${edge.gap} ns)`);
});

void t.test('a stall just after a wall-clock read (10 ms, the thread waiting for a CPU) is not taken for a frozen wall clock', async (t) => {
  // Read 2 (the try's first in its loop) still shows the first reading; the monotonic read after
  // it comes 10 ms late. The wall clock moved meanwhile, as the next read shows.
  const alone = fakeClocks(TRUTH_AT_ZERO, () => 0n, (read) => (read === 2 ? 10_000_000n : 0n));
  const edge = wallClockEdge(alone.dateNow, alone.hrtime);
  t.not(edge.final, true, 'not given up on: the wall clock moved');
  t.ok(edge.gap >= 10_000_000n, `the try says how wide its bracket is (${edge.gap} ns)`);
  const off = edge.wallNs - alone.truthAt(edge.at);
  t.ok(off >= -edge.gap / 2n && off <= edge.gap / 2n, `the edge is inside its bracket (off by ${off} ns)`);
  const clocks = fakeClocks(TRUTH_AT_ZERO, () => 0n, (read) => (read === 2 ? 10_000_000n : 0n));
  const clock = createEpochClock({ dateNow: clocks.dateNow, hrtime: clocks.hrtime });
  const drift = offBy(clock, clocks.truth);
  t.ok(drift > -3_000n && drift < 3_000n, `another try anchors the clock within 3 µs, not 4.5 ms early (off by ${drift} ns)`);
});

void t.test('wallClockEdge: wherever a moving wall clock\'s reads are stalled, the edge is inside its bracket and not final', async (t) => {
  for (let seed = 1; seed <= 500; seed++) {
    const random = rng(seed);
    // Up to three pauses of up to 30 ms, before or after any of the first twenty reads.
    const before = new Map<number, bigint>();
    const after = new Map<number, bigint>();
    for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
      (random() < 0.5 ? before : after).set(1 + Math.floor(random() * 20), BigInt(Math.floor(random() * 30_000_000)));
    }
    const truthAtZero = TRUTH_AT_ZERO + BigInt(Math.floor(random() * 1_000_000));
    const clocks = fakeClocks(truthAtZero, (read) => before.get(read) ?? 0n, (read) => after.get(read) ?? 0n);
    const edge = wallClockEdge(clocks.dateNow, clocks.hrtime);
    const off = edge.wallNs - clocks.truthAt(edge.at);
    if (edge.final === true || off < -edge.gap / 2n || off > edge.gap / 2n) {
      t.fail(`seed ${seed}: final ${edge.final}, off by ${off} ns with a bracket of ${edge.gap} ns`, { before: [...before], after: [...after] });
      return;
    }
  }
  t.pass('500 stalled conversations, every edge honest');
});

void t.test('wallClockEdge: a wall clock that does not move gives up, its bracket the whole wait', async (t) => {
  let mono = 0n;
  const edge = wallClockEdge(() => 1_000, () => (mono += 10_000n));
  t.equal(edge.wallNs, 1_000_500_000n, 'the reading plus half a millisecond');
  t.equal(edge.gap, 5_000_000n);
  t.ok(mono >= 5_000_000n && mono < 5_100_000n, 'after 5 ms of waiting');
  t.equal(edge.final, true, 'no other try can do better');
});

void t.test('a wall clock that does not move is waited for once, not once per try', async (t) => {
  let mono = 0n;
  const clock = createEpochClock({ dateNow: () => 1_000, hrtime: () => (mono += 10_000n) });
  t.ok(mono >= 5_000_000n && mono < 5_100_000n, `one 5 ms wait (${Number(mono) / 1e6} ms)`);
  const now = clock();
  t.ok(now >= 1_000_500_000n && now < 1_000_600_000n, `the frozen reading plus half a millisecond (${now})`);
});

void t.test('every try stalled: the one with the smallest bracket is kept, and it holds the truth', async (t) => {
  // Each read pauses a different 60–400 µs: no bracket is good enough to stop early.
  const clocks = fakeClocks(TRUTH_AT_ZERO, (read) => 60_000n + BigInt((read * 7919) % 341) * 1_000n);
  const clock = createEpochClock({ dateNow: clocks.dateNow, hrtime: clocks.hrtime });
  const off = offBy(clock, clocks.truth);
  t.ok(off > -400_000n && off < 400_000n, `within half the worst bracket (off by ${off} ns)`);
  t.ok(clocks.reads() > 8 * 2, `eight tries were made (${clocks.reads()} reads)`);
});

void t.test('bestBracket: stops at the first good try, else keeps the smallest gap of eight', async (t) => {
  const script = (gaps: bigint[]) => {
    let calls = 0;
    return { once: () => ({ gap: gaps[calls], n: calls++ }), calls: () => calls };
  };
  const good = script([9_000_000n, 10_000n, 8_000_000n]);
  t.same(bestBracket(good.once), { gap: 10_000n, n: 1 });
  t.equal(good.calls(), 2, 'no try after a good one');
  const bad = script([9_000_000n, 8_000_000n, 7_000_000n, 200_000n, 6_000_000n, 5_000_000n, 4_000_000n, 3_000_000n, 1n]);
  t.same(bestBracket(bad.once), { gap: 200_000n, n: 3 });
  t.equal(bad.calls(), 8, 'eight tries at most');
});

void t.test('epochAtPerformanceZero: the clock at performance.now() zero, past a stall', async (t) => {
  let perf = 5_000; // ms
  const stalls = [15];
  const perfNow = (): number => {
    perf += 0.001 + (stalls.shift() ?? 0);
    return perf;
  };
  const epochAtZero = 1_796_590_289_262_000_000n;
  const clock = (): bigint => epochAtZero + BigInt(Math.round(perf * 1e6));
  const got = epochAtPerformanceZero(clock, perfNow);
  t.ok(got - epochAtZero < 5_000n && epochAtZero - got < 5_000n, `off by ${got - epochAtZero} ns`);
});

void t.test('the real clocks agree with Date.now()', async (t) => {
  const clock = createEpochClock();
  const before = BigInt(Date.now()) * 1_000_000n;
  const now = clock();
  const after = (BigInt(Date.now()) + 1n) * 1_000_000n;
  // Date.now() brackets the true time to its millisecond; the anchor is microseconds off.
  t.ok(now >= before - 1_000_000n && now <= after + 1_000_000n, `between ${before} and ${after}: ${now}`);
  const zero = epochAtPerformanceZero(clock);
  const viaPerf = zero + BigInt(Math.round(performance.now() * 1e6));
  const direct = clock();
  t.ok(direct - viaPerf < 1_000_000n && viaPerf - direct < 1_000_000n, 'the hand-off\'s base gives the same times as the clock');
});
