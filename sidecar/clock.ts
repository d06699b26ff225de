/**
 * The sidecar's wall clock in nanoseconds since the epoch: the epoch read once at start plus
 * monotonic offsets, so record times never go backwards when the system clock is stepped and
 * cost one `hrtime` call each.
 *
 * The epoch is taken at the moment `Date.now()` turns to its next millisecond, found by reading
 * it between two `hrtime` reads until it changes: the wall clock is then a whole millisecond,
 * known to a few microseconds. Neither `Date.now()` alone (its truncation put two sidecars up to a
 * millisecond apart, more than a hop takes, so a callee's record could seem to start before its
 * caller's) nor `performance.timeOrigin` (its wall time and its monotonic origin are read apart
 * while Node starts: 0.1–0.9 ms ahead of the wall clock on an idle machine, more on a busy one)
 * is that close.
 *
 * Whatever runs between the reads (a garbage collection, the thread waiting for a CPU on a node
 * starting many pods) shifts every time the sidecar records for its whole life: a lab's sidecar
 * once stamped all its records 15 ms early, so its callee answered before its caller asked. So
 * every anchor brackets its reads and keeps the try with the smallest bracket (`bestBracket`).
 */
import type { NsClock } from './capture/session.ts';

/** A bracketed try is good enough at this gap (ns); else the best of `MAX_TRIES` is kept. */
const GOOD_GAP_NS = 50_000n;
const MAX_TRIES = 8;
/** How long one try waits for the wall clock's next millisecond before it gives up (ns). */
const EDGE_WAIT_LIMIT_NS = 5_000_000n;

/**
 * One bracketed reading: `gap` is how far apart the monotonic reads around it were (ns);
 * `final` when another try cannot do better (a wall clock that does not move).
 */
export interface Bracketed {
  gap: bigint;
  final?: boolean;
}

/**
 * Runs `once` until its gap is good (or a try says no other can do better), at most
 * `MAX_TRIES` times; the try with the smallest gap.
 */
export function bestBracket<T extends Bracketed>(once: () => T): T {
  let best: T | undefined;
  for (let i = 0; i < MAX_TRIES; i++) {
    const got = once();
    if (best === undefined || got.gap < best.gap) best = got;
    if (got.gap <= GOOD_GAP_NS || got.final === true) break;
  }
  return best!;
}

/**
 * `read` between two readings of `hrtime`, tried until the two are close: the value read and
 * the monotonic time halfway between, from the try with the smallest gap.
 */
export function closestPair<T>(read: () => T, hrtime: () => bigint): { value: T; at: bigint; gap: bigint } {
  return bestBracket(() => {
    const before = hrtime();
    const value = read();
    const after = hrtime();
    return { value, at: before + (after - before) / 2n, gap: after - before };
  });
}

/**
 * The wall clock's next millisecond edge: `wallNs` (a whole millisecond) and the monotonic time
 * `at` it was reached, within `gap` — from the start of the last read that still showed the old
 * millisecond to the end of the first that showed the new one. A wall clock that does not move
 * for `EDGE_WAIT_LIMIT_NS` gives its reading plus half a millisecond, with the whole wait as gap,
 * and says so (`final`): waiting again would only delay the sidecar's start.
 *
 * "Does not move" is judged by the reads themselves: a read that still shows the first reading
 * although it began more than the limit after the first read ended. A monotonic read that
 * merely comes late — the thread stopped for a CPU or a GC between a wall-clock read and the
 * read after it — says nothing about the wall clock: the next read shows whether it moved. Taken
 * for a frozen clock, such a stall anchored the epoch at the middle of the stall with the
 * reading before it, S/2 early for a stall of S, and stopped the tries: sidecars started on a
 * saturated machine (a third of them, in a test with three busy loops per core) stamped every
 * record 5–130 ms early, and a callee's record began before its caller's.
 */
export function wallClockEdge(dateNow: () => number, hrtime: () => bigint): { wallNs: bigint; at: bigint; gap: bigint; final?: boolean } {
  let lastBefore = hrtime();
  const last = dateNow();
  // The first reading was taken by then: a later read that starts past the limit from here is
  // one the wall clock had that long to move for.
  const firstReadBy = hrtime();
  const giveUpAt = firstReadBy + EDGE_WAIT_LIMIT_NS;
  for (;;) {
    const before = hrtime();
    const now = dateNow();
    const after = hrtime();
    if (now !== last) return { wallNs: BigInt(now) * 1_000_000n, at: lastBefore + (after - lastBefore) / 2n, gap: after - lastBefore };
    if (before > giveUpAt) return { wallNs: BigInt(now) * 1_000_000n + 500_000n, at: before + (after - before) / 2n, gap: EDGE_WAIT_LIMIT_NS, final: true };
    lastBefore = before;
  }
}

export interface EpochClockOptions {
  /** The wall clock in whole milliseconds (default `Date.now`). */
  dateNow?: () => number;
  /** The monotonic clock in ns (default `process.hrtime.bigint`). */
  hrtime?: () => bigint;
}

export function createEpochClock(options: EpochClockOptions = {}): NsClock {
  const dateNow = options.dateNow ?? Date.now;
  const hrtime = options.hrtime ?? process.hrtime.bigint;
  const edge = bestBracket(() => wallClockEdge(dateNow, hrtime));
  const base = edge.wallNs - edge.at;
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
