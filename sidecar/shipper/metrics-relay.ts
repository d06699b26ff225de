/**
 * Shipper metrics across a thread boundary. A shipper running in the capture worker cannot
 * reach the sidecar's Prometheus registry (it lives on the forwarding thread), so its hooks
 * are recorded as plain data (`createShipperMetricsRecorder`), posted now and then, and
 * replayed into the registry's hooks on the other side (`replayShipperDeltas`): the metrics
 * read the same as with a shipper on the forwarding thread.
 */
import type { DropReason, ShipperMetrics } from './metrics.ts';

/** What the hooks reported since the last `take()`: sums for counters, a list per event. */
export interface ShipperDeltas {
  offered: number;
  shipped: number;
  dropped: Partial<Record<DropReason, number>>;
  /** [records, bytes] per batch sent, flat. */
  batches: number[];
  /** Seconds from send to ack, per batch acknowledged. */
  acks: number[];
  connects: number;
  /** The reason of each stream that ended or broke. */
  closes: string[];
}

export interface ShipperMetricsRecorder {
  /** Pass to the shipper's deps. */
  metrics: Required<ShipperMetrics>;
  /** What was recorded since the last call; undefined when nothing was. */
  take(): ShipperDeltas | undefined;
}

function empty(): ShipperDeltas {
  return { offered: 0, shipped: 0, dropped: {}, batches: [], acks: [], connects: 0, closes: [] };
}

/** `onChange` is called after each hook (the owner decides when to post). */
export function createShipperMetricsRecorder(onChange: () => void = () => undefined): ShipperMetricsRecorder {
  let d = empty();
  let dirty = false;
  const touched = (): void => {
    dirty = true;
    onChange();
  };
  return {
    metrics: {
      recordsOffered(n) {
        d.offered += n;
        touched();
      },
      recordsShipped(n) {
        d.shipped += n;
        touched();
      },
      recordsDropped(reason, n) {
        d.dropped[reason] = (d.dropped[reason] ?? 0) + n;
        touched();
      },
      batchSent(records, bytes) {
        d.batches.push(records, bytes);
        touched();
      },
      batchAcked(seconds) {
        d.acks.push(seconds);
        touched();
      },
      streamConnected() {
        d.connects++;
        touched();
      },
      streamClosed(reason) {
        d.closes.push(reason);
        touched();
      },
    },
    take() {
      if (!dirty) return undefined;
      const out = d;
      d = empty();
      dirty = false;
      return out;
    },
  };
}

/** Calls `into`'s hooks as the recorded shipper called the recorder's. */
export function replayShipperDeltas(d: ShipperDeltas, into: ShipperMetrics): void {
  if (d.offered > 0) into.recordsOffered?.(d.offered);
  if (d.shipped > 0) into.recordsShipped?.(d.shipped);
  for (const [reason, n] of Object.entries(d.dropped) as [DropReason, number][]) if (n > 0) into.recordsDropped?.(reason, n);
  for (let i = 0; i + 1 < d.batches.length; i += 2) into.batchSent?.(d.batches[i], d.batches[i + 1]);
  for (const seconds of d.acks) into.batchAcked?.(seconds);
  for (let i = 0; i < d.connects; i++) into.streamConnected?.();
  for (const reason of d.closes) into.streamClosed?.(reason);
}
