/**
 * DNS exchanges → records, off the forwarding callbacks. The relays only append the raw bytes
 * and times of a finished exchange to a bounded queue (the answer is already on its way to the
 * app); decoding, record building, masking and the hand-off to the shipper run in a
 * `setImmediate` batch after the current I/O callbacks.
 *
 * Why this thread and not the capture worker: a DNS message is at most 64 KiB (almost always
 * under 1 KiB), the decoder is linear with hard limits on names and pointer chains, and a pod
 * asks a few queries per outgoing call, not per byte. The worker's op protocol is built around
 * TCP byte streams; carrying datagrams through it would cost more in hand-off than the
 * decoding itself. The queue is bounded (entries and bytes), so a flood of queries costs a
 * fixed amount of memory and is counted (`capture_queue_full`), and a batch is bounded too, so
 * capture yields to forwarding between batches.
 */
import type { CallRecord } from '../../record/record.ts';
import { TCP_RETRY_NOTE, buildDnsRecord, type BuildOptions, type DnsExchange } from './dns-record.ts';
import { bump, type DnsStats } from './stats.ts';
import { TruncationMemory } from './truncation-memory.ts';

export const MAX_QUEUED_EXCHANGES = 4096;
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** Exchanges turned into records per turn of the event loop. */
const BATCH = 64;

export interface DnsCaptureOptions {
  readonly build: BuildOptions;
  readonly stats: DnsStats;
  /** Masks a record before it leaves the pod (the same policy as every other record). */
  readonly mask: (record: CallRecord) => CallRecord;
  /** Hands a record to the shipper; false when it refused (already counted by the shipper). Absent: no collector. */
  readonly ship?: (record: CallRecord) => boolean;
  readonly onFailure?: (stage: 'build' | 'mask', err: unknown) => void;
}

export interface DnsCapture {
  /** Called by the relays once an exchange is over; never throws, never waits. */
  offer(exchange: DnsExchange): void;
  /** Processes everything queued now (for shutdown and tests). */
  flush(): void;
}

export function createDnsCapture(options: DnsCaptureOptions): DnsCapture {
  const { stats } = options;
  const queue: DnsExchange[] = [];
  let head = 0;
  let queuedBytes = 0;
  let scheduled = false;
  const truncations = new TruncationMemory();

  const toRecord = (ex: DnsExchange) => {
    let record: CallRecord;
    try {
      // Exchanges come in the order they finished, so a truncated UDP answer is remembered
      // before the TCP query that retries it is looked at.
      const built = buildDnsRecord(ex, options.build);
      const q = built.query?.questions[0];
      record = built.record;
      if (ex.transport === 'tcp' && q && truncations.takeRetry(ex.client.ip, q.name, q.type, ex.queryAt)) {
        record.notes = [...(record.notes ?? []), TCP_RETRY_NOTE];
      }
      if (ex.transport === 'udp' && q && built.answer?.flags.tc) truncations.remember(ex.client.ip, q.name, q.type, ex.answerAt ?? ex.queryAt);
      if (built.queryError !== undefined) stats.parseErrors.query++;
      if (built.answerError !== undefined) stats.parseErrors.answer++;
      if (built.answer?.flags.tc) stats.truncated++;
    } catch (err) {
      bump(stats.records.dropped, 'build_error');
      options.onFailure?.('build', err);
      return;
    }
    stats.records.emitted++;
    if (!options.ship) {
      bump(stats.records.dropped, 'no_collector');
      return;
    }
    let masked: CallRecord;
    try {
      masked = options.mask(record);
    } catch (err) {
      bump(stats.records.dropped, 'mask_error');
      options.onFailure?.('mask', err);
      return;
    }
    options.ship(masked);
  };

  const drain = (limit: number) => {
    let done = 0;
    while (head < queue.length && done < limit) {
      const ex = queue[head];
      queue[head++] = undefined as unknown as DnsExchange;
      queuedBytes -= ex.query.length + (ex.answer?.length ?? 0);
      toRecord(ex);
      done++;
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
  };

  const run = () => {
    scheduled = false;
    drain(BATCH);
    if (head < queue.length) schedule();
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(run);
  };

  return {
    offer(ex) {
      const size = ex.query.length + (ex.answer?.length ?? 0);
      if (queue.length - head >= MAX_QUEUED_EXCHANGES || queuedBytes + size > MAX_QUEUED_BYTES) {
        bump(stats.records.dropped, 'capture_queue_full');
        return;
      }
      queue.push(ex);
      queuedBytes += size;
      schedule();
    },
    flush() {
      drain(Infinity);
    },
  };
}
