import { Counter, Gauge, Registry } from 'prom-client';
import { DROPPED_BATCH_REASONS, REJECT_REASONS } from './ingest-reasons.ts';

export interface CollectorMetrics {
  registry: Registry;
  recordsReceived: Counter;
  recordsStored: Counter;
  recordsDuplicate: Counter;
  recordsRejected: Counter<'reason'>;
  batchesReceived: Counter;
  batchesRejected: Counter<'reason'>;
  streamsActive: Gauge;
  streamsTotal: Counter;
  /** Ingest streams refused because the collector held its maximum. */
  streamsRefused: Counter;
  /** Requests for call data refused: 401 (no or bad credentials) or 503 (could not check them). */
  authFailures: Counter<'status'>;
  /** Live stream clients refused because the collector held its maximum. */
  streamClientsRefused: Counter;
  /** Filters that used up their evaluation budget, by where they ran (`list` request or `stream` client). */
  filterBudgetExceeded: Counter<'where'>;
}

/** The collector's metrics on their own registry (several collectors may live in one process in tests). */
export function createCollectorMetrics(storeCount: () => Promise<number>): CollectorMetrics {
  const registry = new Registry();
  const registers = [registry];
  const recordsRejected = new Counter({
    name: 'meshtap_collector_records_rejected_total',
    help: 'Records refused as malformed, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of REJECT_REASONS) recordsRejected.inc({ reason }, 0);
  const batchesRejected = new Counter({
    name: 'meshtap_collector_batches_rejected_total',
    help: 'Batches that could not be used at all, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of DROPPED_BATCH_REASONS) batchesRejected.inc({ reason }, 0);
  const filterBudgetExceeded = new Counter({
    name: 'meshtap_collector_filter_budget_exceeded_total',
    help: 'Filters stopped because they used up their evaluation budget: list requests answered 400, stream clients ended.',
    labelNames: ['where'] as const,
    registers,
  });
  for (const where of ['list', 'stream']) filterBudgetExceeded.inc({ where }, 0);
  new Gauge({
    name: 'meshtap_collector_store_records',
    help: 'Records currently held by the store.',
    registers,
    async collect() {
      this.set(await storeCount());
    },
  });
  return {
    registry,
    streamsRefused: new Counter({ name: 'meshtap_collector_ingest_streams_refused_total', help: 'Ingest streams refused because the collector held its maximum of open streams.', registers }),
    streamClientsRefused: new Counter({
      name: 'meshtap_collector_stream_clients_refused_total',
      help: 'Live stream clients refused (503) because the collector held its maximum of stream clients.',
      registers,
    }),
    filterBudgetExceeded,
    authFailures: new Counter({ name: 'meshtap_collector_auth_failures_total', help: 'Requests for call data refused, by HTTP status.', labelNames: ['status'], registers }),
    recordsReceived: new Counter({ name: 'meshtap_collector_records_received_total', help: 'Records received over gRPC.', registers }),
    recordsStored: new Counter({ name: 'meshtap_collector_records_stored_total', help: 'Records stored.', registers }),
    recordsDuplicate: new Counter({
      name: 'meshtap_collector_records_duplicate_total',
      help: 'Records received again with an id already stored (re-sent after a broken stream).',
      registers,
    }),
    recordsRejected,
    batchesReceived: new Counter({ name: 'meshtap_collector_batches_received_total', help: 'Batches received over gRPC.', registers }),
    batchesRejected,
    streamsActive: new Gauge({ name: 'meshtap_collector_grpc_streams_active', help: 'Open ingest streams.', registers }),
    streamsTotal: new Counter({ name: 'meshtap_collector_grpc_streams_total', help: 'Ingest streams opened.', registers }),
  };
}
