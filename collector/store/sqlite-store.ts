/**
 * The embedded store: SQLite through `node:sqlite` (built into Node: no native build).
 *
 * - Table `calls`: one row per record. `seq` gives arrival order (newest first = highest seq);
 *   the record's filterable fields are columns (absent fields are NULL, as the filter pushdown
 *   requires) with indexes for the common filters; `record` holds the record's protobuf (its JSON
 *   text on rows stored before schema 4), from which, with the columns of the fields the wire
 *   message lacks, it is rebuilt exactly (`stored-record.ts`).
 * - Table `calls_fts` (`calls-schema.ts`): a trigram index over the path and the bodies. A
 *   filter that needs `response.body.contains("x")` (or startsWith/endsWith,
 *   or the same on `request.body` or `path`) as a whole conjunct reads only the rows holding
 *   every trigram of "x"; the compiled filter then decides, so the index only has to be a
 *   superset.
 * - Retention: by age (time since the row was stored) and by size (live pages of the database),
 *   enforced on a timer by deleting the oldest rows in batches; an optional row cap is enforced
 *   on every write.
 * - Writes: the batches added within `groupCommitMs` of the first (or during one turn of the
 *   event loop, by default) share one transaction (group commit); each add resolves after that
 *   commit. WAL mode: readers never block the writer.
 * - Schema versioned with `PRAGMA user_version`; a database from a newer collector is refused.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { MeshtapError } from '../../lib/errors.ts';
import type { CallRecord } from '../../record/record.ts';
import { COL_ERR_STORE } from '../errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import {
  MAX_TRACE_RECORDS,
  compareTraceOrder,
  type AddResult,
  type CallSummary,
  type ListQuery,
  type RecordStore,
  type SummaryQuery,
} from '../record-store.ts';
import { CALLS_INSERT_SQL, FTS_DOC_ROWS, STORED_RECORD_COLUMNS, SUMMARY_JSON, TRACE_ID_MATCH, callsRow } from './calls-schema.ts';
import { bodyText } from './full-text.ts';
import { planList, type ListPlan } from './list-plan.ts';
import { recordFromRow, storedRecord, type StoredRecordRow } from './stored-record.ts';
import { createTrigramDigest } from './trigram-digest.ts';
import { configureFullText, migrate } from './migrate.ts';
import { createTimeSlicer, type TimeSlicer } from './time-slice.ts';

export { SCHEMA_VERSION } from './calls-schema.ts';
export { fullTextTerms, ftsQuery, type FullTextTerm } from './full-text.ts';

export const DEFAULT_LIST_SCAN_LIMIT = 200_000;
/** The page cache, in KiB (`PRAGMA cache_size` takes a negative number as KiB). */
export const PAGE_CACHE_KIB = 64 * 1024;
/** Rows deleted per retention transaction: short enough not to stall ingest. */
export const RETENTION_BATCH = 5000;
/** Seqs per statement when a list's SQL reads each row's record (`listByRanges`): a few MiB of records, a few ms. */
export const RECORD_SCAN_ROWS = 4096;
/** Pending records at which a group commit stops waiting for more and commits on the next turn. */
export const GROUP_COMMIT_MAX_RECORDS = 4096;

export interface SqliteStoreOptions {
  /** A file, or `:memory:`. */
  path: string;
  /** Most rows kept; none by default (age and size bound the store). */
  maxRecords?: number;
  /** Rows stored longer ago than this are deleted (default 24). */
  retentionHours?: number;
  /** Live database pages are kept under this many bytes (default 512 MiB). */
  retentionMaxBytes?: number;
  /** How often retention runs; 0 = only when `enforceRetention()` is called (default 10 s). */
  retentionIntervalMs?: number;
  /**
   * Keep the full-text index (default true). It costs most of the insert time; turning it off
   * drops it, and body filters then read every candidate row.
   */
  fullText?: boolean;
  /** Most rows a filtered list examines (default 200 000). */
  listScanLimit?: number;
  /**
   * How long the first batch of a group commit waits for others to join its transaction, in ms
   * (default 0: those added during the same turn of the event loop). See `add` below.
   */
  groupCommitMs?: number;
  /** ns since the epoch; injected by tests. */
  now?: () => bigint;
  log?: Logger;
}

