/** `meshtap tap --since`: the calls of a window first, then live ones, none twice; as a real process against a running collector. */
import t, { type Test } from 'tap';
import { spawnTap, type TapProcess } from '../helpers/tap-process.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector, type RunningCollector } from '../../collector/collector.ts';
import { createMemoryStore } from '../../collector/memory-store.ts';
import { MAX_BACKFILL_ITEMS } from '../../collector/tap/backfill.ts';
import type { ListQuery, RecordStore } from '../../collector/record-store.ts';
import { createSinkLogger } from '../../lib/log.ts';
import type { CallRecord } from '../../record/record.ts';
import { callRecord, waitFor, type CallSpec } from './helpers.ts';



async function collector(t: Test, store?: RecordStore): Promise<RunningCollector> {
  const c = await startCollector(resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0 }), { log: createSinkLogger(() => {}), ...(store ? { store } : {}) });
  t.teardown(() => c.close({ force: true }));
  return c;
}

/** A record that started `msAgo` before now (the records of helpers.ts start in 2025). */
function ago(msAgo: number, spec: CallSpec): CallRecord {
  const r = callRecord(spec);
  const start = BigInt(Date.now() - msAgo) * 1_000_000n;
  r.end = start + (r.end - r.start);
  r.start = start;
  return r;
}

const MIN = 60_000;

/** Both sidecars' records of one meshed call. */
function meshed(conn: string, msAgo: number, spec: Partial<CallSpec> = {}): [CallRecord, CallRecord] {
  const common = { connectionId: conn, ordinal: 0, mesh: true, method: 'POST', path: `/${conn}`, status: 201, ...spec };
  return [
    ago(msAgo, { ...common, id: `${conn}-o0`, observer: 'outbound', elapsedMs: 12.34, src: { workload: 'frontend', namespace: 'shop' }, dst: { service: 'payment-svc', namespace: 'shop' } }),
    ago(msAgo, { ...common, id: `${conn}-i0`, observer: 'inbound', elapsedMs: 9.5, src: { ip: '10.244.0.5' }, dst: { workload: 'payment', namespace: 'shop' } }),
  ];
}

const ids = (tap: TapProcess): string[] => tap.lines().map((l) => (JSON.parse(l) as { id: string }).id);
/** A text line without its time column (the calls here start relative to now). */
const untimed = (line: string): string => line.replace(/^\d\d:\d\d:\d\d\.\d{3} {2}/, '');

void t.test('--since: the window\'s calls that match, oldest first, then live ones; none before the window, none twice', async (t) => {
  const c = await collector(t);
  // Stored newest first: printed by start.
  await c.store.add([
    ago(1 * MIN, { id: 'w3', path: '/keep/3' }),
    ago(12 * MIN, { id: 'too-old', path: '/keep/old' }),
    ago(5 * MIN, { id: 'w2', path: '/keep/2' }),
    ago(4 * MIN, { id: 'other', path: '/drop' }),
    ago(9 * MIN, { id: 'w1', path: '/keep/1' }),
  ]);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', '10m', '--filter', 'path.startsWith("/keep")', '-o', 'json', '--observations']);
  await waitFor('the window', () => tap.lines().length >= 3 && /following new calls/.test(tap.stderr()), 30_000);
  t.same(ids(tap), ['w1', 'w2', 'w3']);
  t.equal(tap.stderr(), 'meshtap tap: 3 calls in the last 10m; following new calls\n');
  // Re-sent and new: the re-sent one is not stored again (nor streamed); the new ones are.
  await c.store.add([ago(1 * MIN, { id: 'w3', path: '/keep/3' }), ago(0, { id: 'live-drop', path: '/drop' }), ago(0, { id: 'live', path: '/keep/live' })]);
  await waitFor('the live call', () => tap.lines().length >= 4);
  await new Promise((r) => setTimeout(r, 300));
  t.same(ids(tap), ['w1', 'w2', 'w3', 'live']);
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
});

void t.test('--since with an RFC 3339 time: the calls since then, in a zone offset too', async (t) => {
  const c = await collector(t);
  await c.store.add([ago(2 * MIN, { id: 'after', path: '/after' }), ago(20 * MIN, { id: 'before', path: '/before' }), ago(6 * MIN, { id: 'at-edge', path: '/edge' })]);
  // Seven minutes ago, written as a time in UTC+01:30.
  const at = new Date(Date.now() - 7 * MIN + 90 * MIN).toISOString().slice(0, 19) + '+01:30';
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', at, '-o', 'json', '--observations']);
  await waitFor('the window', () => tap.lines().length >= 2 && /following new calls/.test(tap.stderr()), 30_000);
  t.same(ids(tap), ['at-edge', 'after']);
  t.equal(tap.stderr(), `meshtap tap: 2 calls since ${at}; following new calls\n`);
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
});

