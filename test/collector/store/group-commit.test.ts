/**
 * Group commit: batches added during one turn of the event loop (or within `groupCommitMs` of
 * the first) share one transaction, each add resolves only after that commit, each gets its own result, nothing is lost, arrival order
 * is kept, duplicates are still found (also between batches of one group), and a failing batch
 * fails alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t, { type Test } from 'tap';
import { DEFAULT_GROUP_COMMIT_MS, resolveCollectorConfig } from '../../../collector/config.ts';
import { createCollectorMetrics } from '../../../collector/metrics.ts';
import { createIngest } from '../../../collector/ingest.ts';
import { GROUP_COMMIT_MAX_RECORDS, createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import { recordToProto } from '../../../record/codec.ts';
import type { CallRecord } from '../../../record/record.ts';
import { silentLogger } from '../../../lib/log.ts';
import { fullRecord } from '../../proto/record-fixtures.ts';

const records = (prefix: string, n: number): CallRecord[] => Array.from({ length: n }, (_, i) => ({ ...fullRecord(i), id: `${prefix}-${i}` }));

function tempDb(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-group-commit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'c.db');
}

void t.test('adds of one turn: one result each, in arrival order, committed when they resolve', async (t) => {
  const path = tempDb(t);
  const store = createSqliteStore({ path, retentionIntervalMs: 0 });
  t.teardown(() => store.close());
  // Another connection sees only committed rows.
  const reader = new DatabaseSync(path, { readOnly: true });
  t.teardown(() => reader.close());
  const committed = (): number => Number((reader.prepare('SELECT COUNT(*) AS n FROM calls').get() as { n: number }).n);

  const a = records('a', 50);
  const b = records('b', 30);
  const c = [...records('c', 10), a[3], a[4]];
  const seen: string[] = [];
  const pa = store.add(a).then((r) => {
    seen.push(`a:${committed()}`);
    return r;
  });
  const pb = store.add(b).then((r) => {
    seen.push(`b:${committed()}`);
    return r;
  });
  const pc = store.add(c).then((r) => {
    seen.push(`c:${committed()}`);
    return r;
  });
  t.equal(committed(), 0, 'nothing is written before the group is');
  const [ra, rb, rc] = await Promise.all([pa, pb, pc]);
  t.same(seen, ['a:90', 'b:90', 'c:90'], 'each resolves after the one commit holding all three');
  t.same([ra.stored, ra.duplicates, rb.stored, rb.duplicates, rc.stored, rc.duplicates], [50, 0, 30, 0, 10, 2]);
  t.same(rc.added.map((r) => r.id), c.slice(0, 10).map((r) => r.id), 'duplicates within the group are found');
  const listed = (await store.list({ limit: 1000 })).map((r) => r.id).reverse();
  t.same(listed, [...a, ...b, ...c.slice(0, 10)].map((r) => r.id), 'arrival order kept');

  // A later turn is its own transaction and still finds duplicates of earlier groups.
  const again = await store.add([...b.slice(0, 5), ...records('d', 3)]);
  t.same([again.stored, again.duplicates], [3, 5]);
  t.equal(await store.count(), 93);
});

void t.test('a failing batch fails alone; the others of its group are stored', async (t) => {
  const store = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 });
  t.teardown(() => store.close());
  const good1 = records('g1', 5);
  // `start` undefined cannot be bound: the insert throws.
  const bad = [...records('bad', 2), { ...fullRecord(9), id: 'bad-x', start: undefined as unknown as bigint }];
  const good2 = records('g2', 4);
  const results = await Promise.allSettled([store.add(good1), store.add(bad), store.add(good2)]);
  t.equal(results[0].status, 'fulfilled');
  t.equal(results[1].status, 'rejected');
  t.match((results[1] as PromiseRejectedResult).reason, { code: 'COL_ERR_STORE' });
  t.equal(results[2].status, 'fulfilled');
  t.equal(await store.count(), 9);
  t.equal(await store.get('bad-0'), undefined, 'nothing of the failed batch is stored');
  t.same((await store.list({ limit: 100 })).map((r) => r.id).reverse(), [...good1, ...good2].map((r) => r.id));
});

void t.test('close stores what was handed over before it', async (t) => {
  const path = tempDb(t);
  const store = createSqliteStore({ path, retentionIntervalMs: 0 });
  const pending = store.add(records('late', 7));
  await store.close();
  t.same((await pending).stored, 7);
  const reopened = createSqliteStore({ path, retentionIntervalMs: 0 });
  t.teardown(() => reopened.close());
  t.equal(await reopened.count(), 7);
  await t.rejects(store.add(records('after', 1)), { code: 'COL_ERR_STORE' }, 'an add after close fails');
});

void t.test('ingest over group commit: concurrent batches, every record acked and stored once', async (t) => {
  const store = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 });
  t.teardown(() => store.close());
  const metrics = createCollectorMetrics(() => store.count());
  const ingest = createIngest({ store, metrics, log: silentLogger });
  const streams = 4;
  const perStream = 6;
  const acks: string[][] = Array.from({ length: streams }, () => []);
  await Promise.all(
    Array.from({ length: streams }, async (_, s) => {
      // One stream's batches one after the other, as the gRPC server runs them; the streams run together.
      for (let b = 1; b <= perStream; b++) {
        const batch = records(`s${s}-b${b}`, 20).map(recordToProto);
        // Each stream re-sends one record of its previous batch: a duplicate, not stored twice.
        if (b > 1) batch.push(recordToProto({ ...fullRecord(0), id: `s${s}-b${b - 1}-0` }));
        const ack = await ingest.batch({ seq: b, sidecar: null, records: batch }, `peer-${s}`);
        acks[s].push(`${ack.seq}:${ack.accepted}:${ack.error ?? ''}`);
      }
    }),
  );
  for (let s = 0; s < streams; s++) {
    t.same(acks[s], Array.from({ length: perStream }, (_, i) => `${i + 1}:${i === 0 ? 20 : 21}:`), `stream ${s} acked in order`);
  }
  t.equal(await store.count(), streams * perStream * 20, 'every record stored once');
  const ids = (await store.list({ limit: 10_000 })).map((r) => r.id);
  t.equal(new Set(ids).size, ids.length, 'no record twice');
  for (let s = 0; s < streams; s++) {
    const mine = ids.filter((id) => id.startsWith(`s${s}-`)).reverse();
    t.same(mine, Array.from({ length: perStream * 20 }, (_, i) => `s${s}-b${Math.floor(i / 20) + 1}-${i % 20}`), `stream ${s} stored in its order`);
  }
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

void t.test('groupCommitMs: batches added within the window share the first one\'s commit', async (t) => {
  const path = tempDb(t);
  const store = createSqliteStore({ path, retentionIntervalMs: 0, groupCommitMs: 300 });
  t.teardown(() => store.close());
  const reader = new DatabaseSync(path, { readOnly: true });
  t.teardown(() => reader.close());
  const committed = (): number => Number((reader.prepare('SELECT COUNT(*) AS n FROM calls').get() as { n: number }).n);
  const seen: string[] = [];
  const started = Date.now();
  const pa = store.add(records('wa', 20)).then(() => seen.push(`a:${committed()}`));
  await sleep(30);
  t.equal(committed(), 0, 'the first batch waits for the window, uncommitted');
  t.same(seen, [], 'and its add has not resolved');
  const pb = store.add(records('wb', 10)).then(() => seen.push(`b:${committed()}`));
  await Promise.all([pa, pb]);
  t.same(seen, ['a:30', 'b:30'], 'a batch added 30 ms later joined the same commit');
  t.ok(Date.now() - started >= 250, 'the commit came at the end of the window, not before');
  // The next batch opens a window of its own.
  await store.add(records('wc', 5));
  t.equal(committed(), 35);
});

void t.test('groupCommitMs: a group past the record cap commits without waiting out the window', async (t) => {
  const store = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0, groupCommitMs: 60_000 });
  t.teardown(() => store.close());
  const started = Date.now();
  const small = store.add(records('cap-a', 10));
  const big = store.add(records('cap-b', GROUP_COMMIT_MAX_RECORDS));
  const [rs, rb] = await Promise.all([small, big]);
  t.same([rs.stored, rb.stored], [10, GROUP_COMMIT_MAX_RECORDS], 'both stored, in one group');
  t.ok(Date.now() - started < 30_000, `committed at once (${Date.now() - started} ms), not after the 60 s window`);
});

void t.test('groupCommitMs: close commits a waiting group at once', async (t) => {
  const path = tempDb(t);
  const store = createSqliteStore({ path, retentionIntervalMs: 0, groupCommitMs: 60_000 });
  const pending = store.add(records('closing', 4));
  const started = Date.now();
  await store.close();
  t.same((await pending).stored, 4, 'the waiting batch is stored and answered');
  t.ok(Date.now() - started < 30_000, 'without waiting out the window');
  const reopened = createSqliteStore({ path, retentionIntervalMs: 0 });
  t.teardown(() => reopened.close());
  t.equal(await reopened.count(), 4);
});

void t.test('MESHTAP_COLLECTOR_GROUP_COMMIT_MS: default 20, 0 to 1000, bad values named', async (t) => {
  t.equal(resolveCollectorConfig({}, {}).groupCommitMs, DEFAULT_GROUP_COMMIT_MS);
  t.equal(DEFAULT_GROUP_COMMIT_MS, 20);
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_GROUP_COMMIT_MS: '0' }).groupCommitMs, 0);
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_GROUP_COMMIT_MS: '1000' }).groupCommitMs, 1000);
  for (const bad of ['-1', '2.5', 'soon', '1001']) {
    t.throws(() => resolveCollectorConfig({}, { MESHTAP_COLLECTOR_GROUP_COMMIT_MS: bad }), /MESHTAP_COLLECTOR_GROUP_COMMIT_MS must be a number of milliseconds from 0 to 1000/, bad);
  }
});
