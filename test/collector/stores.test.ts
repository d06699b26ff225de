import assert from 'node:assert/strict';
import t from 'tap';
import { createMemoryStore } from '../../collector/memory-store.ts';
import type { RecordStore } from '../../collector/record-store.ts';
import { createSqliteStore } from '../../collector/sqlite-store.ts';
import { fullRecord, minimalRecord } from '../proto/record-fixtures.ts';

const kinds: [string, (max: number) => RecordStore][] = [
  ['memory', (max) => createMemoryStore({ maxRecords: max })],
  ['sqlite', (max) => createSqliteStore({ path: ':memory:', maxRecords: max })],
];

for (const [kind, make] of kinds) {
  void t.test(`${kind} store`, async (t) => {
    const store = make(5);
    t.teardown(() => store.close());
    t.same(await store.list({ limit: 10 }), [], 'empty');
    t.same(await store.add([fullRecord(0), fullRecord(1), minimalRecord(2)]), { stored: 3, duplicates: 0 });
    t.same((await store.list({ limit: 10 })).map((r) => r.id), ['min-2', 'rec-1', 'rec-0'], 'newest first');
    t.same((await store.list({ limit: 2 })).map((r) => r.id), ['min-2', 'rec-1'], 'limit');
    const got = await store.get('rec-1');
    t.doesNotThrow(() => assert.deepStrictEqual(got, fullRecord(1)), 'get returns the record exactly');
    t.equal(await store.get('nope'), undefined);
    t.same(await store.add([fullRecord(1)]), { stored: 0, duplicates: 1 }, 'same id again is a duplicate');

    await store.add([3, 4, 5, 6].map((i) => fullRecord(i)));
    t.equal(await store.count(), 5, 'bounded');
    t.same((await store.list({ limit: 10 })).map((r) => r.id), ['rec-6', 'rec-5', 'rec-4', 'rec-3', 'min-2'], 'oldest evicted');
    t.equal(await store.get('rec-0'), undefined, 'evicted ids are gone');
    t.same(await store.add([fullRecord(0)]), { stored: 1, duplicates: 0 }, 'an evicted id can come back');

    const since = fullRecord(5).start;
    t.same((await store.list({ limit: 10, since })).map((r) => r.id), ['rec-6', 'rec-5'], 'since filters on start');
    t.same((await store.list({ limit: 1, since })).map((r) => r.id), ['rec-6']);
  });
}
