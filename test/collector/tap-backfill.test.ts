/** `meshtap tap --since`: reading a window of stored calls in pages (pure, over a fake collector). */
import t from 'tap';
import { isMeshtapError } from '../../lib/errors.ts';
import { CLI_ERR_USAGE } from '../../lib/cli.ts';
import { parseSinceFlag, readBackfill, rfc3339Nanos, sliceFilter, type BackfillPage } from '../../collector/tap/backfill.ts';
import { run as runTap } from '../../collector/tap/cli.ts';
import type { CommandIO } from '../../lib/cli.ts';

interface Item {
  id: string;
  start: bigint;
  /** The start of the record that puts it in a slice, when not `start` (a call's other record). */
  at?: bigint;
  /** For calls read in two slices: how complete this copy is. */
  sides?: number;
}

const NOW = 1_764_000_000_000_000_000n;
const S = 1_000_000_000n;

/**
 * What the API does: the items starting in [from, to), newest stored first (here: the order
 * given, reversed), at most `limit`; `truncated` when more than `scanLimit` rows would be read.
 */
function fakeCollector(stored: Item[], scanLimit = Infinity) {
  const requests: Array<[bigint, bigint | undefined]> = [];
  const page = async (from: bigint, to: bigint | undefined, limit: number): Promise<BackfillPage<Item>> => {
    requests.push([from, to]);
    const matching = [...stored].reverse().filter((i) => (i.at ?? i.start) >= from && (to === undefined || (i.at ?? i.start) < to));
    const truncated = matching.length > scanLimit;
    return { items: matching.slice(0, truncated ? Math.min(limit, scanLimit) : limit), truncated };
  };
  return { page, requests };
}

const source = (stored: Item[], extra: Partial<Parameters<typeof readBackfill<Item>>[0]> = {}, scanLimit?: number) => {
  const fake = fakeCollector(stored, scanLimit);
  return {
    fake,
    options: { since: NOW - 600n * S, now: NOW, page: fake.page, idOf: (i: Item) => i.id, startOf: (i: Item) => i.start, ...extra },
  };
};

void t.test('a window that fits one page: one request, oldest first', async (t) => {
  // Stored out of start order: printed by start.
  const stored = [{ id: 'b', start: NOW - 60n * S }, { id: 'a', start: NOW - 300n * S }, { id: 'c', start: NOW - S }];
  const { fake, options } = source(stored);
  const r = await readBackfill(options);
  t.same(r.items.map((i) => i.id), ['a', 'b', 'c']);
  t.same([r.skipped, r.skippedAtLeast, r.incomplete], [0, false, false]);
  t.equal(fake.requests.length, 1);
  t.same(fake.requests[0], [NOW - 600n * S, undefined], 'from the window\'s start, no upper bound');
});

void t.test('a window of several pages is read whole, in slices, each item once', async (t) => {
  const stored: Item[] = [];
  for (let n = 0; n < 95; n++) stored.push({ id: `i${n}`, start: NOW - 500n * S + BigInt(n) * S });
  // A burst at one second, and items at the same instant.
  for (let n = 0; n < 12; n++) stored.push({ id: `burst${n}`, start: NOW - 100n * S + BigInt(n) });
  for (let n = 0; n < 3; n++) stored.push({ id: `same${n}`, start: NOW - 50n * S });
  const { fake, options } = source(stored, { pageSize: 10 });
  const r = await readBackfill(options);
  const expected = [...stored].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)).map((i) => i.id);
  t.same(r.items.map((i) => i.id), expected, 'every item, oldest first; those of one instant in the order stored');
  t.same([r.skipped, r.incomplete], [0, false]);
  t.ok(fake.requests.length < 60, `${fake.requests.length} requests`);
});

