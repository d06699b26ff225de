/**
 * Records kept as protobuf (schema 4): every shape reads back as it was added, the collector's
 * own fields included; a schema 3 database's JSON rows read as before beside new protobuf rows
 * (get, filtered lists, traces, summaries, retrace); an unreadable row is a store error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t from 'tap';
import { compileFilter, isCompiledFilter } from '../../../collector/filter/compile.ts';
import type { CallSummary } from '../../../collector/record-store.ts';
import { SCHEMA_VERSION, createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import type { CallRecord } from '../../../record/record.ts';
import { fullRecord, minimalRecord, sizedRecord } from '../../proto/record-fixtures.ts';
import { legacySchema } from './legacy-schema.ts';

const TRACE = 'a'.repeat(32);
const MOVED = 'b'.repeat(32);

/** Records of every shape the store meets, the collector's own fields among them. */
function shapes(tag: string): CallRecord[] {
  const full = fullRecord(1);
  full.id = `${tag}-full`;
  full.trace_id = TRACE;
  full.attempt = 2;
  full.first_attempt_id = `${tag}-first`;
  full.retry_after_honoured = false;
  const min = minimalRecord(2);
  min.id = `${tag}-min`;
  const large = sizedRecord(3, 64 * 1024);
  large.id = `${tag}-large`;
  large.request!.truncated = true;
  large.attempt = 1;
  large.retry_after_honoured = true;
  const binary = sizedRecord(4, 0);
  binary.id = `${tag}-binary`;
  binary.trace_id = TRACE;
  binary.response = { headers: {}, body: Uint8Array.from([0xff, 0x00, 0xfe, 0x80, 0x22, 0x5c]), body_size: 6, truncated: false, content_type: 'application/octet-stream' };
  const dns = minimalRecord(5);
  dns.id = `${tag}-dns`;
  dns.protocol = 'dns';
  dns.dns_rcode = 'SERVFAIL';
  dns.error = 'timeout';
  dns.notes = ['one', 'two'];
  return [full, min, large, binary, dns];
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'stored-record-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function compiled(source: string) {
  const f = compileFilter(source);
  if (!isCompiledFilter(f)) throw new Error(`${source} did not compile`);
  return f;
}

/** A summary without what differs between two records of the same shape (id, connection id). */
const shapeOf = ({ id: _id, connection_id: _c, ...rest }: CallSummary): Omit<CallSummary, 'id' | 'connection_id'> => rest;

void t.test('every record shape reads back as it was added, from a protobuf row', async (t) => {
  const path = join(tempDir(t), 'calls.db');
  const store = createSqliteStore({ path, retentionIntervalMs: 0 });
  const records = shapes('new');
  t.equal((await store.add(records)).stored, records.length);
  for (const r of records) t.same(await store.get(r.id), r, `${r.id}: get`);
  const listed = await store.list({ limit: 100 });
  t.same([...listed].sort((a, b) => (a.id < b.id ? -1 : 1)), [...records].sort((a, b) => (a.id < b.id ? -1 : 1)), 'list');
  t.same((await store.list({ limit: 10, filter: compiled('attempt == 2 && first_attempt_id == "new-first"') })).map((r) => r.id), ['new-full'], 'a filter on the collector\'s own fields');
  await store.close();

  const db = new DatabaseSync(path);
  t.teardown(() => db.close());
  const kinds = db.prepare('SELECT DISTINCT typeof(record) AS kind FROM calls').all() as { kind: string }[];
  t.same(kinds.map((k) => k.kind), ['blob'], 'records are stored as protobuf');
  const jsonBytes = (db.prepare('SELECT SUM(length(record)) AS n FROM calls').get() as { n: number }).n;
  t.ok(jsonBytes < 64 * 1024 + 4096, `the rows' records take ${jsonBytes} bytes: bodies are bytes, not text`);
});

