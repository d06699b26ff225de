/** The sidecar's epoch clock: a stall between the two reads that anchor it must not shift it. */
import t from 'tap';
import { closestPair, createEpochClock, epochAtPerformanceZero } from '../../sidecar/clock.ts';

/** A monotonic clock (ns) that stands still unless told to jump, and a wall clock on top of it. */
function fakeClocks(wallAtZeroMs: number) {
  let mono = 1_000_000_000n;
  const jumps: bigint[] = [];
  const hrtime = (): bigint => {
    mono += 1000n + (jumps.shift() ?? 0n);
    return mono;
  };
  const wallMs = (): number => wallAtZeroMs + Number(mono) / 1e6;
  return { hrtime, wallMs, jumps, mono: () => mono };
}

void t.test('a stall between the anchor\'s reads (15 ms, as a GC or a wait for a CPU) does not shift the epoch', async (t) => {
  const truth = 1_796_590_289_262;
  const clocks = fakeClocks(truth);
  clocks.jumps.push(0n, 15_000_000n); // the first try's second read comes 15 ms late
  const clock = createEpochClock({ wallMs: clocks.wallMs, hrtime: clocks.hrtime });
  const now = clock();
  const expected = BigInt(truth) * 1_000_000n + clocks.mono();
  t.ok(now - expected < 5_000n && expected - now < 5_000n, `within 5 µs of the wall clock (off by ${now - expected} ns)`);
});

void t.test('closestPair keeps the try with the smallest gap when none is good', async (t) => {
  const clocks = fakeClocks(0);
  // Every try stalls; the fourth least.
  clocks.jumps.push(0n, 9_000_000n, 0n, 8_000_000n, 0n, 7_000_000n, 0n, 200_000n, 0n, 6_000_000n, 0n, 5_000_000n, 0n, 4_000_000n, 0n, 3_000_000n);
  const pair = closestPair(clocks.wallMs, clocks.hrtime);
  t.equal(pair.gap, 201_000n);
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
  t.ok(now >= before - 2_000_000n && now <= after + 2_000_000n, 'within the millisecond Date.now() can tell, and a little');
  const zero = epochAtPerformanceZero(clock);
  const viaPerf = zero + BigInt(Math.round(performance.now() * 1e6));
  const direct = clock();
  t.ok(direct - viaPerf < 1_000_000n && viaPerf - direct < 1_000_000n, 'the hand-off\'s base gives the same times as the clock');
});
