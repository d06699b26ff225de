import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t, { type Test } from 'tap';
import { compileFilter, type CompiledFilter } from '../../collector/filter/compile.ts';
import { isFilterError } from '../../collector/filter/errors.ts';
import { createMemoryStore } from '../../collector/memory-store.ts';
import type { RecordStore } from '../../collector/record-store.ts';
import { SCHEMA_VERSION, createSqliteStore, ftsQuery, fullTextTerms } from '../../collector/store/sqlite-store.ts';
import { fullRecord, minimalRecord } from '../proto/record-fixtures.ts';
import { callRecord, shopDataset } from './helpers.ts';

function filter(source: string): CompiledFilter {
  const compiled = compileFilter(source);
  if (isFilterError(compiled)) throw new Error(`test filter does not compile: ${compiled.message}`);
  return compiled;
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ids = (records: { id: string }[]): string[] => records.map((r) => r.id);

const kinds: [string, (max: number) => RecordStore][] = [
  ['memory', (max) => createMemoryStore({ maxRecords: max })],
  ['sqlite', (max) => createSqliteStore({ path: ':memory:', maxRecords: max, retentionIntervalMs: 0 })],
];

for (const [kind, make] of kinds) {
  void t.test(`${kind} store: add, list, get, duplicates, row cap`, async (t) => {
    const store = make(5);
    t.teardown(() => store.close());
    t.same(await store.list({ limit: 10 }), [], 'empty');
    const first = await store.add([fullRecord(0), fullRecord(1), minimalRecord(2)]);
    t.same({ stored: first.stored, duplicates: first.duplicates }, { stored: 3, duplicates: 0 });
    t.same(ids([...first.added]), ['rec-0', 'rec-1', 'min-2'], 'added lists the new records');
    t.same(ids(await store.list({ limit: 10 })), ['min-2', 'rec-1', 'rec-0'], 'newest first');
    t.same(ids(await store.list({ limit: 2 })), ['min-2', 'rec-1'], 'limit');
    const got = await store.get('rec-1');
    t.doesNotThrow(() => assert.deepStrictEqual(got, fullRecord(1)), 'get returns the record exactly');
    const min = await store.get('min-2');
    t.doesNotThrow(() => assert.deepStrictEqual(min, minimalRecord(2)), 'absent fields stay absent');
    t.equal(await store.get('nope'), undefined);
    const again = await store.add([fullRecord(1)]);
    t.same({ stored: again.stored, duplicates: again.duplicates, added: again.added.length }, { stored: 0, duplicates: 1, added: 0 }, 'same id again is a duplicate');

    await store.add([3, 4, 5, 6].map((i) => fullRecord(i)));
    t.equal(await store.count(), 5, 'bounded');
    t.same(ids(await store.list({ limit: 10 })), ['rec-6', 'rec-5', 'rec-4', 'rec-3', 'min-2'], 'oldest evicted');
    t.equal(await store.get('rec-0'), undefined, 'evicted ids are gone');
    t.equal((await store.add([fullRecord(0)])).stored, 1, 'an evicted id can come back');

    const since = fullRecord(5).start;
    t.same(ids(await store.list({ limit: 10, since })), ['rec-6', 'rec-5'], 'since filters on start');
    t.same(ids(await store.list({ limit: 1, since })), ['rec-6']);
  });

  void t.test(`${kind} store: byTrace and summaries`, async (t) => {
    const store = make(100);
    t.teardown(() => store.close());
    await store.add([
      callRecord({ id: 'b-in', observer: 'inbound', at: 5, traceId: 'T1', connectionId: 'c1' }),
      callRecord({ id: 'c', at: 9, traceId: 'T1' }),
      callRecord({ id: 'a', at: 1, traceId: 'T1' }),
      callRecord({ id: 'b-out', observer: 'outbound', at: 5, traceId: 'T1', connectionId: 'c1' }),
      callRecord({ id: 'other', at: 2, traceId: 'T2' }),
      callRecord({ id: 'none', at: 3 }),
    ]);
    t.same(ids(await store.byTrace('T1')), ['a', 'b-out', 'b-in', 'c'], 'by start, caller before callee at the same instant');
    t.same(await store.byTrace('T3'), []);
    const sums = await store.summaries({ since: callRecord({ id: 'x', at: 3 }).start, limit: 10 });
    t.same(ids(sums), ['none', 'b-out', 'c', 'b-in'], 'newest first, start >= since');
    const s = sums.find((x) => x.id === 'b-in')!;
    t.match(s, { observer: 'inbound', connection_id: 'c1', ordinal: 0, elapsed_us: 1000, src: { ip: '10.244.0.5' }, tls: { mesh: false } });
    t.equal(s.start, callRecord({ id: 'x', at: 5 }).start);
  });
}

// Filters that exercise the pushdown (exact, partial, none) and the residual in JS.
const FILTERS = [
  'http',
  'http && method == "POST" && status_code >= 500',
  'dst.workload == "payment"',
  'src.namespace == "infra" || dst.workload == "auth"',
  'status_code == 404 && path.startsWith("/api/catalog")',
  '!(status_code >= 400)',
  'grpc && grpc_status != 0',
  'error == "timeout"',
  'has(dst.workload) && dst.workload in ["auth", "gateway"]',
  'request.body.contains("gift wrap")',
  'response.body.contains("ref-3")',
  'request.body.contains("order-42")',
  'request.body.contains("order-4") && dst.workload == "catalog"',
  'elapsed_us > 40000 && mesh',
  'request.headers["content-type"] == "application/json" && status_code == 201',
  'path.contains("/8") || response.body.endsWith("ref-0\\"}")',
  'trace_id == "trace-3" && observer == "inbound"',
  'size(request.body) > 38',
  'src.pod.endsWith("-2") && !has(call.status_code)',
];

void t.test('sqlite pushdown + residual gives what the memory store gives', async (t) => {
  const data = shopDataset(600);
  const memory = createMemoryStore({ maxRecords: 10_000 });
  const sqlite = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 });
  t.teardown(() => sqlite.close());
  await memory.add(data);
  // Several batches, as ingest does.
  for (let i = 0; i < data.length; i += 97) await sqlite.add(data.slice(i, i + 97));
  const since = data[200].start;
  for (const source of FILTERS) {
    const f = filter(source);
    for (const query of [{ limit: 1000 }, { limit: 7 }, { limit: 1000, since }]) {
      const expected = ids(await memory.list({ ...query, filter: f }));
      const actual = ids(await sqlite.list({ ...query, filter: f }));
      t.same(actual, expected, `${source} ${JSON.stringify(query, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    }
  }
  // Sanity: the table is not trivially empty or full for most filters.
  const sizes = await Promise.all(FILTERS.map(async (s) => (await memory.list({ limit: 1000, filter: filter(s) })).length));
  t.ok(sizes.every((n) => n > 0 && n < 600), `filters select proper subsets: ${sizes.join(',')}`);
  t.equal((await memory.list({ limit: 1000, filter: filter('request.body.contains("order-42")') })).length, 10, 'order-42 and order-420..428 (429 has no body)');
});

void t.test('full-text: body filters read only the rows the index names', async (t) => {
  const terms = fullTextTerms(filter('http && response.body.contains("order-42") && (call.request.body.startsWith("abc") && path.endsWith("/x1"))').ast);
  t.same(terms, [
    { column: 'response_body', text: 'order-42' },
    { column: 'request_body', text: 'abc' },
    { column: 'path', text: '/x1' },
  ]);
  t.same(fullTextTerms(filter('response.body.contains("order-42") || http').ast), [], 'not under ||');
  t.same(fullTextTerms(filter('!response.body.contains("order-42")').ast), [], 'not under !');
  t.same(fullTextTerms(filter('response.body.contains("ab")').ast), [], 'shorter than a trigram');
  t.equal(ftsQuery([{ column: 'path', text: 'a"bcd' }]), '"a""b" AND """bc" AND "bcd"');

  // A scan limit far below the data: only the index can find an old match.
  const store = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0, listScanLimit: 50 });
  t.teardown(() => store.close());
  t.equal(store.fullText, true, 'FTS5 is compiled into node:sqlite');
  const data = Array.from({ length: 2000 }, (_, i) =>
    callRecord({ id: `f-${i}`, at: i, path: `/orders/${i}`, responseBody: JSON.stringify({ id: `order-${i}`, status: 'ok' }), requestBody: i === 7 ? 'Needle-in-the-Request' : '{}' }),
  );
  await store.add(data);
  t.same(
    ids(await store.list({ limit: 20, filter: filter('response.body.contains("order-42")') })),
    ['f-429', 'f-428', 'f-427', 'f-426', 'f-425', 'f-424', 'f-423', 'f-422', 'f-421', 'f-420', 'f-42'],
    'substrings, not tokens',
  );
  t.same(ids(await store.list({ limit: 10, filter: filter('response.body.contains("\\"order-42\\"")') })), ['f-42'], 'quotes in the term');
  t.same(ids(await store.list({ limit: 10, filter: filter('request.body.contains("in-the-Req")') })), ['f-7']);
  t.same(ids(await store.list({ limit: 10, filter: filter('request.body.contains("in-the-req")') })), [], 'case-sensitive like CEL');
  t.same(ids(await store.list({ limit: 10, filter: filter('path.endsWith("/1999") && response.body.contains("order-1999")') })), ['f-1999']);
  const nineteen = ids(await store.list({ limit: 500, filter: filter('size(response.body) > 0 && response.body.contains("order-19")') }));
  t.equal(nineteen.length, 111, 'order-19, order-190..199, order-1900..1999');
  t.equal(nineteen.at(-1), 'f-19');
  // Without the index the same search runs out of scan budget among the newest rows.
  const plain = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0, listScanLimit: 50, fullText: false });
  t.teardown(() => plain.close());
  await plain.add(data);
  t.equal(plain.fullText, false);
  t.same(ids(await plain.list({ limit: 10, filter: filter('response.body.contains("order-42\\"")') })), [], 'bounded scan without the index');
  t.same(ids(await plain.list({ limit: 10, filter: filter('response.body.contains("order-1990")') })), ['f-1990'], 'recent rows are scanned');
});

void t.test('retention by age, by size, with an injected clock', async (t) => {
  let now = 1_000_000_000_000_000_000n;
  const hour = 3_600_000_000_000n;
  const store = createSqliteStore({ path: ':memory:', retentionHours: 2, retentionIntervalMs: 0, now: () => now });
  t.teardown(() => store.close());
  await store.add(Array.from({ length: 300 }, (_, i) => callRecord({ id: `old-${i}` })));
  now += hour;
  await store.add(Array.from({ length: 200 }, (_, i) => callRecord({ id: `mid-${i}` })));
  now += hour + 1n;
  t.same(await store.enforceRetention(), { deletedByAge: 300, deletedBySize: 0 }, 'only rows stored more than 2 h ago');
  t.equal(await store.count(), 200);
  t.equal(await store.get('old-0'), undefined);
  t.ok(await store.get('mid-0'));
  t.same(await store.enforceRetention(), { deletedByAge: 0, deletedBySize: 0 }, 'nothing more to do');
  t.same(ids(await store.list({ limit: 1, filter: filter('request.body.contains("nothing")') })), [], 'the index follows deletes');

  // Size: bodies make each row a few KiB; the bound is 1 MiB.
  const maxBytes = 1024 * 1024;
  const sized = createSqliteStore({ path: ':memory:', retentionMaxBytes: maxBytes, retentionIntervalMs: 0, now: () => now });
  t.teardown(() => sized.close());
  const body = (i: number): string => JSON.stringify({ i, pad: `${i}-`.repeat(600) });
  for (let b = 0; b < 10; b++) await sized.add(Array.from({ length: 100 }, (_, k) => callRecord({ id: `s-${b * 100 + k}`, requestBody: body(b * 100 + k) })));
  // Writes keep the bound themselves (a burst between two retention runs cannot blow it).
  t.ok(await sized.count() < 1000, `the oldest rows went on insert (${await sized.count()} of 1000 kept)`);
  t.ok(sized.usedBytes() <= maxBytes, `under the bound without retention (${sized.usedBytes()})`);
  const result = await sized.enforceRetention();
  t.same(result, { deletedByAge: 0, deletedBySize: 0 }, 'nothing left for retention to do');
  t.ok(sized.usedBytes() <= maxBytes, `under the bound after (${sized.usedBytes()})`);
  t.ok(await sized.get('s-999'), 'the newest kept');
  t.equal(await sized.get('s-0'), undefined, 'the oldest deleted');
  const kept = await sized.count();
  t.same(ids(await sized.list({ limit: 1000 })).length, kept);
  t.same(ids(await sized.list({ limit: 1, filter: filter('request.body.contains("999-999-")') })), ['s-999'], 'the index still answers');
});

void t.test('a file store survives a restart; schema versions are checked', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'calls.db');
  const first = createSqliteStore({ path, retentionIntervalMs: 0 });
  await first.add([fullRecord(1), callRecord({ id: 'x', responseBody: 'hello order-77' })]);
  await first.close();

  const second = createSqliteStore({ path, retentionIntervalMs: 0 });
  t.equal(await second.count(), 2, 'rows kept');
  t.doesNotThrow(() => assert.deepStrictEqual(fullRecord(1), fullRecord(1)));
  t.same(await second.get('rec-1'), fullRecord(1));
  t.same(ids(await second.list({ limit: 5, filter: filter('response.body.contains("order-77")') })), ['x'], 'index kept');
  t.equal((await second.add([fullRecord(1)])).duplicates, 1, 'ids still unique');
  await second.add([callRecord({ id: 'y' })]);
  t.same(ids(await second.list({ limit: 5 })), ['y', 'x', 'rec-1'], 'arrival order continues');
  await second.close();

  // Off and on again: rows stored while the index was off are still found.
  const off = createSqliteStore({ path, retentionIntervalMs: 0, fullText: false });
  await off.add([callRecord({ id: 'z', responseBody: 'while off order-77' })]);
  await off.close();
  const on = createSqliteStore({ path, retentionIntervalMs: 0 });
  await on.add([callRecord({ id: 'w', responseBody: 'after order-77' })]);
  t.same(ids(await on.list({ limit: 5, filter: filter('response.body.contains("order-77")') })), ['w', 'z', 'x']);
  await on.close();

  const db = new DatabaseSync(path);
  t.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION);
  t.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  t.throws(() => createSqliteStore({ path, retentionIntervalMs: 0 }), { code: 'COL_ERR_STORE', message: new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this collector understands \\(${SCHEMA_VERSION}\\)`) });

  const foreign = join(dir, 'foreign.db');
  const other = new DatabaseSync(foreign);
  other.exec('CREATE TABLE calls (seq INTEGER PRIMARY KEY, record TEXT)');
  other.close();
  t.throws(() => createSqliteStore({ path: foreign, retentionIntervalMs: 0 }), { code: 'COL_ERR_STORE', message: /not a meshtap collector database/ });
  t.throws(() => createSqliteStore({ path: join(dir, 'no', 'such', 'dir.db') }), { code: 'COL_ERR_STORE', message: /cannot open/ });
});

void t.test('the retention timer runs by itself', async (t) => {
  let now = 0n;
  const store = createSqliteStore({ path: ':memory:', retentionHours: 1, retentionIntervalMs: 20, now: () => now });
  t.teardown(() => store.close());
  await store.add([callRecord({ id: 'a' })]);
  now = 3_600_000_000_001n;
  const deadline = Date.now() + 5000;
  while ((await store.count()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(await store.count(), 0);
});
