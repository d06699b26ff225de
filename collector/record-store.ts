import type { CallRecord } from '../sidecar/record.ts';

export interface ListQuery {
  /** At most this many records. */
  limit: number;
  /** Only records whose `start` is at or after this time (ns since the epoch). */
  since?: bigint;
}

export interface AddResult {
  /** Records newly stored. */
  stored: number;
  /** Records whose id was already stored (a sidecar re-sent a batch whose ack it lost); not stored again. */
  duplicates: number;
}

/**
 * Where the collector keeps records for its API. "Newest" means most recently stored: records
 * are listed in reverse order of arrival. Methods are async so that stores doing IO fit the
 * same shape as the in-memory one.
 */
export interface RecordStore {
  add(records: readonly CallRecord[]): Promise<AddResult>;
  /** Newest first. */
  list(query: ListQuery): Promise<CallRecord[]>;
  get(id: string): Promise<CallRecord | undefined>;
  count(): Promise<number>;
  close(): Promise<void>;
}
