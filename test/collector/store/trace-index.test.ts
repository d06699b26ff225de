/**
 * The trace index is keyed by the last characters of the trace id (schema 3): lookups, trace
 * rewrites and `trace_id ==` filters use it, ids that share those characters are told apart, and
 * a schema 2 database (index over the whole id) is migrated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t from 'tap';
import { compileFilter, isCompiledFilter } from '../../../collector/filter/compile.ts';
import { buildSqlPushdown } from '../../../collector/filter/pushdown.ts';
import { CALLS_SCHEMA, TRACE_ID_MATCH } from '../../../collector/store/calls-schema.ts';
import { SCHEMA_VERSION, createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import { legacySchema } from './legacy-schema.ts';
import type { CallRecord } from '../../../record/record.ts';
import { fullRecord } from '../../proto/record-fixtures.ts';

// Same last 12 characters, different ids; and one id shorter than the key.
const A = 'aaaaaaaaaaaaaaaaaaaa0123456789ab';
const B = 'bbbbbbbbbbbbbbbbbbbb0123456789ab';
const SHORT = 'abc';

function withTrace(i: number, traceId: string | undefined): CallRecord {
  const r: CallRecord = { ...fullRecord(i), id: `r-${i}` };
  if (traceId === undefined) delete r.trace_id;
  else r.trace_id = traceId;
  return r;
}

const RECORDS = [withTrace(1, A), withTrace(2, B), withTrace(3, A), withTrace(4, SHORT), withTrace(5, undefined)];

function plan(db: DatabaseSync, sql: string, ...params: (string | number | Uint8Array)[]): string {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join(' | ');
}

void t.test('lookups, rewrites and filters tell apart ids that share the key', async (t) => {
  const store = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 });
  t.teardown(() => store.close());
  await store.add(RECORDS);
  t.same((await store.byTrace(A)).map((r) => r.id).sort(), ['r-1', 'r-3']);
  t.same((await store.byTrace(B)).map((r) => r.id), ['r-2']);
  t.same((await store.byTrace(SHORT)).map((r) => r.id), ['r-4']);
  t.same(await store.byTrace('0123456789ab'), [], 'the key alone is not an id');
  const filter = compileFilter(`trace_id == "${B}"`);
  if (!isCompiledFilter(filter)) throw new Error('filter did not compile');
  t.same((await store.list({ limit: 10, filter })).map((r) => r.id), ['r-2']);
  const not = compileFilter(`trace_id != "${B}" && !(trace_id == "${A}")`);
  if (!isCompiledFilter(not)) throw new Error('filter did not compile');
  t.same((await store.list({ limit: 10, filter: not })).map((r) => r.id), ['r-4'], 'negation: records without a trace id match neither');
  t.equal(await store.retrace(A, 'cccccccccccccccccccccccccccccccc'), 2);
  t.same((await store.byTrace(B)).map((r) => r.id), ['r-2'], 'the id sharing the key is not moved');
});

void t.test('the trace index answers lookups, rewrites and trace_id filters', async (t) => {
  const db = new DatabaseSync(':memory:');
  t.teardown(() => db.close());
  db.exec(CALLS_SCHEMA);
  t.match(plan(db, `SELECT record FROM calls WHERE ${TRACE_ID_MATCH} ORDER BY start_ns, seq LIMIT ?`, A, A, 10), /USING INDEX calls_trace/);
  t.match(plan(db, `UPDATE calls SET trace_id = ? WHERE ${TRACE_ID_MATCH}`, B, A, A), /USING INDEX calls_trace/);
  const filter = compileFilter(`trace_id == "${A}" && status_code >= 500`);
  if (!isCompiledFilter(filter)) throw new Error('filter did not compile');
  const pushdown = buildSqlPushdown(filter);
  t.match(plan(db, `SELECT seq, record FROM calls WHERE ${pushdown.where} AND seq < ? ORDER BY seq DESC LIMIT ?`, ...pushdown.params, 1e9, 10), /USING INDEX calls_trace/);
});

void t.test('migration: a schema 2 database gets the new trace index, its rows still found', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trace-index-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.db');
  // Schema 2: the table as it was then, with the index over the whole id.
  const legacy = legacySchema(2);
  const schema2 = legacy.schema.replace(/CREATE INDEX calls_trace ON calls \([^;]*;/, 'CREATE INDEX calls_trace ON calls (trace_id) WHERE trace_id IS NOT NULL;');
  t.match(schema2, /calls_trace ON calls \(trace_id\)/);
  const old = new DatabaseSync(path);
  old.exec(schema2);
  const insert = old.prepare(legacy.insertSql);
  for (const r of RECORDS) insert.run(...legacy.row(r));
  old.exec('PRAGMA user_version = 2');
  old.close();

  const store = createSqliteStore({ path, retentionIntervalMs: 0 });
  t.same((await store.byTrace(A)).map((r) => r.id).sort(), ['r-1', 'r-3']);
  await store.close();
  const db = new DatabaseSync(path);
  t.teardown(() => db.close());
  t.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION);
  const sql = (db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'calls_trace'").get() as { sql: string }).sql;
  t.match(sql, /substr\(trace_id, -12\)/, 'the index is keyed by the id\'s last characters');
  t.match(plan(db, `SELECT record FROM calls WHERE ${TRACE_ID_MATCH}`, A, A), /USING INDEX calls_trace/);
});