void t.test('a schema 3 database: its JSON rows read as before, beside new protobuf rows', async (t) => {
  const path = join(tempDir(t), 'old.db');
  const legacy = legacySchema(3);
  const old = new DatabaseSync(path);
  old.exec(legacy.schema);
  old.exec('PRAGMA user_version = 3');
  const insert = old.prepare(legacy.insertSql);
  const before = shapes('old');
  for (const r of before) insert.run(...legacy.row(r));
  old.close();

  const store = createSqliteStore({ path, retentionIntervalMs: 0 });
  const after = shapes('new');
  await store.add(after);
  for (const r of [...before, ...after]) t.same(await store.get(r.id), r, `${r.id}: get`);

  const failed = compiled('protocol == "dns" && dns_rcode == "SERVFAIL"');
  t.same((await store.list({ limit: 10, filter: failed })).map((r) => r.id).sort(), ['new-dns', 'old-dns'], 'a filter finds both kinds of row');
  t.same((await store.byTrace(TRACE)).map((r) => r.id).sort(), ['new-binary', 'new-full', 'old-binary', 'old-full'], 'a trace spans both');

  const summaries = await store.summaries({ since: -1n, limit: 100 });
  t.equal(summaries.length, before.length + after.length);
  const byId = new Map(summaries.map((s) => [s.id, s]));
  for (const r of before) {
    const oldSummary = byId.get(r.id)!;
    const newSummary = byId.get(r.id.replace('old-', 'new-'))!;
    t.same(shapeOf(newSummary), shapeOf(oldSummary), `${r.id}: the same summary from either kind of row`);
  }
  t.match(byId.get('new-full'), { attempt: 2, connection: { reset_by: 'server', exchanges: 3 }, tls: { app_tls: { sni: 'payment.shop', version: 'TLSv1.3' } }, request: { truncated: after[0].request!.truncated } });
  t.match(byId.get('new-large'), { attempt: 1, request: { truncated: true } });

  t.equal(await store.retrace(TRACE, MOVED), 4, 'retrace moves both kinds of row');
  t.same(await store.byTrace(TRACE), []);
  for (const id of ['old-full', 'new-full', 'old-binary', 'new-binary']) {
    const moved = await store.get(id);
    t.equal(moved?.trace_id, MOVED, `${id}: the record says its new trace`);
  }
  const full = (await store.get('new-full'))!;
  t.same({ ...full, trace_id: TRACE }, after[0], 'nothing else about a moved protobuf record changed');
  await store.close();

  const db = new DatabaseSync(path);
  t.teardown(() => db.close());
  t.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION);
  const kinds = db.prepare("SELECT substr(id, 1, 3) AS era, typeof(record) AS kind, COUNT(*) AS n FROM calls GROUP BY era, kind ORDER BY era").all() as { era: string; kind: string; n: number }[];
  t.same(kinds.map((k) => ({ ...k })), [
    { era: 'new', kind: 'blob', n: after.length },
    { era: 'old', kind: 'text', n: before.length },
  ], 'old rows are not rewritten');
});

void t.test('a row whose record cannot be read is a store error naming the row and the cause', async (t) => {
  const path = join(tempDir(t), 'calls.db');
  const store = createSqliteStore({ path, retentionIntervalMs: 0 });
  t.teardown(() => store.close());
  await store.add(shapes('x'));
  const db = new DatabaseSync(path);
  t.teardown(() => db.close());
  db.prepare("UPDATE calls SET record = x'ff01' WHERE id = 'x-min'").run();
  db.prepare("UPDATE calls SET record = '{not json' WHERE id = 'x-dns'").run();
  await t.rejects(store.get('x-min'), { code: 'COL_ERR_STORE', message: /a stored record cannot be read \(id "x-min"\): bad protobuf/ });
  await t.rejects(store.get('x-dns'), { code: 'COL_ERR_STORE', message: /a stored record cannot be read \(id "x-dns"\): bad JSON/ });
  t.same((await store.get('x-full'))?.id, 'x-full', 'the other rows still read');
});
