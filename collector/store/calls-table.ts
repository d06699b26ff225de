/**
 * The `calls` table, defined once: its columns, indexes and full-text index, how a record
 * fills a row, and which columns filters are pushed down to. The store creates and writes it,
 * the filter pushdown (`../filter/pushdown.ts`) writes SQL against it, and the pushdown tests
 * build their fixture table from the same definition.
 */
import type { SQLInputValue } from 'node:sqlite';
import type { CallRecord } from '../../record/record.ts';

export const ENDPOINT_FIELDS = ['ip', 'namespace', 'pod', 'workload', 'workload_kind', 'service', 'node', 'identity'] as const;

/** Columns filled from the record, in insert order. */
export const RECORD_COLUMNS = [
  'id',
  'start_ns',
  'protocol',
  'observer',
  'connection_id',
  'ordinal',
  'method',
  'path',
  'authority',
  'status_code',
  'grpc_status',
  'elapsed_us',
  'error',
  'trace_id',
  'span_id',
  'parent_span_id',
  ...ENDPOINT_FIELDS.map((f) => `src_${f}`),
  ...ENDPOINT_FIELDS.map((f) => `dst_${f}`),
  'mesh',
] as const;

export const CALLS_SCHEMA = `
CREATE TABLE calls (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  stored_ns INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  start_ns INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  observer TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  ordinal INTEGER NOT NULL,
  method TEXT,
  path TEXT,
  authority TEXT,
  status_code INTEGER,
  grpc_status INTEGER,
  elapsed_us INTEGER,
  error TEXT,
  trace_id TEXT,
  span_id TEXT,
  parent_span_id TEXT,
  ${ENDPOINT_FIELDS.map((f) => `src_${f} TEXT`).join(',\n  ')},
  ${ENDPOINT_FIELDS.map((f) => `dst_${f} TEXT`).join(',\n  ')},
  mesh INTEGER NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX calls_start ON calls (start_ns);
CREATE INDEX calls_trace ON calls (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX calls_dst_workload ON calls (dst_workload);
CREATE INDEX calls_src_workload ON calls (src_workload);
CREATE INDEX calls_dst_namespace ON calls (dst_namespace);
CREATE INDEX calls_src_namespace ON calls (src_namespace);
CREATE INDEX calls_status ON calls (status_code) WHERE status_code IS NOT NULL;
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export const CALLS_FTS_SCHEMA = `
CREATE VIRTUAL TABLE calls_fts USING fts5(
  path, request_body, response_body,
  content='', contentless_delete=1, tokenize='trigram case_sensitive 1', detail=none
);
CREATE TRIGGER calls_fts_delete AFTER DELETE ON calls BEGIN
  DELETE FROM calls_fts WHERE rowid = old.seq;
END;
`;

/** The INSERT of one row's record columns (plus `stored_ns` and `record`, which the store adds). */
export const RECORD_COLUMN_LIST = RECORD_COLUMNS.join(', ');

export type CallsColumnKind = 'text' | 'integer' | 'boolean' | 'timestamp_ns';

/**
 * The columns of the store's `calls` table that filters are pushed down to. Absent record
 * fields must be stored as NULL (never '' or 0); text columns use the default BINARY
 * collation; `mesh` is 0/1; `start_ns` is the record's `start` in nanoseconds.
 */
export const CALLS_COLUMNS: Readonly<Record<string, CallsColumnKind>> = Object.freeze({
  id: 'text',
  start_ns: 'timestamp_ns',
  protocol: 'text',
  observer: 'text',
  method: 'text',
  path: 'text',
  authority: 'text',
  status_code: 'integer',
  grpc_status: 'integer',
  elapsed_us: 'integer',
  error: 'text',
  trace_id: 'text',
  src_ip: 'text',
  src_namespace: 'text',
  src_pod: 'text',
  src_workload: 'text',
  src_service: 'text',
  src_node: 'text',
  src_identity: 'text',
  dst_ip: 'text',
  dst_namespace: 'text',
  dst_pod: 'text',
  dst_workload: 'text',
  dst_service: 'text',
  dst_node: 'text',
  dst_identity: 'text',
  mesh: 'boolean',
});

export function columnValue(r: CallRecord, column: (typeof RECORD_COLUMNS)[number]): SQLInputValue {
  switch (column) {
    case 'start_ns':
      return r.start;
    case 'mesh':
      return r.tls?.mesh === true ? 1 : 0;
    default: {
      if (column.startsWith('src_') || column.startsWith('dst_')) {
        const endpoint = column.startsWith('src_') ? r.src : r.dst;
        const v = endpoint?.[column.slice(4) as (typeof ENDPOINT_FIELDS)[number]];
        return v === undefined || v === null ? null : typeof v === 'number' ? v : String(v);
      }
      const v = (r as unknown as Record<string, unknown>)[column];
      return v === undefined || v === null ? null : (v as SQLInputValue);
    }
  }
}
