/**
 * What the shipper reports as it goes. Every hook is optional and called synchronously; a hook
 * that throws is ignored (metrics never break the data path). `createShipperPromMetrics` in
 * `prom-metrics.ts` implements it with `lib/prom/` for the sidecar's admin `/metrics`.
 */

/** Why records were dropped. Stable: these are metric label values. */
export type DropReason =
  /** The queue was full while the collector was connected (it is slower than the traffic). */
  | 'queue_full'
  /** The queue was full while no stream to the collector was up. */
  | 'collector_unavailable'
  /** A single record bigger than a whole batch may be. */
  | 'too_large'
  /** Offered after close(), or still held when close()'s drain time ran out. */
  | 'shutdown'
  /** Sent `maxSendAttempts` times, each time on a stream that broke before the ack. */
  | 'stream_broken'
  /** The collector refused the record as malformed. */
  | 'rejected'
  /** The collector acknowledged the batch with an error (could not decode or store it). */
  | 'collector_error'
  /** Held by a shipper whose thread died (the capture worker's, when it ships): lost with it. */
  | 'worker_failed';

export const DROP_REASONS: readonly DropReason[] = [
  'queue_full',
  'collector_unavailable',
  'too_large',
  'shutdown',
  'stream_broken',
  'rejected',
  'collector_error',
  'worker_failed',
];

export interface ShipperMetrics {
  recordsOffered?(count: number): void;
  recordsShipped?(count: number): void;
  recordsDropped?(reason: DropReason, count: number): void;
  batchSent?(records: number, bytes: number): void;
  /** Time from sending a batch to its ack. */
  batchAcked?(seconds: number): void;
  streamConnected?(): void;
  streamClosed?(reason: string): void;
}

export interface ShipperStats {
  offered: number;
  shipped: number;
  dropped: Record<DropReason, number>;
  droppedTotal: number;
  queueBytes: number;
  queueRecords: number;
  inFlightBatches: number;
  inFlightRecords: number;
  /** Queued plus in-flight bytes: what counts against `maxQueueBytes`. */
  heldBytes: number;
  connected: boolean;
  /** Streams opened successfully. */
  connects: number;
  /** Connection attempts that failed. */
  connectFailures: number;
  /** Streams that ended or broke while the shipper was running. */
  streamBreaks: number;
  /** Batches re-sent after a broken stream. */
  batchesResent: number;
  batchesSent: number;
  batchesAcked: number;
  closed: boolean;
}
