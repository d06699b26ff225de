/**
 * The full-text index in documents of consecutive rows: searches find every row of a
 * document (not only its first), documents go with their last row, an index written one
 * document per row (with a delete trigger) keeps working, and the size bound holds when it
 * shrinks across a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t from 'tap';
import { compileFilter, type CompiledFilter } from '../../../collector/filter/compile.ts';
import { isFilterError } from '../../../collector/filter/errors.ts';
import { CALLS_INSERT_SQL, CALLS_SCHEMA, FTS_DOC_ROWS, SCHEMA_VERSION, callsRow } from '../../../collector/store/calls-schema.ts';
import { createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { callRecord } from '../helpers.ts';
import { filledStoreFile } from './filled-store.ts';

function filter(source: string): CompiledFilter {
  const compiled = compileFilter(source);
  if (isFilterError(compiled)) throw new Error(`test filter does not compile: ${compiled.message}`);
  return compiled;
}

const ids = (records: { id: string }[]): string[] => records.map((r) => r.id);
const count = (db: DatabaseSync, sql: string): number => Number((db.prepare(sql).get() as { n: number }).n);

void t.test('every row of a document is found; documents go with their last row', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-fts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'calls.db');
  let now = 1_000_000_000_000_000_000n;
  const store = createSqliteStore({ path, retentionHours: 1, retentionIntervalMs: 0, listScanLimit: 10, now: () => now });
  const rows = FTS_DOC_ROWS * 3 + 5;
  // The same body everywhere but one distinct word per row: most trigrams repeat within a document.
  await store.add(Array.from({ length: rows }, (_, i) => callRecord({ id: `r-${i}`, at: i, responseBody: `{"status":"ok","word":"w${i}x"}` })));
  for (const i of [0, 1, FTS_DOC_ROWS - 1, FTS_DOC_ROWS, rows - 1]) {
    t.same(ids(await store.list({ limit: 5, filter: filter(`response.body.contains("w${i}x")`) })), [`r-${i}`], `row ${i}`);
  }
  now += 2n * 3_600_000_000_000n;
  await store.add([callRecord({ id: 'late', responseBody: 'late w1x' })]);
  const db = new DatabaseSync(path);
  t.teardown(() => db.close());
  t.equal(count(db, 'SELECT COUNT(*) AS n FROM calls_fts_docs'), 5, 'four documents, then one for the late row');
  t.same(await store.enforceRetention(), { deletedByAge: rows, deletedBySize: 0 });
  t.equal(count(db, 'SELECT COUNT(*) AS n FROM calls_fts_docs'), 1, 'documents of deleted rows are gone');
  t.same(ids(await store.list({ limit: 5, filter: filter('response.body.contains("w1x")') })), ['late']);
  await store.close();
});

void t.test('an index of one document per row, with its delete trigger, keeps working', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-fts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'calls.db');
  const old = new DatabaseSync(path);
  old.exec(CALLS_SCHEMA);
  old.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  old.exec(`CREATE VIRTUAL TABLE calls_fts USING fts5(path, request_body, response_body, content='', contentless_delete=1, tokenize='trigram case_sensitive 1', detail=none);
    CREATE TRIGGER calls_fts_delete AFTER DELETE ON calls BEGIN DELETE FROM calls_fts WHERE rowid = old.seq; END;
    INSERT INTO store_meta (key, value) VALUES ('fts_from_seq', '1');`);
  const insert = old.prepare(CALLS_INSERT_SQL);
  const insertFts = old.prepare('INSERT INTO calls_fts (rowid, path, request_body, response_body) VALUES (?, NULL, NULL, ?)');
  for (let i = 0; i < 20; i++) {
    const r = callRecord({ id: `old-${i}`, at: i, responseBody: `body order-${i}-end` });
    const { lastInsertRowid } = insert.run(...callsRow(r, 0n, JSON.stringify(recordToJson(r))));
    insertFts.run(lastInsertRowid, `body order-${i}-end`);
  }
  old.close();

  const store = createSqliteStore({ path, retentionIntervalMs: 0, listScanLimit: 5, maxRecords: 25 });
  t.teardown(() => store.close());
  t.same(ids(await store.list({ limit: 5, filter: filter('response.body.contains("order-3-end")') })), ['old-3'], 'an old row, past the scan limit');
  await store.add(Array.from({ length: 10 }, (_, i) => callRecord({ id: `new-${i}`, responseBody: `body order-${i}-end` })));
  t.equal(await store.count(), 25, 'the row cap deleted the five oldest');
  t.same(ids(await store.list({ limit: 5, filter: filter('response.body.contains("order-7-end")') })), ['new-7', 'old-7'], 'old and new rows found');
  t.same(ids(await store.list({ limit: 5, filter: filter('response.body.contains("order-2-end")') })), ['new-2'], 'deleted rows are not');
});

void t.test('a smaller size bound after a restart is enforced by retention and by the next write', async (t) => {
  const { path, used } = await filledStoreFile((fn) => t.teardown(fn));

  const maxBytes = Math.floor(used / 2);
  const small = createSqliteStore({ path, retentionMaxBytes: maxBytes, retentionIntervalMs: 0 });
  t.teardown(() => small.close());
  t.ok(small.usedBytes() > maxBytes, 'over the new bound when reopened');
  const result = await small.enforceRetention();
  t.ok(result.deletedBySize > 0, `retention deleted ${result.deletedBySize} by size`);
  t.ok(small.usedBytes() <= maxBytes, 'under the bound after retention');
  t.ok(await small.get('s-999'), 'the newest kept');
  t.same(ids(await small.list({ limit: 1, filter: filter('request.body.contains("999-999-")') })), ['s-999'], 'the index still answers');
});
