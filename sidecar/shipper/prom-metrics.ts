import { Counter, Gauge, Histogram, type Registry } from '../../lib/prom/index.ts';
import { DROP_REASONS, type ShipperMetrics, type ShipperStats } from './metrics.ts';

export interface ShipperPromMetrics {
  /** Pass to createShipper's deps. */
  metrics: ShipperMetrics;
  /** Gauges (queue size, connected) are read from the shipper's stats at scrape time. */
  observe(source: { stats(): ShipperStats }): void;
}

/** Counters, gauges and a histogram for a shipper, registered on `registry`. */
export function createShipperPromMetrics(registry: Registry, prefix = 'meshtap_sidecar_shipper_'): ShipperPromMetrics {
  const registers = [registry];
  const offered = new Counter({ name: `${prefix}records_offered_total`, help: 'Records offered to the shipper.', registers });
  const shipped = new Counter({ name: `${prefix}records_shipped_total`, help: 'Records acknowledged as stored by the collector.', registers });
  const dropped = new Counter({ name: `${prefix}records_dropped_total`, help: 'Records dropped, by reason.', labelNames: ['reason'], registers });
  for (const reason of DROP_REASONS) dropped.inc({ reason }, 0);
  const batches = new Counter({ name: `${prefix}batches_sent_total`, help: 'Batches sent to the collector.', registers });
  const batchBytes = new Counter({ name: `${prefix}batch_bytes_total`, help: 'Estimated bytes of the batches sent.', registers });
  const ackSeconds = new Histogram({
    name: `${prefix}batch_ack_seconds`,
    help: 'Time from sending a batch to its acknowledgement.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  const connects = new Counter({ name: `${prefix}stream_connects_total`, help: 'Ingest streams opened.', registers });
  const closes = new Counter({ name: `${prefix}stream_closes_total`, help: 'Ingest streams that ended or broke.', registers });
  let source: { stats(): ShipperStats } | undefined;
  new Gauge({
    name: `${prefix}queue_bytes`,
    help: 'Estimated bytes held: queued plus in flight.',
    registers,
    collect() {
      if (source) this.set(source.stats().heldBytes);
    },
  });
  new Gauge({
    name: `${prefix}queue_records`,
    help: 'Records queued, not yet sent.',
    registers,
    collect() {
      if (source) this.set(source.stats().queueRecords);
    },
  });
  new Gauge({
    name: `${prefix}connected`,
    help: '1 while an ingest stream to the collector is up.',
    registers,
    collect() {
      if (source) this.set(source.stats().connected ? 1 : 0);
    },
  });
  return {
    metrics: {
      recordsOffered: (n) => offered.inc(n),
      recordsShipped: (n) => shipped.inc(n),
      recordsDropped: (reason, n) => dropped.inc({ reason }, n),
      batchSent: (_records, bytes) => {
        batches.inc();
        batchBytes.inc(bytes);
      },
      batchAcked: (seconds) => ackSeconds.observe(seconds),
      streamConnected: () => connects.inc(),
      streamClosed: () => closes.inc(),
    },
    observe(s) {
      source = s;
    },
  };
}
