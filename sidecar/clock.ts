/**
 * The sidecar's wall clock in nanoseconds since the epoch: the epoch read once at start plus
 * monotonic offsets, so record times never go backwards when the system clock is stepped and
 * cost one `hrtime` call each.
 */
import type { NsClock } from './capture/session.ts';

export function createEpochClock(epochMs: number = Date.now(), hrtime: () => bigint = process.hrtime.bigint): NsClock {
  const base = BigInt(Math.round(epochMs * 1e6)) - hrtime();
  return () => base + hrtime();
}
