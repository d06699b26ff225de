/**
 * A long filtered scan gives the event loop turns: other requests, ingest and probes run while
 * an expensive filter works through a store, and what the scan answers is the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { compileFilter, type CompiledFilter } from '../../../collector/filter/compile.ts';
import { isFilterError } from '../../../collector/filter/errors.ts';
import { createMemoryStore } from '../../../collector/memory-store.ts';
import type { ListStats, RecordStore } from '../../../collector/record-store.ts';
import { createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import { createTimeSlicer } from '../../../collector/store/time-slice.ts';
import { callRecord } from '../helpers.ts';

function filter(source: string): CompiledFilter {
  const compiled = compileFilter(source);
  if (isFilterError(compiled)) throw new Error(`test filter does not compile: ${compiled.message}`);
  return compiled;
}

// A regular expression over 8 KiB bodies: evaluated record by record, never pushed down.
const EXPENSIVE = filter('request.body.matches("z[0-9]+q$")');
const records = (n: number, from = 0) =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return callRecord({ id: `r-${i}`, at: i, requestBody: 'a'.repeat(8192) + (i % 7 === 0 ? `z${i}q` : '') });
  });

/** Counts event-loop turns that other work got while `scan` ran, calling `onTurn` at each. */
async function turnsDuring<T>(scan: () => Promise<T>, onTurn: () => void = () => undefined): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    onTurn();
    setImmediate(tick);
  };
  setImmediate(tick);
  const result = await scan();
  running = false;
  return { result, turns };
}

void t.test('createTimeSlicer: due once the slice is spent, checked every few records; a pause starts a new slice', async (t) => {
  let now = 0;
  const slicer = createTimeSlicer(20, () => now);
  now = 25;
  const answers = Array.from({ length: 16 }, () => slicer.due());
  t.same(answers.indexOf(true), 15, 'the clock is read on the 16th call');
  await slicer.pause();
  t.equal(slicer.pauses, 1);
  now = 30;
  t.notOk(Array.from({ length: 32 }, () => slicer.due()).includes(true), 'a new slice after the pause');
});

void t.test('concurrent scans go on one per turn of the loop: a timer waits one slice, not one per scan', async (t) => {
  const log: string[] = [];
  let ticking = true;
  const tick = (): void => {
    if (!ticking) return;
    log.push('tick');
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  // Each slice holds the thread 3 ms, so a 1 ms timer is always due when the loop comes round.
  const scan = async (name: string, slices: number): Promise<void> => {
    const slicer = createTimeSlicer(0);
    for (let i = 0; i < slices; i++) {
      const until = performance.now() + 3;
      while (performance.now() < until) {
        // holding the thread, as an expensive filter does
      }
      log.push(name);
      await slicer.pause();
    }
  };
  await Promise.all(['a', 'b', 'c', 'd'].map((name) => scan(name, 5)));
  ticking = false;
  let run = 0;
  let longest = 0;
  for (const entry of log) {
    run = entry === 'tick' ? 0 : run + 1;
    longest = Math.max(longest, run);
  }
  t.equal(log.filter((e) => e !== 'tick').length, 20, 'every slice ran');
  // The first slices run before any pause (each scan's first slice starts at once); after that one per turn.
  const afterStart = log.slice(log.indexOf('tick'));
  let runAfter = 0;
  let longestAfter = 0;
  for (const entry of afterStart) {
    runAfter = entry === 'tick' ? 0 : runAfter + 1;
    longestAfter = Math.max(longestAfter, runAfter);
  }
  t.equal(longestAfter, 1, `after the start, one slice between two timer turns (log: ${afterStart.join(' ')})`);
  t.ok(longest <= 4, 'at the start, the four scans\' first slices');
  t.same(['a', 'b', 'c', 'd'].map((n) => log.filter((e) => e === n).length), [5, 5, 5, 5], 'each scan got its turns');
});

const stores: Record<string, (t: Test) => RecordStore> = {
  memory: () => createMemoryStore({ maxRecords: 10_000 }),
  sqlite: (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'meshtap-slice-'));
    const store = createSqliteStore({ path: join(dir, 'calls.db'), retentionIntervalMs: 0 });
    t.teardown(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return store;
  },
};

for (const [name, open] of Object.entries(stores)) {
  void t.test(`${name} store: an expensive filter's scan gives turns and answers the same`, async (t) => {
    const store = open(t);
    await store.add(records(700));
    const whole: ListStats = { scanned: 0, truncated: false };
    const unsliced = await turnsDuring(() => store.list({ limit: 1000, filter: EXPENSIVE, stats: whole, sliceMs: 1e9 }));
    t.equal(unsliced.turns, 0, 'without slices nothing else runs while one page is evaluated (the control)');
    const sliced: ListStats = { scanned: 0, truncated: false };
    const withTurns = await turnsDuring(() => store.list({ limit: 1000, filter: EXPENSIVE, stats: sliced, sliceMs: 0 }));
    t.ok(withTurns.turns > 10, `other work ran ${withTurns.turns} times during the scan`);
    t.ok((sliced.pauses ?? 0) > 10, `the scan counted its pauses (${sliced.pauses})`);
    t.same(withTurns.result.map((r) => r.id), unsliced.result.map((r) => r.id), 'the same records, in the same order');
    t.equal(withTurns.result.length, 100);
    // Without a filter there is nothing expensive to slice.
    const plain: ListStats = { scanned: 0, truncated: false };
    await store.list({ limit: 500, stats: plain, sliceMs: 0 });
    t.equal(plain.pauses, 0);
  });
}

void t.test('memory store: records added while a scan pauses are newer than it; records evicted meanwhile end it', async (t) => {
  const store = createMemoryStore({ maxRecords: 700 });
  await store.add(records(700));
  let next = 700;
  const added = await turnsDuring(
    () => store.list({ limit: 1000, filter: EXPENSIVE, sliceMs: 0 }),
    () => void store.add(records(1, next++)),
  );
  const ids = added.result.map((r) => r.id);
  t.equal(new Set(ids).size, ids.length, 'no record twice');
  t.ok(ids.every((id) => Number(id.slice(2)) < 700), 'nothing added after the scan began');
  t.ok(added.turns > 0 && next > 700, `${next - 700} records were added during the scan`);
  // Each add evicted the oldest: the scan stops where the evictions reached, not on a newer record.
  const oldest = Math.min(...ids.map((id) => Number(id.slice(2))));
  t.ok(oldest >= next - 700 - 16, `the scan ended at the evicted records (oldest answered r-${oldest}, evicted up to r-${next - 701})`);
  t.ok(ids.length < 100, `so fewer than the 100 matches there were at the start (${ids.length})`);
});
