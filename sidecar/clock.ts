/**
 * The sidecar's wall clock in nanoseconds since the epoch: the epoch read once at start plus
 * monotonic offsets, so record times never go backwards when the system clock is stepped and
 * cost one `hrtime` call each.
 *
 * The epoch comes from `performance.timeOrigin` (microseconds), not `Date.now()` (whole
 * milliseconds): the truncation alone put two sidecars up to a millisecond apart, more than a
 * hop takes, so a callee's record could seem to start before its caller's.
 *
 * Tying the epoch to the monotonic clock takes two reads, and whatever runs between them (a
 * garbage collection, the thread waiting for a CPU on a node starting many pods) shifts every
 * time the sidecar records for its whole life: a lab's sidecar once stamped all its records
 * 15 ms early, so its callee answered before its caller asked. So both anchors bracket their
 * reads and keep the try with the smallest gap (`closestPair`).
 */
import type { NsClock } from './capture/session.ts';

/** A bracketed try is good enough at this gap (ns); else the best of `MAX_TRIES` is kept. */
const GOOD_GAP_NS = 50_000n;
const MAX_TRIES = 8;

export interface EpochClockOptions {
  /** The wall clock in ms with a fraction (default `performance.timeOrigin + performance.now()`). */
  wallMs?: () => number;
  /** The monotonic clock in ns (default `process.hrtime.bigint`). */
  hrtime?: () => bigint;
}

/**
 * `read` between two readings of `hrtime`, tried until the two are close: the value read and
 * the monotonic time halfway between, from the try with the smallest gap.
 */
export function closestPair<T>(read: () => T, hrtime: () => bigint): { value: T; at: bigint; gap: bigint } {
  let best: { value: T; at: bigint; gap: bigint } | undefined;
  for (let i = 0; i < MAX_TRIES; i++) {
    const before = hrtime();
    const value = read();
    const after = hrtime();
    const gap = after - before;
    if (best === undefined || gap < best.gap) best = { value, at: before + gap / 2n, gap };
    if (gap <= GOOD_GAP_NS) break;
  }
  return best!;
}

export function createEpochClock(options: EpochClockOptions = {}): NsClock {
  const wallMs = options.wallMs ?? (() => performance.timeOrigin + performance.now());
  const hrtime = options.hrtime ?? process.hrtime.bigint;
  const anchor = closestPair(wallMs, hrtime);
  const base = BigInt(Math.round(anchor.value * 1e6)) - anchor.at;
  return () => base + hrtime();
}

/**
 * The epoch in ns at `performance.now()` zero by `clock`, for times taken as `performance.now()`
 * (the capture hand-off's ops): read with the smallest gap between the two clocks.
 */
export function epochAtPerformanceZero(clock: NsClock, perfNowMs: () => number = () => performance.now()): bigint {
  const toNs = (ms: number): bigint => BigInt(Math.round(ms * 1e6));
  // Here the bracketing clock is performance.now() itself, in ns.
  const pair = closestPair(clock, () => toNs(perfNowMs()));
  return pair.value - pair.at;
}
