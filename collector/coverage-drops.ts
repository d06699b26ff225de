/**
 * What the collector refused or dropped, read from its own ingest counters (the same numbers
 * `/metrics` exposes), for coverage. Counters run since the collector started, not per window.
 */
import type { CollectorMetrics } from './metrics.ts';
import type { CollectorDrops } from './coverage.ts';

async function byReason(counter: CollectorMetrics['recordsRejected']): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await counter.get()).values) {
    const reason = v.labels.reason;
    if (reason !== undefined) out[String(reason)] = (out[String(reason)] ?? 0) + v.value;
  }
  return out;
}

export async function collectorDrops(metrics: CollectorMetrics): Promise<CollectorDrops> {
  const total = async (counter: CollectorMetrics['recordsDuplicate']): Promise<number> => (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
  return {
    records_rejected: await byReason(metrics.recordsRejected),
    batches_rejected: await byReason(metrics.batchesRejected),
    streams_refused: await total(metrics.streamsRefused),
    records_duplicate: await total(metrics.recordsDuplicate),
  };
}