void t.test('--since per call: the window\'s meshed calls joined, in the text format; a partner arriving later is not a second line', async (t) => {
  const c = await collector(t);
  const [lostClient, lostServer] = meshed('lost', 6 * MIN, { status: 503 });
  await c.store.add([
    ...meshed('c1', 8 * MIN),
    ago(7 * MIN, { id: 'ext', method: 'GET', path: '/ext', status: 200, src: { workload: 'frontend', namespace: 'shop' }, dst: { ip: '93.184.216.34', port: 443 } }),
    // Its server side is stored only after tap printed the window.
    lostClient,
    ...meshed('c2', 2 * MIN),
    ago(3 * MIN, { id: 'elsewhere', method: 'GET', path: '/x', status: 200, src: { namespace: 'other' }, dst: { namespace: 'other' } }),
  ]);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '-n', 'shop', '--since', '1h', '--join-wait', '300']);
  await waitFor('the window', () => /following new calls/.test(tap.stderr()), 30_000);
  await waitFor('four lines', () => tap.lines().length >= 4);
  t.same(tap.lines().map(untimed), [
    'shop/frontend → shop/payment  POST /c1  201  12.3ms (server 9.50ms)',
    'shop/frontend → 93.184.216.34:443  GET /ext  200  1.00ms',
    'shop/frontend → shop/payment-svc  POST /lost  503  12.3ms  (client side only)',
    'shop/frontend → shop/payment  POST /c2  201  12.3ms (server 9.50ms)',
  ]);
  await c.store.add([lostServer, ...meshed('c3', 0)]);
  await waitFor('the live call', () => tap.lines().length >= 5);
  await new Promise((r) => setTimeout(r, 600));
  t.same(tap.lines().slice(4).map(untimed), ['shop/frontend → shop/payment  POST /c3  201  12.3ms (server 9.50ms)'], 'the late server side of a call already printed is not printed again');
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
  t.equal(tap.stderr(), 'meshtap tap: 4 calls in the last 1h; following new calls\n');
});

/** A memory store whose next list() runs `during` around its read: calls stored while tap reads the window. */
function racingStore(): RecordStore & { during?: (read: () => Promise<CallRecord[]>) => Promise<CallRecord[]> } {
  const inner = createMemoryStore({ maxRecords: 10_000 });
  const store: RecordStore & { during?: (read: () => Promise<CallRecord[]>) => Promise<CallRecord[]> } = {
    ...inner,
    async list(query: ListQuery) {
      const during = store.during;
      if (during === undefined) return inner.list(query);
      store.during = undefined;
      return during(() => inner.list(query));
    },
  };
  return store;
}

void t.test('the race: calls stored while the window is read are printed once, whether the read saw them or not', async (t) => {
  const store = racingStore();
  const c = await collector(t, store);
  await c.store.add([ago(5 * MIN, { id: 'w1' }), ago(2 * MIN, { id: 'w2' })]);
  store.during = async (read) => {
    // Stored before the read: in the window's answer, and on the stream.
    await c.store.add([ago(1000, { id: 'seen-by-both' })]);
    const records = await read();
    // Stored after the read, before the answer: on the stream only.
    await c.store.add([ago(500, { id: 'stream-only' })]);
    return records;
  };
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', '10m', '-o', 'json', '--observations']);
  await waitFor('the window and the call after it', () => tap.lines().length >= 4, 30_000);
  await c.store.add([ago(0, { id: 'live' })]);
  await waitFor('the live call', () => tap.lines().length >= 5);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(store.during, undefined, 'the window was read while calls were stored');
  t.same(ids(tap), ['w1', 'w2', 'seen-by-both', 'stream-only', 'live'], 'each once, the window\'s first');
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
});

void t.test('the race per call: a call stored while the window is read is one line, joined, even when its server side comes after', async (t) => {
  const store = racingStore();
  const c = await collector(t, store);
  await c.store.add(meshed('before', 3 * MIN));
  const [halfClient, halfServer] = meshed('half', 1000);
  store.during = async (read) => {
    await c.store.add([...meshed('both', 1500), halfClient]);
    return read();
  };
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', '10m', '-o', 'json', '--join-wait', '20000']);
  await waitFor('the window', () => /following new calls/.test(tap.stderr()) && tap.lines().length >= 2, 30_000);
  // The client's side was read with the window; its server's is stored after: the two are one call.
  await c.store.add([halfServer]);
  await waitFor('the joined call', () => tap.lines().length >= 3);
  await c.store.add(meshed('live', 0));
  await waitFor('the live call', () => tap.lines().length >= 4);
  await new Promise((r) => setTimeout(r, 300));
  const calls = tap.lines().map((l) => JSON.parse(l) as { id: string; one_sided?: string; client?: unknown; server?: unknown });
  t.same(calls.map((call) => call.id), ['before:0', 'both:0', 'half:0', 'live:0']);
  t.ok(calls.every((call) => call.one_sided === undefined && call.client !== undefined && call.server !== undefined), 'all joined');
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
});

