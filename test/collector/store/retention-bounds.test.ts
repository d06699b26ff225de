/**
 * SQLite retention at the edges: an age limit longer than SQLite's integer range reaches (or
 * not a finite number) keeps rows instead of failing every run, and a failing age pass does not
 * stop the size pass.
 */
import t from 'tap';
import { createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import { callRecord } from '../helpers.ts';
import { filledStoreFile } from './filled-store.ts';

const HOUR_NS = 3_600_000_000_000n;

void t.test('an age limit past the int64 range keeps every row; retention does not fail', async (t) => {
  // 10 000 000 h is 3.6e22 ns: now minus that is far below the smallest int64 SQLite can bind.
  for (const retentionHours of [10_000_000, 1e300, Number.MAX_VALUE]) {
    let now = BigInt(Date.now()) * 1_000_000n;
    const store = createSqliteStore({ path: ':memory:', retentionHours, retentionIntervalMs: 0, now: () => now });
    await store.add([callRecord({ id: 'a' }), callRecord({ id: 'b' })]);
    now += 1000n * 24n * HOUR_NS;
    t.same(await store.enforceRetention(), { deletedByAge: 0, deletedBySize: 0 }, `${retentionHours} h: nothing is old enough`);
    t.equal(await store.count(), 2);
    await store.close();
  }
});

void t.test('a clock early in its range with a long limit: the cutoff is clamped, not bound out of range', async (t) => {
  let now = -(2n ** 63n) + 10n * HOUR_NS;
  const store = createSqliteStore({ path: ':memory:', retentionHours: 876_600, retentionIntervalMs: 0, now: () => now });
  await store.add([callRecord({ id: 'a' })]);
  now += HOUR_NS;
  t.same(await store.enforceRetention(), { deletedByAge: 0, deletedBySize: 0 });
  await store.close();
});

void t.test('the size pass runs when the age pass fails, and the age failure is still reported', async (t) => {
  const { path, used } = await filledStoreFile((fn) => t.teardown(fn));

  // Reopened with half the size bound and a clock that fails when retention asks it the time.
  const maxBytes = Math.floor(used / 2);
  let clockBroken = false;
  const small = createSqliteStore({
    path,
    retentionMaxBytes: maxBytes,
    retentionIntervalMs: 0,
    now: () => {
      if (clockBroken) throw new Error('the clock broke');
      return BigInt(Date.now()) * 1_000_000n;
    },
  });
  t.teardown(() => small.close());
  t.ok(small.usedBytes() > maxBytes, 'over the bound when reopened');
  clockBroken = true;
  await t.rejects(small.enforceRetention(), { message: /the clock broke/ }, 'the age pass failure is not swallowed');
  t.ok(small.usedBytes() <= maxBytes, `the size bound was enforced anyway (${small.usedBytes()} <= ${maxBytes})`);
  t.ok(await small.get('s-999'), 'the newest kept');
});