void t.test('more than maxItems: the newest are kept, the older ones counted', async (t) => {
  const stored = Array.from({ length: 47 }, (_, n) => ({ id: `i${n}`, start: NOW - 500n * S + BigInt(n) * S }));
  const { options } = source(stored, { pageSize: 10, maxItems: 25 });
  const r = await readBackfill(options);
  t.same(r.items.map((i) => i.id), stored.slice(22).map((i) => i.id), 'the newest 25, oldest first');
  t.equal(r.skippedAtLeast, true, 'more older ones than one request counts: "at least"');
  t.ok(r.skipped >= 10 && r.skipped <= 22, `at least ${r.skipped} of the 22 skipped`);

  const few = Array.from({ length: 28 }, (_, n) => ({ id: `i${n}`, start: NOW - 500n * S + BigInt(n) * S }));
  const r2 = await readBackfill(source(few, { pageSize: 10, maxItems: 25 }).options);
  t.same(r2.items.map((i) => i.id), few.slice(3).map((i) => i.id));
  t.same([r2.skipped, r2.skippedAtLeast], [3, false], 'exactly');
});

void t.test('a call read in two slices is kept once, its fuller copy', async (t) => {
  const stored: Item[] = Array.from({ length: 30 }, (_, n) => ({ id: `i${n}`, start: NOW - 500n * S + BigInt(n) * S }));
  // Its client's record starts in one slice, its server's in another: both answer it.
  stored.push({ id: 'call', start: NOW - 490n * S, sides: 1 }, { id: 'call', start: NOW - 490n * S, at: NOW - 200n * S, sides: 2 });
  const { options } = source(stored, { pageSize: 10, prefer: (kept: Item, other: Item) => ((other.sides ?? 0) > (kept.sides ?? 0) ? other : kept) });
  const r = await readBackfill(options);
  t.equal(r.items.filter((i) => i.id === 'call').length, 1);
  t.equal(r.items.find((i) => i.id === 'call')!.sides, 2);
  t.equal(r.items.length, 31);
});

void t.test('a page of items at one instant, or a search cut short, is said to be incomplete', async (t) => {
  const stored = Array.from({ length: 12 }, (_, n) => ({ id: `same${n}`, start: NOW - 10n * S }));
  const r = await readBackfill(source(stored, { pageSize: 10 }).options);
  t.equal(r.incomplete, true);
  t.equal(r.items.length, 10, 'what one page holds');

  // The collector's search budget: a wide slice is cut short, narrower ones are not.
  const spread = Array.from({ length: 40 }, (_, n) => ({ id: `i${n}`, start: NOW - 400n * S + BigInt(n) * 10n * S }));
  const r2 = await readBackfill(source(spread, { pageSize: 100 }, 15).options);
  t.equal(r2.items.length, 40, 'split until each slice is read within the budget');
  t.equal(r2.incomplete, false);
});

