/**
 * A list whose SQL reads each row's record (a header pre-filter) scans the store newest first in
 * bounded ranges: the same answer as the filter evaluated on every row, the row budget counted
 * over the rows in the ranges read, and the event loop given turns between them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { compileFilter, isCompiledFilter, type CompiledFilter } from '../../../collector/filter/compile.ts';
import { buildSqlPushdown } from '../../../collector/filter/pushdown.ts';
import type { ListStats } from '../../../collector/record-store.ts';
import { RECORD_SCAN_ROWS, createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import type { CallRecord } from '../../../record/record.ts';
import { callRecord } from '../helpers.ts';

function filter(source: string): CompiledFilter {
  const f = compileFilter(source);
  if (!isCompiledFilter(f)) throw new Error(`${source}: ${f.message}`);
  return f;
}

const N = 2 * RECORD_SCAN_ROWS + 500;
const tagged = (i: number): string | undefined => (i % 1000 === 7 ? `req-${i}` : i % 3 === 0 ? `other-${i}` : undefined);

function record(i: number): CallRecord {
  const r = callRecord({ id: `h-${i}`, at: i, requestBody: '{}' });
  const id = tagged(i);
  if (id !== undefined) r.request = { ...r.request!, headers: { ...r.request!.headers, 'x-request-id': id } };
  return r;
}

void t.test('header lookups over a store larger than one range: the same records, newest first, as the filter alone finds', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'header-prefilter-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = createSqliteStore({ path: join(dir, 'calls.db'), retentionIntervalMs: 0 });
  t.teardown(() => store.close());
  for (let b = 0; b < N; b += 1000) await store.add(Array.from({ length: Math.min(1000, N - b) }, (_, k) => record(b + k)));

  const pushed = filter('request.headers["x-request-id"].startsWith("req-")');
  // The same question the pushdown cannot read: evaluated on every row.
  const unpushed = filter('(request.headers["x-request-id"] + "").startsWith("req-")');
  t.equal(buildSqlPushdown(unpushed).where, '1', 'the comparison filter is not pushed');
  t.not(buildSqlPushdown(pushed).where, '1');
  const want = Array.from({ length: N }, (_, i) => i).filter((i) => tagged(i)?.startsWith('req-')).reverse().map((i) => `h-${i}`);
  const stats: ListStats = { scanned: 0, truncated: false };
  const got = await store.list({ limit: 1000, filter: pushed, stats });
  t.same(got.map((r) => r.id), want, 'every match, newest first');
  t.same((await store.list({ limit: 1000, filter: unpushed })).map((r) => r.id), want, 'as the filter alone finds');
  t.equal(stats.scanned, N, 'every row counted as scanned, though SQLite dropped most');
  t.equal(stats.truncated, false);

  const few = await store.list({ limit: 3, filter: pushed });
  t.same(few.map((r) => r.id), want.slice(0, 3), 'a limit stops the scan early');
  const exact = await store.list({ limit: 10, filter: filter('request.headers["x-request-id"] == "req-7"') });
  t.same(exact.map((r) => r.id), ['h-7'], 'the oldest row, in the last range');

  const bounded: ListStats = { scanned: 0, truncated: false };
  const none = await store.list({ limit: 10, filter: filter('request.headers["x-request-id"] == "nowhere"'), maxScan: RECORD_SCAN_ROWS, stats: bounded });
  t.same(none, []);
  t.equal(bounded.truncated, true, 'the row budget spent: the answer says it is partial');
  t.equal(bounded.scanned, RECORD_SCAN_ROWS, 'one range read');

  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await store.list({ limit: 10, filter: filter('request.headers["x-request-id"] == "nowhere"') });
  running = false;
  t.ok(turns >= 2, `the event loop ran between ranges (${turns} turns)`);
});
