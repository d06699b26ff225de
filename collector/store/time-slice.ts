/**
 * Turns for the event loop during a long scan. A store evaluates a filter record by record, and
 * an expensive one (a regular expression over large bodies) could hold the collector's one
 * thread for seconds per page; several such requests at once starved ingest and the health
 * probe (four 2 s filters delayed /healthz by 7.8 s), each bounded, their sum not. A scan asks
 * `due()` after each record and, when its slice is spent, awaits `pause()`: other requests,
 * ingest and probes run in between, and concurrent scans take turns.
 *
 * Paused scans wait in one queue and one of them goes on per turn of the event loop, so
 * whatever else waits (a probe, an ingest batch) waits for one slice, however many scans run:
 * resumed together, N scans would run their N slices back to back (N × 20 ms) before the loop
 * polled for I/O again.
 */

/** A scan's share of the thread before it gives a turn (ms). */
export const SCAN_SLICE_MS = 20;
/** Records between two clock reads: a slice is long next to a record's evaluation, so no need for more. */
const CHECK_EVERY = 16;

export interface TimeSlicer {
  /** Whether the slice is spent (reads the clock every few calls). */
  due(): boolean;
  /** Gives the event loop a turn; the next slice starts after it. */
  pause(): Promise<void>;
  /** Turns given so far. */
  readonly pauses: number;
}

/** Paused scans, first paused first; `releasing` while a release is scheduled. */
const waiting: Array<() => void> = [];
let releasing = false;

/** Lets the longest-waiting scan go on; the next one goes on a later turn of the loop. */
function releaseOne(): void {
  waiting.shift()?.();
  // An immediate scheduled while immediates run is run on the next turn, after I/O is polled.
  if (waiting.length > 0) setImmediate(releaseOne);
  else releasing = false;
}

export function createTimeSlicer(sliceMs: number = SCAN_SLICE_MS, now: () => number = () => performance.now()): TimeSlicer {
  let sliceStart = now();
  let calls = 0;
  let pauses = 0;
  return {
    due() {
      if (++calls < CHECK_EVERY) return false;
      calls = 0;
      return now() - sliceStart >= sliceMs;
    },
    async pause() {
      pauses++;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (!releasing) {
          releasing = true;
          setImmediate(releaseOne);
        }
      });
      sliceStart = now();
      calls = 0;
    },
    get pauses() {
      return pauses;
    },
  };
}
