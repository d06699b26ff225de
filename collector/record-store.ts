import type { AppTlsInfo, CallRecord, ConnectionFacts, Endpoint } from '../record/record.ts';
import type { CompiledFilter } from './filter/compile.ts';

export interface ListQuery {
  /** At most this many records. */
  limit: number;
  /** Only records whose `start` is at or after this time (ns since the epoch). */
  since?: bigint;
  /** Only records whose `start` is before this time (ns since the epoch). */
  until?: bigint;
  /** Only records the filter matches. */
  filter?: CompiledFilter;
  /** Most rows examined (the request's row budget); the store's own scan limit applies too. */
  maxScan?: number;
  /** Filled in by the store: how many rows it examined and whether it stopped at a scan limit before `limit` matches. */
  stats?: ListStats;
  /** The scan's share of the thread before it gives the event loop a turn (ms; default `SCAN_SLICE_MS`). */
  sliceMs?: number;
}

export interface ListStats {
  scanned: number;
  /** True when the scan stopped at its limit: older matching records may exist. */
  truncated: boolean;
  /** Turns the scan gave the event loop while evaluating its filter (store/time-slice.ts). */
  pauses?: number;
}

export interface AddResult {
  /** Records newly stored. */
  stored: number;
  /** Records whose id was already stored (a sidecar re-sent a batch whose ack it lost); not stored again. */
  duplicates: number;
  /** The records newly stored, in arrival order (what the live stream publishes). */
  added: readonly CallRecord[];
}

type EndpointSummary = Pick<Endpoint, 'ip' | 'namespace' | 'pod' | 'workload' | 'workload_kind' | 'service' | 'node'>;

/** The part of a record the service map reads: stores answer it without decoding whole records. */
export interface CallSummary {
  id: string;
  protocol: CallRecord['protocol'];
  observer: CallRecord['observer'];
  connection_id: string;
  ordinal: number;
  start: bigint;
  elapsed_us: number;
  status_code?: number;
  grpc_status?: number;
  error?: string;
  tls: { mesh: boolean; app_tls?: Pick<AppTlsInfo, 'sni' | 'version'> };
  src: EndpointSummary;
  dst: EndpointSummary;
  /** Set by the collector on HTTP-family calls: 2, 3, … for a retry. */
  attempt?: number;
  /** How the connection opened, ended and was reused (the sidecar's connection facts). */
  connection?: ConnectionFacts;
  /** Present when the record holds a request / response; `truncated` when its body was cut at the capture limit. */
  request?: { truncated: boolean };
  response?: { truncated: boolean };
}

export interface SummaryQuery {
  /** Records whose `start` is at or after this time (ns). */
  since: bigint;
  /** And before this time (ns, exclusive); open when absent. */
  until?: bigint;
  /** The newest this many at most. */
  limit: number;
}

/** Most records of one trace returned. */
export const MAX_TRACE_RECORDS = 10_000;

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
  /** Every stored record whose `trace_id` is this one (at most MAX_TRACE_RECORDS), oldest `start` first. */
  byTrace(traceId: string): Promise<CallRecord[]>;
  /**
   * Moves every stored record of trace `from` into trace `to` (the `trace_id` column and the
   * stored record): a linked flow's hops found to be one trace (`trace-links.ts`). Returns how
   * many records moved.
   */
  retrace(from: string, to: string): Promise<number>;
  /** Newest first. */
  summaries(query: SummaryQuery): Promise<CallSummary[]>;
  /** The earliest `start` of any stored record (where the store's data begins), undefined when empty. */
  oldestStart?(): Promise<bigint | undefined>;
  count(): Promise<number>;
  close(): Promise<void>;
}

/** Trace order: by start, the caller's record before the callee's at the same instant, then id. */
export function compareTraceOrder(a: CallRecord, b: CallRecord): number {
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  if (a.observer !== b.observer) return a.observer === 'outbound' ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