void t.test('a window of more than one page (the API answers 1000 at most) is printed whole', async (t) => {
  const c = await collector(t);
  const window = Array.from({ length: 2500 }, (_, n) => ago(9 * MIN - n * 100, { id: `r${n}`, path: `/p/${n}` }));
  await c.store.add([ago(11 * MIN, { id: 'too-old' }), ...window]);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', '10m', '-o', 'json', '--observations']);
  await waitFor('the window', () => /following new calls/.test(tap.stderr()), 60_000);
  await c.store.add([ago(0, { id: 'live' })]);
  await waitFor('the live call', () => tap.lines().length >= 2501);
  t.same(ids(tap), [...window.map((r) => r.id), 'live']);
  t.equal(tap.stderr(), 'meshtap tap: 2500 calls in the last 10m; following new calls\n');
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
});

void t.test('a window of more calls than tap prints: the newest, and how many older ones were skipped', async (t) => {
  const c = await collector(t);
  const window = Array.from({ length: MAX_BACKFILL_ITEMS + 40 }, (_, n) => ago(9 * MIN - n * 10, { id: `r${n}` }));
  await c.store.add(window);
  const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', '10m', '-o', 'json', '--observations']);
  await waitFor('the window', () => /following new calls/.test(tap.stderr()), 60_000);
  await waitFor('every line', () => tap.lines().length >= MAX_BACKFILL_ITEMS);
  t.same(ids(tap), window.slice(40).map((r) => r.id), 'the newest, oldest first');
  t.equal(
    tap.stderr(),
    `meshtap tap: ${MAX_BACKFILL_ITEMS} calls in the last 10m (the newest ${MAX_BACKFILL_ITEMS} at most: 40 older ones skipped; narrow it with --filter or a shorter --since); following new calls\n`,
  );
  tap.child.kill('SIGINT');
  t.equal((await tap.exit)[0], 0);
});

void t.test('--limit counts the window\'s calls; -o har holds them too', async (t) => {
  const c = await collector(t);
  await c.store.add([
    ago(3 * MIN, { id: 'a', method: 'GET', path: '/a', status: 200 }),
    ago(2 * MIN, { id: 'tcp', protocol: 'tcp' }),
    ago(1 * MIN, { id: 'b', method: 'GET', path: '/b', status: 200 }),
    ago(30 * 1000, { id: 'c', method: 'GET', path: '/c', status: 200 }),
  ]);
  const limited = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', '10m', '--limit', '2', '-o', 'json']);
  t.equal((await limited.exit)[0], 0, 'ends by itself');
  t.same(ids(limited), ['conn-a:0', 'conn-tcp:0'], 'the two oldest');
  t.equal(limited.stderr(), '');

  const har = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, '--since', '10m', '-o', 'har', '--limit', '3']);
  t.equal((await har.exit)[0], 0);
  const doc = JSON.parse(har.stdout()) as { log: { entries: { request: { url: string } }[] } };
  t.same(doc.log.entries.map((e) => new URL(e.request.url).pathname), ['/a', '/b', '/c'], 'HTTP calls of the window, oldest first');
});

void t.test('bad --since values are usage errors, before tap connects', async (t) => {
  const c = await collector(t);
  for (const [args, message] of [
    [['--since', 'abc'], /--since must be a duration back from now, like 30s, 10m, 2h or 1d .*, got "abc"\n/],
    [['--since=-5m'], /--since -5m: a negative duration is not a time: --since 5m means the last 5 minutes\n/],
    [['--since', '-5m'], /--since -5m: a negative duration is not a time: --since 5m means the last 5 minutes\n/],
    [['--since', '-n'], /--since got a value starting with '-': give it as --since=VALUE/],
    [['--since', '2026-12-07T11:00:00'], /--since "2026-12-07T11:00:00" is a date and time without a zone: add Z \(UTC\) or an offset such as \+01:00, like 2026-12-07T11:00:00Z\n/],
    [['--since', '10'], /got "10" \(a number needs its unit: 10m is 10 minutes\)/],
    [['--since', '0m'], /--since must be longer than 0, got "0m"/],
    [['--since', '1000000000d'], /--since "1000000000d" is beyond what the collector's API accepts: at most 9 digits before the unit/],
    [['--since', '2999-01-01T00:00:00Z'], /--since 2999-01-01T00:00:00Z is in the future \(now is \d{4}-.*\): the window would hold no call\n/],
    [['--since', '2026-12-07 02:14'], /--since "2026-12-07 02:14" is not an RFC 3339 time/],
  ] as const) {
    const tap = spawnTap(t, ['--collector', `http://127.0.0.1:${c.httpPort}`, ...args]);
    t.equal((await tap.exit)[0], 2, args.join(' '));
    t.match(tap.stderr(), /^meshtap tap: CLI_ERR_USAGE: /, 'the common shape');
    t.match(tap.stderr(), message);
    t.equal(tap.stdout(), '');
  }
  t.equal(c.hub.clients().length, 0, 'none subscribed');
  const help = spawnTap(t, ['--help']);
  t.equal((await help.exit)[0], 0);
  t.match(help.stdout(), /--since WHEN .*\n.*since the time WHEN \(2026-12-07T02:14:00Z/);
});
