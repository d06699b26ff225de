/**
 * The `calls` table: the one definition the SQLite store writes, the filter pushdown reads
 * and the test fixtures build. Each column says how it is filled from a record and, when
 * filters may be pushed down to it, which CEL paths it answers and how values compare.
 *
 * Absent record fields are NULL (never '' or 0): the pushdown relies on SQL NULL behaving as
 * a CEL error on an absent field. Text columns use the default BINARY collation; `mesh` is
 * 0/1; `start_ns` is the record's `start` in nanoseconds.
 */
import type { SQLInputValue } from 'node:sqlite';
import type { CallRecord, Endpoint } from '../../record/record.ts';

/**
 * Bumped when the tables below change; `PRAGMA user_version` holds it. A database of an older
 * version is brought up to this one by the steps in `migrate.ts`.
 */
export const SCHEMA_VERSION = 4;

/** How the filter pushdown compares a column's values. */
export type CallsColumnKind = 'text' | 'integer' | 'boolean' | 'timestamp_ns';

interface RecordColumn {
  name: string;
  /** The column's SQL type and constraints. */
  sql: string;
  value: (r: CallRecord) => SQLInputValue;
  /** Set when filters are pushed down to this column. */
  filter?: { kind: CallsColumnKind; paths: readonly string[] };
}

const opt = (v: string | number | undefined | null): SQLInputValue => (v === undefined || v === null ? null : v);

const ENDPOINT_FIELDS = ['ip', 'namespace', 'pod', 'workload', 'workload_kind', 'service', 'node', 'identity'] as const;
/** Endpoint fields a filter can name as `src.<f>` / `dst.<f>`. */
const FILTERABLE_ENDPOINT_FIELDS: ReadonlySet<string> = new Set(['ip', 'namespace', 'pod', 'workload', 'service', 'node', 'identity']);

function endpointColumns(side: 'src' | 'dst'): RecordColumn[] {
  return ENDPOINT_FIELDS.map((f) => ({
    name: `${side}_${f}`,
    sql: 'TEXT',
    value: (r: CallRecord) => {
      const v = (r[side] as Endpoint | undefined)?.[f];
      return v === undefined || v === null ? null : String(v);
    },
    ...(FILTERABLE_ENDPOINT_FIELDS.has(f) ? { filter: { kind: 'text' as const, paths: [`${side}.${f}`] } } : {}),
  }));
}

const text = (name: keyof CallRecord & string, sql = 'TEXT'): RecordColumn => ({
  name,
  sql,
  value: (r) => opt(r[name] as string | undefined),
  filter: { kind: 'text', paths: [name] },
});
const integer = (name: keyof CallRecord & string): RecordColumn => ({
  name,
  sql: 'INTEGER',
  value: (r) => opt(r[name] as number | undefined),
  filter: { kind: 'integer', paths: [name] },
});
const stored = (name: keyof CallRecord & string, sql: string): RecordColumn => ({ name, sql, value: (r) => opt(r[name] as string | number | undefined) });

/**
 * Summary fields that have no column of their own, answered as one JSON array in this order:
 * the `summary` column on rows stored from schema 4, `json_extract` of these paths over the
 * record's JSON on older rows (`SUMMARY_JSON`).
 */
export const SUMMARY_JSON_PATHS = ['$.attempt', '$.connection', '$.request.truncated', '$.response.truncated', '$.tls.app_tls.sni', '$.tls.app_tls.version', '$.tls.app_tls'] as const;

/** The `summary` column's text for a record: what `json_extract(record, SUMMARY_JSON_PATHS)` answers on its JSON. */
export function summaryJson(r: CallRecord): string {
  const appTls = r.tls.app_tls;
  return JSON.stringify([
    r.attempt ?? null,
    r.connection ?? null,
    r.request?.truncated ?? null,
    r.response?.truncated ?? null,
    appTls?.sni ?? null,
    appTls?.version ?? null,
    appTls ?? null,
  ]);
}

