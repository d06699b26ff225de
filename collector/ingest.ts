/**
 * What the collector does with one received batch: validate each record, store the valid ones,
 * and say so in the ack. Never throws: a malformed record is a counted rejection, a failing
 * store an ack with an error.
 */
import { createRetryTracker, type RetryTracker } from './retries.ts';
import { decodeRecord, type RecordBatchMessage, type RejectionMessage, type ShipAckMessage } from '../record/codec.ts';
import type { CallRecord } from '../record/record.ts';
import { checkObserverClaim } from './ingest-identity.ts';
import type { BatchRejectReason } from './ingest-reasons.ts';
import type { Logger } from '../lib/log.ts';
import type { CollectorMetrics } from './metrics.ts';
import type { RecordStore } from './record-store.ts';
import { deriveSpanIds } from './otel/ids.ts';
import type { TraceLinks, TraceRewrite } from './trace-links.ts';

export interface IngestDeps {
  store: RecordStore;
  metrics: CollectorMetrics;
  log: Logger;
  /** Names both ends (pod, workload, service…) before the record is stored; never throws. */
  enrich?: (record: CallRecord) => CallRecord;
  /** Marks retried calls (`attempt`, `first_attempt_id`, `retry_after_honoured`); one with the default window when absent. */
  retries?: RetryTracker;
  /** Receives the records newly stored (not re-sent duplicates), for the exports. */
  onStored?: (records: readonly CallRecord[]) => void;
  /** Joins linked flows across hops (trace id aliases); without it each record keeps its derived trace id. */
  traceLinks?: TraceLinks;
  /** Wall clock in ms for the trace link tables' ages (default `Date.now`). */
  nowMs?: () => number;
}

export interface Ingest {
  /**
   * `streamIdentity` is given for streams over mTLS: then every record's observing end must be
   * that workload (see ingest-identity.ts). Plaintext streams (`undefined`) are not checked.
   */
  batch(batch: RecordBatchMessage, peer: string, streamIdentity?: { spiffeId?: string }): Promise<ShipAckMessage>;
  /** A batch whose bytes did not decode (`seq` read from its first field when it was there, else 0). */
  undecodable(peer: string, detail: string, seq?: number): ShipAckMessage;
  /** A batch over the message size limit, refused before decoding (its seq read from its first field). */
  tooLarge(peer: string, seq: number, bytes: number, maxBytes: number): ShipAckMessage;
}

/** Logs the first occurrence of each kind of problem, then every 1000th: visible, but no log flood. */
function createSampler(): (key: string) => number | undefined {
  const seen = new Map<string, number>();
  return (key) => {
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return n === 1 || n % 1000 === 0 ? n : undefined;
  };
}

/**
 * Every stored record carries the ids of the span it becomes (`otel/ids.ts`), so the API, the
 * trace index, HAR, MCP and the exported spans all agree; then the trace links may move it into
 * the trace of its hop's caller.
 */
function fillTraceIds(record: CallRecord, links: TraceLinks | undefined, nowMs: number, rewrites: TraceRewrite[]): CallRecord {
  const ids = deriveSpanIds(record);
  record.trace_id = ids.traceId;
  record.span_id = ids.spanId;
  if (ids.parentSpanId !== undefined) record.parent_span_id = ids.parentSpanId;
  else delete record.parent_span_id;
  if (links !== undefined) {
    const linked = links.observe(record, ids.source, nowMs);
    record.trace_id = linked.traceId;
    rewrites.push(...linked.rewrites);
  }
  return record;
}

export function createIngest(deps: IngestDeps): Ingest {
  const { store, metrics, log, enrich, onStored, traceLinks } = deps;
  const nowMs = deps.nowMs ?? Date.now;
  const sample = createSampler();
  // After enrichment: the client is named by its workload.
  const retries = deps.retries ?? createRetryTracker();

  function rejectBatch(reason: BatchRejectReason, seq: string | number, error: string): ShipAckMessage {
    metrics.batchesRejected.inc({ reason });
    return { seq, accepted: 0, rejected: 0, rejections: [], error };
  }

  /** A failed rewrite leaves records in the old trace (logged): the batch itself is stored. */
  async function applyRewrites(rewrites: readonly TraceRewrite[]): Promise<void> {
    for (const { from, to } of rewrites) {
      try {
        await store.retrace(from, to);
      } catch (err) {
        const n = sample('retrace_failed');
        if (n !== undefined) log.error({ detail: (err as Error).message, from, to, occurrences: n }, 'moving stored records to their linked trace failed');
      }
    }
  }

  return {
    async batch(batch, peer, streamIdentity) {
      metrics.batchesReceived.inc();
      const records = Array.isArray(batch.records) ? batch.records : [];
      metrics.recordsReceived.inc(records.length);
      const valid: CallRecord[] = [];
      const rewrites: TraceRewrite[] = [];
      const now = nowMs();
      const rejections: RejectionMessage[] = [];
      for (let index = 0; index < records.length; index++) {
        const result = decodeRecord(records[index]);
        if (result.ok && streamIdentity !== undefined) {
          const claim = checkObserverClaim(result.record, streamIdentity.spiffeId, batch.sidecar?.namespace);
          if (!claim.ok) {
            rejections.push({ index, reason: 'identity_mismatch' });
            metrics.recordsRejected.inc({ reason: 'identity_mismatch' });
            const n = sample('reject:identity_mismatch');
            if (n !== undefined) log.warn({ reason: 'identity_mismatch', detail: claim.detail, peer, occurrences: n }, 'record rejected');
            continue;
          }
        }
        if (result.ok) {
          valid.push(fillTraceIds(enrich ? enrich(result.record) : result.record, traceLinks, now, rewrites));
          continue;
        }
        rejections.push({ index, reason: result.reason });
        metrics.recordsRejected.inc({ reason: result.reason });
        const n = sample(`reject:${result.reason}`);
        if (n !== undefined) {
          log.warn({ reason: result.reason, detail: result.detail, peer, pod: batch.sidecar?.pod, namespace: batch.sidecar?.namespace, occurrences: n }, 'record rejected');
        }
      }
      // In order of start within the batch: a sidecar ships exchanges as they end.
      retries.markAll(valid);
      try {
        const result = valid.length > 0 ? await store.add(valid) : { stored: 0, duplicates: 0, added: [] };
        metrics.recordsStored.inc(result.stored);
        metrics.recordsDuplicate.inc(result.duplicates);
        // After the add: a rewrite made by this batch also moves its own records stored above.
        await applyRewrites(rewrites);
        onStored?.(result.added ?? valid);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        const n = sample('store_failed');
        if (n !== undefined) log.error({ detail, peer, occurrences: n }, 'storing a batch failed');
        return rejectBatch('store_failed', batch.seq, `store failed: ${detail}`);
      }
      return { seq: batch.seq, accepted: valid.length, rejected: rejections.length, rejections };
    },
    tooLarge(peer, seq, bytes, maxBytes) {
      const n = sample('too_large');
      if (n !== undefined) log.warn({ peer, bytes, max_bytes: maxBytes, occurrences: n }, 'ingest batch over the message size limit');
      return rejectBatch('too_large', seq, `batch of ${bytes} bytes is over the collector's limit of ${maxBytes}`);
    },
    undecodable(peer, detail, seq = 0) {
      const n = sample('undecodable');
      if (n !== undefined) log.warn({ detail, peer, occurrences: n }, 'undecodable batch');
      return rejectBatch('undecodable', seq, `undecodable batch: ${detail}`);
    },
  };
}
