/**
 * Where completed exchanges go: built into a CallRecord, masked, offered to the shipper.
 * Never throws into the data path: a failure to build or mask drops the record (counted);
 * an unmasked record is never shipped.
 */
import type { Exchange } from '../capture/session.ts';
import { countDrop, type SidecarStats } from '../stats.ts';
import type { CallRecord } from '../../record/record.ts';
import type { ConnectionMeta } from './connection.ts';
import { buildCallRecord, type LocalPod } from './record-builder.ts';

export interface RecordSinkOptions {
  local: LocalPod;
  stats: SidecarStats;
  /** Masks secrets; returns the record to ship. */
  mask: (record: CallRecord) => CallRecord;
  /** The shipper's offer; absent when there is no collector (records are dropped as `no_collector`). */
  offer: ((record: CallRecord) => boolean) | undefined;
  /** Told about records that could not be built or masked, for the log. */
  onFailure?: (stage: 'build' | 'mask', err: unknown) => void;
}

export function createRecordSink(options: RecordSinkOptions): (exchange: Exchange, meta: ConnectionMeta) => void {
  const { stats, local, mask, offer } = options;
  return (exchange, meta) => {
    stats.records.emitted++;
    if (!offer) {
      countDrop(stats, 'no_collector');
      return;
    }
    let record: CallRecord;
    try {
      record = buildCallRecord(exchange, meta, local);
    } catch (err) {
      countDrop(stats, 'build_error');
      options.onFailure?.('build', err);
      return;
    }
    try {
      record = mask(record);
    } catch (err) {
      countDrop(stats, 'mask_error');
      options.onFailure?.('mask', err);
      return;
    }
    // offer() never throws and counts its own drops; a refused record is already counted there.
    if (offer(record)) stats.records.offered++;
  };
}