void t.test('--since: a duration or an RFC 3339 time, as the API reads them', async (t) => {
  t.equal(parseSinceFlag('10m', NOW), NOW - 600n * S);
  t.equal(parseSinceFlag('1500ms', NOW), NOW - 1_500_000_000n);
  t.equal(parseSinceFlag('2h', NOW), NOW - 7200n * S);
  t.equal(parseSinceFlag('999999999d', NOW), 0n, 'back past 1970: from the first record, as for the API');
  // NOW is 2025-11-24T16:00:00Z (below).
  t.equal(parseSinceFlag('2025-11-24T15:00:00Z', NOW), NOW - 3600n * S);
  t.equal(parseSinceFlag('2025-11-24T16:30:00.5+01:00', NOW), NOW - 1800n * S + 500_000_000n, 'an offset and a fraction');
  t.equal(parseSinceFlag('2025-11-24T16:00:00Z', NOW), NOW, 'now itself');
  t.equal(parseSinceFlag('1960-01-01T00:00:00Z', NOW), 0n, 'before 1970: from the first record');
  for (const [raw, message] of [
    ['abc', /must be a duration back from now, like 30s, 10m, 2h or 1d .* got "abc"$/],
    // A minus sign: what was meant, not how to pass a value starting with '-' (--since=-5m lands here).
    ['-5m', /^--since -5m: a negative duration is not a time: --since 5m means the last 5 minutes$/],
    ['-1h', /^--since -1h: a negative duration is not a time: --since 1h means the last hour$/],
    ['-500ms', /--since 500ms means the last 500 milliseconds$/],
    ['5', /got "5" \(a number needs its unit: 5m is 5 minutes\)/],
    ['10 m', /got "10 m"/],
    ['1w', /got "1w"/],
    ['yesterday', /or an RFC 3339 time, like 2026-12-07T02:14:00Z, got "yesterday"$/],
    ['2025-11-24T16:00:01Z', /^--since 2025-11-24T16:00:01Z is in the future \(now is 2025-11-24T16:00:00Z\): the window would hold no call$/],
    ['2300-01-01T00:00:00Z', /is in the future/],
    ['2025-11-24 15:00:00Z', /^--since "2025-11-24 15:00:00Z" is not an RFC 3339 time: .*like 2026-12-07T02:14:00Z$/],
    ['2025-11-24T15:00', /is not an RFC 3339 time/],
    // Without a zone: the API's own words, after the flag's name.
    ['2025-11-24T15:00:00', /^--since "2025-11-24T15:00:00" is a date and time without a zone: add Z \(UTC\) or an offset such as \+01:00, like 2025-11-24T15:00:00Z$/],
    ['2025-02-30T00:00:00Z', /^--since "2025-02-30T00:00:00Z" is not a real date and time$/],
    ['0s', /must be longer than 0/],
    ['1234567890m', /beyond what the collector's API accepts: at most 9 digits before the unit/],
  ] as const) {
    t.throws(() => parseSinceFlag(raw, NOW), message, raw);
    try {
      parseSinceFlag(raw, NOW);
    } catch (err) {
      t.ok(isMeshtapError(err, CLI_ERR_USAGE), `${raw}: a usage error`);
    }
  }
});

void t.test('meshtap tap --since -5m: a negative duration is answered with what it likely meant', async (t) => {
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: {} } as unknown as CommandIO;
  const refusal = async (argv: string[]): Promise<string | undefined> => {
    try {
      await runTap(argv, io);
    } catch (err) {
      t.ok(isMeshtapError(err, CLI_ERR_USAGE), `${argv.join(' ')}: a usage error`);
      return (err as Error).message;
    }
    return undefined;
  };
  const meant = '--since -5m: a negative duration is not a time: --since 5m means the last 5 minutes';
  t.equal(await refusal(['--since', '-5m']), meant, 'a separate value, which parseArgs calls ambiguous');
  t.equal(await refusal(['--since=-5m']), meant, 'the value attached');
  t.equal(await refusal(['--since', '-2d', '-f', 'http']), '--since -2d: a negative duration is not a time: --since 2d means the last 2 days');
  // A value that looks like a flag keeps the advice on how to give it.
  t.match(await refusal(['--since', '-x']), /^--since got a value starting with '-': give it as --since=VALUE/);
  t.match(await refusal(['--filter', '-x']), /^--filter got a value starting with '-': give it as --filter=VALUE/);
});

void t.test('slices: the upper bound is in the filter, to the nanosecond', async (t) => {
  t.equal(rfc3339Nanos(1_764_000_000_000_000_001n), '2025-11-24T16:00:00.000000001Z');
  t.equal(rfc3339Nanos(1_764_000_000_123_456_789n), '2025-11-24T16:00:00.123456789Z');
  t.same(sliceFilter(undefined, undefined), { filter: undefined, shift: 0 });
  t.same(sliceFilter('http', undefined), { filter: 'http', shift: 0 });
  t.same(sliceFilter(undefined, 1_764_000_000_000_000_001n), { filter: 'start < timestamp("2025-11-24T16:00:00.000000001Z")', shift: 0 });
  // The source is whole (tap compiles the user's filter alone first): the bound cannot join one side of an ||.
  t.same(sliceFilter('http || grpc', 5n), { filter: '(http || grpc\n) && start < timestamp("1970-01-01T00:00:00.000000005Z")', shift: 1 });
});