/** The summary fields of a row, whichever form its record is stored in. */
export const SUMMARY_JSON = `COALESCE(summary, json_extract(record, ${SUMMARY_JSON_PATHS.map((p) => `'${p}'`).join(', ')}))`;

/** Columns filled from the record, in insert order. */
export const RECORD_COLUMNS: readonly RecordColumn[] = Object.freeze([
  text('id', 'TEXT NOT NULL UNIQUE'),
  { name: 'start_ns', sql: 'INTEGER NOT NULL', value: (r) => r.start, filter: { kind: 'timestamp_ns', paths: ['start'] } },
  text('protocol', 'TEXT NOT NULL'),
  text('observer', 'TEXT NOT NULL'),
  stored('connection_id', 'TEXT NOT NULL'),
  stored('ordinal', 'INTEGER NOT NULL'),
  text('method'),
  text('path'),
  text('authority'),
  integer('status_code'),
  integer('grpc_status'),
  integer('elapsed_us'),
  text('error'),
  text('trace_id'),
  stored('span_id', 'TEXT'),
  stored('parent_span_id', 'TEXT'),
  ...endpointColumns('src'),
  ...endpointColumns('dst'),
  { name: 'mesh', sql: 'INTEGER NOT NULL', value: (r) => (r.tls?.mesh === true ? 1 : 0), filter: { kind: 'boolean', paths: ['mesh', 'tls.mesh'] } },
  // Schema 2: DNS records' response code (NULL for every other record).
  text('dns_rcode'),
  // Schema 4: what the collector adds to a record beyond the wire record stored as `record`
  // (`STORED_RECORD_COLUMNS`), and the summary fields without a column.
  stored('attempt', 'INTEGER'),
  stored('first_attempt_id', 'TEXT'),
  { name: 'retry_after_honoured', sql: 'INTEGER', value: (r) => (r.retry_after_honoured === undefined ? null : r.retry_after_honoured ? 1 : 0) },
  { name: 'summary', sql: 'TEXT', value: summaryJson },
]);

/**
 * What a row's record is read from: `record` is the record's protobuf (`meshtap.v1.CallRecord`,
 * a BLOB) on rows stored from schema 4, its JSON text on older rows. On a protobuf row the
 * columns below are the truth for the fields they hold: the collector's own fields (retry
 * attempts) are not in the wire message, and a trace moved by `retrace` changes only the
 * `trace_id` column. A JSON row holds every field itself. `id` names the row in an error.
 */
export const STORED_RECORD_COLUMNS = 'id, record, trace_id, attempt, first_attempt_id, retry_after_honoured';

/** The columns filters are pushed down to, and how their values compare. */
export const CALLS_COLUMNS: Readonly<Record<string, CallsColumnKind>> = Object.freeze(
  Object.fromEntries(RECORD_COLUMNS.filter((c) => c.filter !== undefined).map((c) => [c.name, c.filter!.kind])),
);

/** Field path (`status_code`, `start`, `src.pod`, `tls.mesh`, without a leading `call.`) → column. */
export const CALLS_COLUMN_BY_PATH: ReadonlyMap<string, string> = new Map(
  RECORD_COLUMNS.flatMap((c) => (c.filter === undefined ? [] : c.filter.paths.map((p) => [p, c.name] as [string, string]))),
);

/**
 * The key of the trace index: the last 12 characters of the trace id, not the whole id. Trace
 * ids are random (W3C, B3 and the collector's derived ids; some tracers put a timestamp in
 * front, never at the end), so every row's index entry lands at a random place in the index and
 * dirties a page of its own: an entry a third the size means a third as many pages to write
 * per commit. Lookups compare the key first and then the whole id (`TRACE_ID_MATCH`), so the
 * rare rows whose key collides are only read, never returned. Schema 3; before, the index held
 * the whole id.
 */
export const TRACE_KEY = 'substr(trace_id, -12)';

