/**
 * The sidecar's wall clock in nanoseconds since the epoch: the epoch read once at start plus
 * monotonic offsets, so record times never go backwards when the system clock is stepped and
 * cost one `hrtime` call each.
 *
 * The epoch comes from `performance.timeOrigin` (microseconds), not `Date.now()` (whole
 * milliseconds): the truncation alone put two sidecars up to a millisecond apart, more than a
 * hop takes, so a callee's record could seem to start before its caller's.
 */
import type { NsClock } from './capture/session.ts';

export function createEpochClock(epochMs: number = performance.timeOrigin + performance.now(), hrtime: () => bigint = process.hrtime.bigint): NsClock {
  const base = BigInt(Math.round(epochMs * 1e6)) - hrtime();
  return () => base + hrtime();
}
