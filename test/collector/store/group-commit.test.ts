/**
 * Group commit: batches added during one turn of the event loop share one transaction, each
 * add resolves only after that commit, each gets its own result, nothing is lost, arrival order
 * is kept, duplicates are still found (also between batches of one group), and a failing batch
 * fails alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import t, { type Test } from 'tap';
import { createCollectorMetrics } from '../../../collector/metrics.ts';
import { createIngest } from '../../../collector/ingest.ts';
import { createSqliteStore } from '../../../collector/store/sqlite-store.ts';
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