export interface RetentionResult {
  deletedByAge: number;
  deletedBySize: number;
}

export interface SqliteRecordStore extends RecordStore {
  /** Runs retention now (the timer calls this too). */
  enforceRetention(): Promise<RetentionResult>;
  /** Bytes in use by live pages (records, indexes, full-text index). */
  usedBytes(): number;
  /** Whether the full-text index is on (FTS5 is compiled into Node's SQLite); without it body filters scan. */
  readonly fullText: boolean;
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** SQLite's INTEGER range: a bound parameter outside it fails ("BigInt value is too large to bind"). */
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The age limit in ns, kept inside SQLite's range: a limit beyond it (or not a number) keeps rows forever. */
function maxAgeNanos(hours: number): bigint {
  const ns = hours * 3600 * 1e9;
  if (!(ns < Number(INT64_MAX))) return INT64_MAX;
  return BigInt(Math.max(0, Math.round(ns)));
}

/** Rows stored before this are expired; clamped into SQLite's range (a long limit early in the clock's range). */
function expiryCutoff(now: bigint, maxAgeNs: bigint): bigint {
  const cutoff = now - maxAgeNs;
  return cutoff < INT64_MIN ? INT64_MIN : cutoff > INT64_MAX ? INT64_MAX : cutoff;
}

function storeError(message: string, cause: unknown): MeshtapError {
  return new MeshtapError(COL_ERR_STORE, `${message}: ${(cause as Error).message}`, { cause });
}

const SUMMARY_COLUMNS =
  'id, protocol, observer, connection_id, ordinal, start_ns, elapsed_us, status_code, grpc_status, error, mesh, ' +
  ['src', 'dst'].flatMap((side) => ['ip', 'namespace', 'pod', 'workload', 'workload_kind', 'service', 'node'].map((f) => `${side}_${f}`)).join(', ') +
  `, ${SUMMARY_JSON} AS summary_json`;

type SummaryJson = [number | null, CallSummary['connection'] | null, boolean | null, boolean | null, string | null, string | null, object | null];

/** The JSON-held summary fields onto `s`; a row whose JSON cannot be read keeps the column fields only. */
function addJsonFields(s: CallSummary, text: SQLInputValue): void {
  if (typeof text !== 'string') return;
  let v: SummaryJson;
  try {
    v = JSON.parse(text) as SummaryJson;
  } catch {
    return;
  }
  if (!Array.isArray(v)) return;
  const [attempt, connection, requestTruncated, responseTruncated, sni, version, appTls] = v;
  if (typeof attempt === 'number') s.attempt = attempt;
  if (connection !== null && typeof connection === 'object') s.connection = connection;
  if (requestTruncated !== null) s.request = { truncated: requestTruncated === true };
  if (responseTruncated !== null) s.response = { truncated: responseTruncated === true };
  if (appTls !== null) s.tls.app_tls = { ...(typeof sni === 'string' ? { sni } : {}), ...(typeof version === 'string' ? { version } : {}) };
}

type Row = Record<string, SQLInputValue>;

function summaryFromRow(row: Row): CallSummary {
  const endpoint = (side: 'src' | 'dst'): CallSummary['src'] => {
    const out: CallSummary['src'] = { ip: row[`${side}_ip`] as string };
    for (const f of ['namespace', 'pod', 'workload', 'workload_kind', 'service', 'node'] as const) {
      const v = row[`${side}_${f}`];
      if (v !== null) out[f] = v as string;
    }
    return out;
  };
  const s: CallSummary = {
    id: row.id as string,
    protocol: row.protocol as CallSummary['protocol'],
    observer: row.observer as CallSummary['observer'],
    connection_id: row.connection_id as string,
    ordinal: Number(row.ordinal),
    start: BigInt(row.start_ns as bigint),
    elapsed_us: Number(row.elapsed_us ?? 0),
    tls: { mesh: Number(row.mesh) === 1 },
    src: endpoint('src'),
    dst: endpoint('dst'),
  };
  if (row.status_code !== null) s.status_code = Number(row.status_code);
  if (row.grpc_status !== null) s.grpc_status = Number(row.grpc_status);
  if (row.error !== null) s.error = row.error as string;
  addJsonFields(s, row.summary_json);
  return s;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createSqliteStore(options: SqliteStoreOptions): SqliteRecordStore {
  const now = options.now ?? nowNs;
  const log = options.log ?? silentLogger;
  const maxAgeNs = maxAgeNanos(options.retentionHours ?? 24);
  const maxBytes = options.retentionMaxBytes ?? 512 * 1024 * 1024;
  const scanLimit = options.listScanLimit ?? DEFAULT_LIST_SCAN_LIMIT;

  let db: DatabaseSync;
  let ftsFrom: bigint | undefined;
  try {
    db = new DatabaseSync(options.path);
  } catch (err) {
    throw storeError(`cannot open SQLite store ${options.path}`, err);
  }
  try {
    // 16 KiB pages (new databases only: a page size is fixed once tables exist) hold a record
    // with its bodies without overflow pages; inserts measured a quarter faster than with 4 KiB.
    // A 64 MiB page cache (SQLite's default is 2 MiB): record ids and trace keys are random, so
    // each commit touches index pages all over the file; with the small cache a commit spilled
    // dirty pages to the WAL mid-transaction and read index pages back from the file. The store
    // alone (`node bench/collector-store.ts`, random ids, 100 000 rows) took 8 700 records per
    // CPU-second with the default and 10 500 with this.
    db.exec(`PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA cache_size = ${-PAGE_CACHE_KIB};`);
    migrate(db, options.path);
    ftsFrom = configureFullText(db, options.fullText ?? true);
  } catch (err) {
    db.close();
    if (err instanceof MeshtapError) throw err;
    throw storeError(`cannot open SQLite store ${options.path}`, err);
  }

  const insert = db.prepare(CALLS_INSERT_SQL);
  const insertFts = ftsFrom !== undefined ? db.prepare('INSERT INTO calls_fts (rowid, path, request_body, response_body) VALUES (?, ?, ?, ?)') : undefined;
  const insertFtsDoc = ftsFrom !== undefined ? db.prepare('INSERT INTO calls_fts_docs (first_seq) VALUES (?)') : undefined;
  // Documents wholly below the oldest row: every document before the one covering it.
  const ftsPruneBelow = ftsFrom === undefined ? undefined : db.prepare(
    'SELECT COALESCE((SELECT first_seq FROM calls_fts_docs WHERE first_seq <= (SELECT MIN(seq) FROM calls) ORDER BY first_seq DESC LIMIT 1), (SELECT MIN(seq) FROM calls), 9223372036854775807) AS below',
  );
  const ftsPrune = ftsFrom !== undefined ? db.prepare('DELETE FROM calls_fts WHERE rowid IN (SELECT first_seq FROM calls_fts_docs WHERE first_seq < ?)') : undefined;
  const ftsPruneDocs = ftsFrom !== undefined ? db.prepare('DELETE FROM calls_fts_docs WHERE first_seq < ?') : undefined;
  ftsPruneBelow?.setReadBigInts(true);
  const deleteOldest = db.prepare('DELETE FROM calls WHERE seq IN (SELECT seq FROM calls ORDER BY seq LIMIT ?)');
  const deleteExpired = db.prepare('DELETE FROM calls WHERE seq IN (SELECT seq FROM calls ORDER BY seq LIMIT ?) AND stored_ns < ?');
  const byId = db.prepare(`SELECT ${STORED_RECORD_COLUMNS} FROM calls WHERE id = ?`);
  const byTraceId = db.prepare(`SELECT ${STORED_RECORD_COLUMNS} FROM calls WHERE ${TRACE_ID_MATCH} ORDER BY start_ns, seq LIMIT ?`);
  // The column (the trace index, filters, and what a protobuf row's record is read with) and a
  // JSON row's stored record (what the API serves) move together.
  const retraceRows = db.prepare(
    `UPDATE calls SET trace_id = ?, record = CASE WHEN typeof(record) = 'text' THEN json_set(record, '$.trace_id', ?) ELSE record END WHERE ${TRACE_ID_MATCH}`,
  );
  const summariesSince = db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM calls WHERE start_ns >= ? ORDER BY seq DESC LIMIT ?`);
  const pages = db.prepare('SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()) AS live, (SELECT page_size FROM pragma_page_size()) AS size');
  summariesSince.setReadBigInts(true);
  const summariesBetween = db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM calls WHERE start_ns >= ? AND start_ns < ? ORDER BY seq DESC LIMIT ?`);
  summariesBetween.setReadBigInts(true);
  let rows = Number((db.prepare('SELECT COUNT(*) AS n FROM calls').get() as { n: number }).n);
  const oldestStartStmt = db.prepare('SELECT MIN(start_ns) AS oldest FROM calls');
  const seqBounds = db.prepare('SELECT MIN(seq) AS lo, MAX(seq) AS hi FROM calls');
  const rowsBetween = db.prepare('SELECT COUNT(*) AS n FROM calls WHERE seq >= ? AND seq < ?');
  oldestStartStmt.setReadBigInts(true);

  // Filters produce a handful of distinct SQL shapes; keep their prepared statements.
  const listStatements = new Map<string, StatementSync>();
  function listStatement(sql: string): StatementSync {
    let stmt = listStatements.get(sql);
    if (stmt === undefined) {
      if (listStatements.size >= 64) listStatements.delete(listStatements.keys().next().value!);
      stmt = db.prepare(sql);
      listStatements.set(sql, stmt);
    }
    return stmt;
  }

  const parse = (row: unknown): CallRecord => recordFromRow(row as StoredRecordRow);
  const usedBytes = (): number => {
    const p = pages.get() as { live: number; size: number };
    return Number(p.live) * Number(p.size);
  };

  const digest = createTrigramDigest();

  /** Indexes rows just stored (consecutive seqs from `firstSeq`), `FTS_DOC_ROWS` per document. */
  function indexRows(records: readonly CallRecord[], seqs: readonly bigint[]): void {
    for (let from = 0; from < records.length; from += FTS_DOC_ROWS) {
      const to = Math.min(records.length, from + FTS_DOC_ROWS);
      const paths: string[] = [];
      const requests: string[] = [];
      const responses: string[] = [];
      digest.reset();
      for (let i = from; i < to; i++) {
        const r = records[i];
        if (r.path !== undefined) digest.add(r.path, paths);
        const request = bodyText(r.request);
        if (request !== null) digest.add(request, requests);
        const response = bodyText(r.response);
        if (response !== null) digest.add(response, responses);
      }
      const join = (pieces: string[]): string | null => (pieces.length === 0 ? null : pieces.join(' '));
      insertFts!.run(seqs[from], join(paths), join(requests), join(responses));
      insertFtsDoc!.run(seqs[from]);
    }
  }

  /** Drops full-text documents no stored row belongs to any more. */
  function pruneFullText(): void {
    if (ftsPrune === undefined) return;
    const below = (ftsPruneBelow!.get() as { below: bigint }).below;
    ftsPrune.run(below);
    ftsPruneDocs!.run(below);
  }

  /**
   * Keeps the size bound at every write, so a burst between two retention runs cannot blow it:
   * deletes the oldest rows (aiming a little under the bound) in the write's transaction.
   */
  function enforceSizeInTransaction(): void {
    for (let round = 0; round < 4 && rows > 0; round++) {
      const used = usedBytes();
      if (used <= maxBytes) return;
      const n = Math.max(1, Math.ceil((rows * (used - maxBytes * 0.95)) / used));
      rows -= Number(deleteOldest.run(n).changes);
      pruneFullText();
    }
  }

  /** Deletes the oldest rows in batches; `expiredBefore` limits it to rows stored before then. */
  async function deleteBatches(limit: number, expiredBefore?: bigint): Promise<number> {
    let deleted = 0;
    while (deleted < limit && db.isOpen) {
      const batch = Math.min(RETENTION_BATCH, limit - deleted);
      db.exec('BEGIN');
      let changes: number;
      try {
        changes = Number((expiredBefore === undefined ? deleteOldest.run(batch) : deleteExpired.run(batch, expiredBefore)).changes);
        if (changes > 0) pruneFullText();
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw storeError('SQLite retention failed', err);
      }
      deleted += changes;
      rows -= changes;
      if (changes < batch) break;
      await yieldToEventLoop();
    }
    return deleted;
  }

  /**
   * A list whose SQL reads each candidate row's record (a header pre-filter, `readsRecord`):
   * newest first in ranges of `RECORD_SCAN_ROWS` seqs, so one statement never reads the whole
   * store on the collector's one thread (a needle no row holds would otherwise read every
   * record before the first page came back). Each range counts its rows as scanned, whether
   * SQLite or the filter dropped them, so the row budget means what it means for other lists.
   */
  async function listByRanges(plan: ListPlan, limit: number, page: number, maxScan: number, stats: NonNullable<ListQuery['stats']>, slicer: TimeSlicer): Promise<CallRecord[]> {
    const out: CallRecord[] = [];
    const stmt = listStatement(`SELECT seq, ${STORED_RECORD_COLUMNS} FROM calls WHERE ${plan.where} AND seq < ? AND seq >= ? ORDER BY seq DESC LIMIT ?`);
    const bounds = seqBounds.get() as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return out;
    const lowest = Number(bounds.lo);
    let top = Number(bounds.hi) + 1;
    while (top > lowest && db.isOpen) {
      const bottom = Math.max(lowest, top - RECORD_SCAN_ROWS);
      let upper = top;
      for (;;) {
        const batch = stmt.all(...plan.params, upper, bottom, page) as unknown as (StoredRecordRow & { seq: number })[];
        for (const row of batch) {
          const record = parse(row);
          if (plan.residual === undefined || plan.residual.matches(record)) {
            out.push(record);
            if (out.length >= limit) return out;
          }
          if (slicer.due()) {
            await slicer.pause();
            stats.pauses = slicer.pauses;
            if (!db.isOpen) return out;
          }
        }
        if (batch.length < page) break;
        upper = Number(batch[batch.length - 1].seq);
      }
      stats.scanned += Number((rowsBetween.get(bottom, top) as { n: number }).n);
      top = bottom;
      if (stats.scanned >= maxScan && top > lowest) {
        stats.truncated = true;
        return out;
      }
      await yieldToEventLoop();
    }
    return out;
  }

  let retaining: Promise<RetentionResult> | undefined;
  async function retention(): Promise<RetentionResult> {
    // The size bound holds even when the age pass fails: its error is thrown after the size pass.
    let deletedByAge = 0;
    let ageFailure: unknown;
    try {
      deletedByAge = await deleteBatches(Number.MAX_SAFE_INTEGER, expiryCutoff(now(), maxAgeNs));
    } catch (err) {
      ageFailure = err;
    }
    let deletedBySize = 0;
    // Pages freed by a delete are reused by later inserts; aim a little under the bound so a
    // store at its limit does not delete on every tick.
    for (let round = 0; round < 8 && db.isOpen && rows > 0; round++) {
      const used = usedBytes();
      if (used <= maxBytes) break;
      const target = maxBytes * 0.9;
      const n = Math.max(1, Math.ceil((rows * (used - target)) / used));
      deletedBySize += await deleteBatches(n);
    }
    if (deletedByAge + deletedBySize > 0) {
      log.info({ deletedByAge, deletedBySize, rows, bytes: db.isOpen ? usedBytes() : 0 }, 'store retention');
    }
    if (ageFailure !== undefined) throw ageFailure;
    return { deletedByAge, deletedBySize };
  }

  const timer =
    (options.retentionIntervalMs ?? 10_000) > 0
      ? setInterval(() => {
          store.enforceRetention().catch((err: unknown) => log.error({ detail: (err as Error).message }, 'store retention failed'));
        }, options.retentionIntervalMs ?? 10_000)
      : undefined;
  timer?.unref();

  /** Inserts the rows of `groups` (one transaction, the caller's); one result per group, in order. */
  function insertGroups(groups: readonly (readonly CallRecord[])[], storedNs: bigint): AddResult[] {
    const results: AddResult[] = [];
    const allAdded: CallRecord[] = [];
    const seqs: bigint[] = [];
    for (const records of groups) {
      const added: CallRecord[] = [];
      for (const record of records) {
        const { changes, lastInsertRowid } = insert.run(...callsRow(record, storedNs, storedRecord(record)));
        if (Number(changes) === 0) continue;
        added.push(record);
        allAdded.push(record);
        seqs.push(BigInt(lastInsertRowid));
      }
      results.push({ stored: added.length, duplicates: records.length - added.length, added });
    }
    rows += allAdded.length;
    if (insertFts !== undefined && allAdded.length > 0) indexRows(allAdded, seqs);
    if (options.maxRecords !== undefined && rows > options.maxRecords) {
      rows -= Number(deleteOldest.run(rows - options.maxRecords).changes);
      pruneFullText();
    }
    enforceSizeInTransaction();
    return results;
  }

  /** Stores `groups` in one transaction; a failure rolls all of them back and throws. */
  function write(groups: readonly (readonly CallRecord[])[]): AddResult[] {
    const storedNs = now();
    db.exec('BEGIN');
    try {
      const results = insertGroups(groups, storedNs);
      db.exec('COMMIT');
      return results;
    } catch (err) {
      db.exec('ROLLBACK');
      rows = Number((db.prepare('SELECT COUNT(*) AS n FROM calls').get() as { n: number }).n);
      throw storeError('SQLite insert failed', err);
    }
  }

  /**
   * Group commit: the batches handed to `add` within `groupCommitMs` of the first one (by
   * default, during one turn of the event loop) are stored in one transaction, and each `add`
   * resolves only once that transaction committed. One commit writes each page the batches
   * share (the table's last pages, index pages, the full-text index) once instead of once per
   * batch: record and trace ids are random, so a commit dirties index pages all over the file
   * whether it holds one batch or four. Past `GROUP_COMMIT_MAX_RECORDS` pending records the
   * group commits on the next turn without waiting out the window. If the shared transaction
   * fails, each batch is tried alone, so a failure reaches only the batch that caused it.
   */
  interface PendingAdd {
    records: readonly CallRecord[];
    resolve: (result: AddResult) => void;
    reject: (err: unknown) => void;
  }
  let pending: PendingAdd[] = [];
  let pendingRecords = 0;
  const groupCommitMs = options.groupCommitMs ?? 0;
  let commitTimer: NodeJS.Timeout | undefined;
  let commitImmediate: NodeJS.Immediate | undefined;

  function flush(): void {
    clearTimeout(commitTimer);
    clearImmediate(commitImmediate);
    commitTimer = undefined;
    commitImmediate = undefined;
    const group = pending;
    pending = [];
    pendingRecords = 0;
    if (group.length === 0) return;
    if (!db.isOpen) {
      for (const p of group) p.reject(storeError('SQLite insert failed', new Error('the store is closed')));
      return;
    }
    try {
      const results = write(group.map((p) => p.records));
      for (let i = 0; i < group.length; i++) group[i].resolve(results[i]);
      return;
    } catch (err) {
      if (group.length === 1) {
        group[0].reject(err);
        return;
      }
    }
    // The shared transaction failed: each batch alone, so only the one at fault fails.
    for (const p of group) {
      try {
        p.resolve(write([p.records])[0]);
      } catch (err) {
        p.reject(err);
      }
    }
  }

  const store: SqliteRecordStore = {
    fullText: ftsFrom !== undefined,
    add(records): Promise<AddResult> {
      if (records.length === 0) return Promise.resolve({ stored: 0, duplicates: 0, added: [] });
      return new Promise<AddResult>((resolve, reject) => {
        pending.push({ records, resolve, reject });
        pendingRecords += records.length;
        if (commitImmediate !== undefined) return;
        if (groupCommitMs > 0 && pendingRecords < GROUP_COMMIT_MAX_RECORDS) {
          commitTimer ??= setTimeout(flush, groupCommitMs);
          return;
        }
        // No window, or the group is big enough: commit on the next turn.
        clearTimeout(commitTimer);
        commitTimer = undefined;
        commitImmediate = setImmediate(flush);
      });
    },

    async list(query: ListQuery) {
      const out: CallRecord[] = [];
      const stats = query.stats ?? { scanned: 0, truncated: false };
      stats.scanned = 0;
      stats.truncated = false;
      stats.pauses = 0;
      if (query.limit <= 0) return out;
      const plan = planList(query, ftsFrom);
      const page = plan.residual === undefined ? query.limit : Math.min(1000, Math.max(query.limit, 200));
      const maxScan = Math.min(scanLimit, query.maxScan ?? scanLimit);
      const slicer = createTimeSlicer(query.sliceMs);
      if (plan.readsRecord) return listByRanges(plan, query.limit, page, maxScan, stats, slicer);
      const stmt = listStatement(`SELECT seq, ${STORED_RECORD_COLUMNS} FROM calls WHERE ${plan.where} AND seq < ? ORDER BY seq DESC LIMIT ?`);
      let cursor: SQLInputValue = Number.MAX_SAFE_INTEGER;
      for (;;) {
        if (!db.isOpen) return out;
        // Whole pages: the limit is checked between them, so a request reads at least one.
        const batch = stmt.all(...plan.params, cursor, page) as unknown as (StoredRecordRow & { seq: number })[];
        for (const row of batch) {
          stats.scanned++;
          const record = parse(row);
          if (plan.residual === undefined || plan.residual.matches(record)) {
            out.push(record);
            if (out.length >= query.limit) return out;
          }
          // The page is read already: the scan can give a turn between any two of its rows.
          if (plan.residual !== undefined && slicer.due()) {
            await slicer.pause();
            stats.pauses = slicer.pauses;
          }
        }
        if (batch.length < page) return out;
        if (stats.scanned >= maxScan) {
          // The row budget is spent: answer with what was found, and say so.
          stats.truncated = true;
          return out;
        }
        cursor = batch[batch.length - 1].seq;
        // A filter that matches little scans many pages: let ingest and other requests run between them.
        await yieldToEventLoop();
      }
    },

    async get(id) {
      const row = byId.get(id);
      return row === undefined ? undefined : parse(row);
    },

    async byTrace(traceId) {
      return byTraceId.all(traceId, traceId, MAX_TRACE_RECORDS).map(parse).sort(compareTraceOrder);
    },

    async retrace(from, to) {
      try {
        return Number(retraceRows.run(to, to, from, from).changes);
      } catch (err) {
        throw storeError('SQLite trace rewrite failed', err);
      }
    },

    async summaries(query: SummaryQuery) {
      const rows = query.until === undefined ? summariesSince.all(query.since, query.limit) : summariesBetween.all(query.since, query.until, query.limit);
      return (rows as Row[]).map(summaryFromRow);
    },

    async oldestStart() {
      // The calls_start index: one step, whatever the table holds.
      const row = oldestStartStmt.get() as { oldest: number | bigint | null };
      return row.oldest === null ? undefined : BigInt(row.oldest);
    },

    async count() {
      return rows;
    },

    usedBytes,

    enforceRetention() {
      // One run at a time: the timer and a caller may overlap.
      retaining ??= retention().finally(() => {
        retaining = undefined;
      });
      return retaining;
    },

    async close() {
      if (timer !== undefined) clearInterval(timer);
      // Batches handed over before the close are stored (and answered) first.
      if (db.isOpen) flush();
      await retaining?.catch(() => undefined);
      if (db.isOpen) db.close();
    },
  };
  return store;
}