/** SQL true for rows whose trace id is the parameter (given twice: `?1` style is not used here). */
export const TRACE_ID_MATCH = `(${TRACE_KEY} = substr(?, -12) AND trace_id = ?)`;

const TRACE_INDEX = `CREATE INDEX calls_trace ON calls (${TRACE_KEY}) WHERE trace_id IS NOT NULL;`;

/** Schema 2 → 3: the trace index keyed by the trace id's last characters (`TRACE_KEY`). */
export const TRACE_INDEX_MIGRATION = `DROP INDEX IF EXISTS calls_trace; ${TRACE_INDEX}`;

/**
 * Schema 3 → 4: records stored as protobuf, with the columns that go with it. Rows stored
 * before keep their JSON (read as such; these columns stay NULL on them), so no row is
 * rewritten.
 */
export const STORED_RECORD_MIGRATION = RECORD_COLUMNS.filter((c) => ['attempt', 'first_attempt_id', 'retry_after_honoured', 'summary'].includes(c.name))
  .map((c) => `ALTER TABLE calls ADD COLUMN ${c.name} ${c.sql};`)
  .join(' ');

export const CALLS_SCHEMA = `
CREATE TABLE calls (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  stored_ns INTEGER NOT NULL,
  ${RECORD_COLUMNS.map((c) => `${c.name} ${c.sql}`).join(',\n  ')},
  record BLOB NOT NULL
);
CREATE INDEX calls_start ON calls (start_ns);
${TRACE_INDEX}
CREATE INDEX calls_dst_workload ON calls (dst_workload);
CREATE INDEX calls_src_workload ON calls (src_workload);
CREATE INDEX calls_dst_namespace ON calls (dst_namespace);
CREATE INDEX calls_src_namespace ON calls (src_namespace);
CREATE INDEX calls_status ON calls (status_code) WHERE status_code IS NOT NULL;
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/**
 * FTS5 with the trigram tokenizer (case-sensitive) over the path and the request/response
 * bodies, contentless (the text is not stored twice) and `detail=none` (only which documents
 * hold a trigram). A document covers a run of consecutive rows (`FTS_DOC_ROWS` at most): its
 * rowid is the first row's `seq`, listed in `calls_fts_docs`, and its text holds every distinct
 * trigram of those rows (`trigram-digest.ts`). A row belongs to the document with the greatest
 * `first_seq` at or below its `seq`. Databases whose index has one document per row (before
 * documents covered runs) read the same way: each row is its own run.
 */
export const FTS_SCHEMA = `
CREATE VIRTUAL TABLE calls_fts USING fts5(
  path, request_body, response_body,
  content='', contentless_delete=1, tokenize='trigram case_sensitive 1', detail=none
);
CREATE TABLE calls_fts_docs (first_seq INTEGER PRIMARY KEY);
`;

/** Most rows one full-text document covers: a search reads every row of a matching document. */
export const FTS_DOC_ROWS = 64;

export const FTS_DROP = 'DROP TRIGGER IF EXISTS calls_fts_delete; DROP TABLE IF EXISTS calls_fts_docs; DROP TABLE calls_fts;';

/** Ignores a record whose id is already stored (a re-sent batch). */
export const CALLS_INSERT_SQL = `INSERT OR IGNORE INTO calls (stored_ns, ${RECORD_COLUMNS.map((c) => c.name).join(', ')}, record) VALUES (?, ${RECORD_COLUMNS.map(() => '?').join(', ')}, ?)`;

/**
 * The parameters of `CALLS_INSERT_SQL` for one record; `stored` is the record's protobuf (what
 * the store writes) or its JSON text (the form of rows stored before schema 4).
 */
export function callsRow(record: CallRecord, storedNs: bigint, stored: Uint8Array | string): SQLInputValue[] {
  const params: SQLInputValue[] = [storedNs];
  for (const column of RECORD_COLUMNS) params.push(column.value(record));
  params.push(stored);
  return params;
}
