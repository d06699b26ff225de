/** The HTTP API over real HTTP, with a collector whose store is fed through its ingest path. */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import t, { type Test } from 'tap';
import type { RunningCollector } from '../../collector/collector.ts';
import { parseSince } from '../../collector/api-query.ts';
import { recordToJson } from '../../record/record-json.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector } from '../../collector/collector.ts';
import type { CallRecord } from '../../record/record.ts';
import { callRecord, shipBatch, shopDataset, waitFor } from './helpers.ts';
import { serverSpanId } from '../../record/trace-ids.ts';

async function start(t: Test, options: Parameters<typeof resolveCollectorOptions>[0] = {}): Promise<RunningCollector> {
  const config = resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, ...options });
  const collector = await startCollector(config);
  t.teardown(() => collector.close({ force: true }));
  return collector;
}

async function getJson(c: RunningCollector, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${c.httpPort}${path}`);
  return { status: res.status, body: await res.json() };
}

const q = (filter: string): string => `filter=${encodeURIComponent(filter)}`;

/** Feeds records the way the gRPC ingest does (the live stream sees them too). */
async function feed(c: RunningCollector, records: CallRecord[]): Promise<void> {
  await c.store.add(records);
}

void t.test('GET /api/calls: filters, limit, since, errors', async (t) => {
  const c = await start(t);
  const data = shopDataset(300);
  await feed(c, data);
  const table: [string, (r: CallRecord) => boolean][] = [
    ['http && method == "POST" && status_code >= 500', (r) => r.protocol === 'http' && r.method === 'POST' && (r.status_code ?? 0) >= 500],
    ['dst.workload == "payment" && src.namespace == "infra"', (r) => r.dst.workload === 'payment' && r.src.namespace === 'infra'],
    ['response.body.contains("ref-3")', (r) => new TextDecoder().decode(r.response?.body ?? new Uint8Array()).includes('ref-3')],
    ['grpc', (r) => r.protocol === 'grpc'],
    ['', () => true],
  ];
  for (const [filter, predicate] of table) {
    const expected = data.filter(predicate).reverse().slice(0, 1000).map((r) => r.id);
    const res = await getJson(c, `/api/calls?limit=1000&${q(filter)}`);
    t.equal(res.status, 200, filter);
    t.same(res.body.calls.map((r: { id: string }) => r.id), expected, `${filter || '(empty)'} → ${expected.length} calls`);
  }
  const limited = await getJson(c, `/api/calls?limit=3&${q('http')}`);
  t.same(limited.body.calls.map((r: { id: string }) => r.id), data.filter((r) => r.protocol === 'http').reverse().slice(0, 3).map((r) => r.id));
  t.same(limited.body.calls[0], recordToJson(data.filter((r) => r.protocol === 'http').at(-1)!), 'record JSON form');

  const since = await getJson(c, `/api/calls?since=${data[295].start}&${q('http || tcp || grpc')}`);
  t.same(since.body.calls.map((r: { id: string }) => r.id), ['d-299', 'd-298', 'd-297', 'd-296', 'd-295']);
  const rfc = new Date(Number(data[295].start / 1_000_000n)).toISOString();
  t.same((await getJson(c, `/api/calls?since=${rfc}`)).body.calls.length, 5, 'RFC 3339 since');
  t.equal((await getJson(c, '/api/calls?since=5m')).body.calls.length, 0, 'relative since: the dataset is from 2025');

  const bad = await getJson(c, `/api/calls?${q('status_code >= ')}`);
  t.equal(bad.status, 400);
  t.equal(bad.body.error.code, 'COL_ERR_FILTER_SYNTAX');
  t.match(bad.body.error.message, /at line 1, column \d+$/);
  t.match(bad.body.error.position, { line: 1 });
  const unknown = await getJson(c, `/api/calls?${q('http &&\n  dst.wrkload == "x"')}`);
  t.equal(unknown.status, 400);
  t.equal(unknown.body.error.code, 'COL_ERR_FILTER_UNDECLARED');
  t.same(unknown.body.error.position, { offset: 14, line: 2, column: 7 }, 'names the misspelt field');
  t.equal((await getJson(c, `/api/calls?${q('http')}&${q('grpc')}`)).status, 400, 'filter twice');
  for (const bad of ['limit=0', 'limit=abc', 'limit=1001', 'since=yesterday', 'since=5y', 'since=2025-13-01T00:00:00Z']) {
    const res = await getJson(c, `/api/calls?${bad}`);
    t.equal(res.status, 400, bad);
    t.equal(res.body.error.code, 'COL_ERR_BAD_QUERY');
  }
});

for (const store of ['memory', 'sqlite'] as const) {
  void t.test(`GET /api/calls and /api/har: since and until bound the window (${store} store)`, async (t) => {
    const c = await start(t, { store, ...(store === 'sqlite' ? { dbPath: ':memory:' } : {}) });
    // One call a second from T0 (2025-11-24T16:00:00Z): starts at 0 s, 1 s, … 9 s.
    await feed(c, Array.from({ length: 10 }, (_, i) => callRecord({ id: `u${i}`, at: i * 1000, method: 'GET', path: `/u${i}`, status: 200 })));
    const ids = async (query: string): Promise<string[]> => {
      const res = await getJson(c, `/api/calls?${query}`);
      t.equal(res.status, 200, query);
      return (res.body.calls as { id: string }[]).map((r) => r.id).sort();
    };
    t.same(await ids('since=2025-11-24T16:00:03Z&until=2025-11-24T16:00:06Z'), ['u3', 'u4', 'u5'], 'since inclusive, until exclusive');
    t.same(await ids('until=2025-11-24T16:00:02Z'), ['u0', 'u1'], 'until alone');
    t.same(await ids(`until=${1_764_000_000_000_000_000n + 1n}`), ['u0'], 'in ns, to the nanosecond');
    const perCall = await getJson(c, '/api/calls?since=2025-11-24T16:00:08Z&until=5m&view=call');
    t.same((perCall.body.calls as { client?: { path: string } }[]).map((call) => call.client?.path).sort(), ['/u8', '/u9'], 'a duration, per call');
    t.same(await ids(`until=2025-11-24T16:00:05Z&${q('path != "/u1"')}&limit=2`), ['u3', 'u4'], 'with a filter and a limit: the newest before until');
    const har = await fetch(`http://127.0.0.1:${c.httpPort}/api/har?since=2025-11-24T16:00:01Z&until=2025-11-24T16:00:03Z`);
    t.same(((await har.json()) as { log: { entries: { request: { url: string } }[] } }).log.entries.map((e) => new URL(e.request.url).pathname).sort(), ['/u1', '/u2']);
    for (const [query, message] of [
      ['since=2025-11-24T16:00:05Z&until=2025-11-24T16:00:05Z', /^until must be after since \(the window is from since up to, not including, until\), got until "2025-11-24T16:00:05Z"$/],
      ['since=2025-11-24T16:00:05Z&until=2025-11-24T16:00:04Z', /until must be after since/],
      ['until=tomorrow', /^until must be nanoseconds since the epoch, an RFC 3339 timestamp or a duration/],
      ['until=2026-02-30T00:00:00Z', /^until is not a real date and time/],
      ['until=9999-01-01T00:00:00Z', /^until must be at most/],
      ['until=1m&until=2m', /^until was given 2 times/],
    ] as const) {
      const res = await getJson(c, `/api/calls?${query}`);
      t.equal(res.status, 400, query);
      t.equal(res.body.error?.code, 'COL_ERR_BAD_QUERY', query);
      t.match(res.body.error?.message, message, query);
    }
  });
}

void t.test('parseSince', async (t) => {
  const now = 1_800_000_000_000_000_000n;
  t.same(parseSince('5m', now), { ok: true, value: now - 300_000_000_000n });
  t.same(parseSince('250ms', now), { ok: true, value: now - 250_000_000n });
  t.same(parseSince('1764000000123456789', now), { ok: true, value: 1764000000123456789n });
  t.same(parseSince('2025-11-24T16:00:00.123456789Z', now), { ok: true, value: 1764000000123456789n });
  // Any number of fraction digits (RFC 3339); past the nanosecond they are dropped.
  t.same(parseSince('2025-11-24T16:00:00.1234567891234Z', now), { ok: true, value: 1764000000123456789n });
  t.same(parseSince('2025-11-24T17:00:00.5+01:00', now), { ok: true, value: 1764000000500000000n });
  t.equal(parseSince('2025-11-24', now).ok, false);
  // A date and time without a zone could be any of 26 hours: the message says what to add.
  for (const text of ['2026-12-07T11:00:00', '2026-12-07T11:00:00.5', '2026-02-30T11:00:00']) {
    t.same(parseSince(text, now), { ok: false, message: `since "${text}" is a date and time without a zone: add Z (UTC) or an offset such as +01:00, like ${text}Z` }, text);
  }
  t.same(parseSince(undefined, now), { ok: true, value: undefined });
  // Days that do not exist are refused, not rolled over into the next month.
  for (const text of ['2026-02-29T00:00:00Z', '2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:61Z', '2026-01-01T00:00:00+24:00']) {
    const r = parseSince(text, now);
    t.equal(r.ok, false, text);
    if (!r.ok) t.match(r.message, /not a real date and time/, text);
  }
  t.same(parseSince('2024-02-29T00:00:00Z', now), { ok: true, value: 1709164800000000000n }, 'a leap day');
  t.same(parseSince('2016-12-31T23:59:60Z', now), { ok: true, value: 1483228800000000000n }, 'a leap second is the next minute to the second');
  t.same(parseSince('2025-11-25T16:00:00.123456789+23:59', now), { ok: true, value: 1764000000123456789n + 60_000_000_000n }, 'the largest offset');
  t.same(parseSince('2025-11-24T15:00:00-01:00', now), { ok: true, value: 1764000000000000000n });
  // What a record's time cannot hold is refused; before 1970 means from the first record.
  for (const text of ['9223372036854775808', '9999999999999999999', '2262-04-12T00:00:00Z', '9999-12-31T23:59:59Z']) {
    const r = parseSince(text, now);
    t.equal(r.ok, false, text);
    if (!r.ok) t.match(r.message, /at most 9223372036854775807 ns/, text);
  }
  t.same(parseSince('9223372036854775807', now), { ok: true, value: 9223372036854775807n });
  t.same(parseSince('999999999d', now), { ok: true, value: 0n }, 'a duration back past 1970');
  t.same(parseSince('0000-01-01T00:00:00Z', now), { ok: true, value: 0n });
  t.same(parseSince('1969-12-31T23:59:59Z', now), { ok: true, value: 0n });
});

void t.test('API query parameters: unknown, repeated, out of range and HEAD of the stream', async (t) => {
  const c = await start(t);
  await feed(c, shopDataset(20));
  const cases: [string, RegExp][] = [
    ['/api/calls?fitler=http', /unknown query parameter "fitler": \/api\/calls takes view, limit, since, until, filter/],
    ['/api/calls?limt=5', /unknown query parameter "limt"/],
    ['/api/calls/d-1?limit=1', /unknown query parameter "limit": \/api\/calls\/:id takes view$/],
    ['/api/servicemap?limit=5', /unknown query parameter "limit": \/api\/servicemap takes since, until$/],
    ['/api/coverage?since=10m&until=20m', /until must be after since/],
    ['/api/servicemap?until=tomorrow', /until must be/],
    ['/api/stream?since=5m', /unknown query parameter "since": \/api\/stream takes filter/],
    ['/api/calls?limit=1&limit=2', /^limit was given 2 times: give it once \(\/api\/calls takes view, limit, since, until, filter, each once\)$/],
    ['/api/calls?since=5m&since=1h&since=2h', /^since was given 3 times: give it once \(\/api\/calls takes view, limit, since, until, filter, each once\)$/],
    ['/api/calls?view=call&view=call', /^view was given 2 times: give it once \(/],
    ['/api/offenders?by=retry&by=timeout', /^by was given 2 times: give it once \(\/api\/offenders takes since, until, limit, by, each once\)$/],
    ['/api/har?filter=http&filter=grpc', /^filter was given 2 times: give it once, combining conditions with && or \|\| \(\/api\/har takes limit, since, until, filter, each once\)$/],
    ['/api/calls?since=9999999999999999999', /since must be at most/],
    ['/api/calls?since=9223372036854775808', /since must be at most/],
    ['/api/har?since=9999-01-01T00:00:00Z', /since must be at most/],
    ['/api/servicemap?since=2026-02-30T00:00:00Z', /not a real date and time/],
    ['/api/calls?since=2026-12-07T11:00:00', /^since "2026-12-07T11:00:00" is a date and time without a zone: add Z \(UTC\) or an offset such as \+01:00, like 2026-12-07T11:00:00Z$/],
    ['/api/har?until=2026-12-07T11:00:00', /^until "2026-12-07T11:00:00" is a date and time without a zone: add Z \(UTC\)/],
    ['/api/offenders?limit=0', /limit must be an integer from 1 to 200, got "0"/],
    ['/api/offenders?limit=201', /limit must be an integer from 1 to 200/],
  ];
  for (const [path, message] of cases) {
    const res = await getJson(c, path);
    t.equal(res.status, 400, path);
    t.equal(res.body.error?.code, 'COL_ERR_BAD_QUERY', path);
    t.match(res.body.error?.message, message, path);
  }
  const all = await getJson(c, '/api/calls?since=999999999d');
  t.equal(all.status, 200, 'a duration back past 1970 reads from the first record');
  t.equal(all.body.calls.length, 20);
  const map = await getJson(c, '/api/servicemap?since=999999999d');
  t.equal(map.status, 200);
  t.equal(map.body.since, '0');
  t.equal((await getJson(c, '/api/offenders?limit=200&by=retry')).status, 200);

  // Bad encoding, in the path or in a parameter, is named; nothing is compiled from text the user never wrote.
  for (const [path, status, message] of [
    ['/api/calls/%zz', 400, /path is not valid URL encoding/],
    [`/api/calls/${'x'.repeat(150)}`, 414, /longer than the 100 characters/],
    ['/api/calls?filter=path%20%3D%3D%20%22%zz%22', 400, /query parameter "filter" is not valid URL encoding/],
    ['/api/calls?limit=%ff', 400, /query parameter "limit" is not valid URL encoding/],
  ] as const) {
    const res = await getJson(c, path);
    t.equal(res.status, status, path);
    t.equal(res.body.error?.code, 'COL_ERR_BAD_QUERY', path);
    t.match(res.body.error?.message, message, path);
    t.notMatch(JSON.stringify(res.body), /x{150}/, 'the long path is not echoed');
  }
  // What Node's HTTP parser refuses is answered in the same shape.
  const raw = async (request: string): Promise<{ status: number; body: any }> => {
    const socket = net.connect(c.httpPort, '127.0.0.1');
    await once(socket, 'connect');
    socket.end(Buffer.from(request, 'latin1'));
    let text = '';
    for await (const chunk of socket) text += (chunk as Buffer).toString('utf8');
    const [head, body] = text.split('\r\n\r\n');
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: JSON.parse(body) };
  };
  const long = await raw(`GET /api/calls?filter=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  t.equal(long.status, 431);
  t.equal(long.body.error.code, 'COL_ERR_BAD_QUERY');
  t.match(long.body.error.message, /over 16 KiB: a filter that long must be shortened/);
  const utf8 = await raw(`GET /api/calls?limit=\xef\xbc\x91 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  t.equal(utf8.status, 400);
  t.match(utf8.body.error.message, /not valid HTTP \(a URL must be ASCII/);

  // HEAD of the live stream answers its headers at once (it used to hang with no answer).
  const head = await new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: c.httpPort, path: '/api/stream', method: 'HEAD', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] }));
    });
    req.on('timeout', () => req.destroy(new Error('HEAD /api/stream: no answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
  t.equal(head.status, 200);
  t.match(head.type, /^text\/event-stream/);
  t.equal(c.hub.clients().length, 0, 'a HEAD holds no stream client');
});

void t.test('GET /api/calls/:id and /api/traces/:traceId', async (t) => {
  const c = await start(t, { store: 'memory' });
  await feed(c, [
    callRecord({ id: 'root', at: 0, traceId: 'T', spanId: 'aaaa000000000001', connectionId: 'c0' }),
    callRecord({ id: 'hop-in', observer: 'inbound', at: 2, traceId: 'T', connectionId: 'c1', mesh: true }),
    callRecord({ id: 'hop-out', observer: 'outbound', at: 1, traceId: 'T', parentSpanId: 'aaaa000000000001', spanId: 'bbbb000000000002', connectionId: 'c1' }),
    callRecord({ id: 'leaf', at: 3, traceId: 'T', parentSpanId: 'bbbb000000000002', connectionId: 'c2' }),
    callRecord({ id: 'elsewhere', at: 1, traceId: 'U' }),
    // Apps that forward traceparent without spans: only timing at the gateway pod links these.
    callRecord({ id: 'v-in', observer: 'inbound', at: 0, elapsedMs: 10, traceId: 'V', parentSpanId: 'cccc000000000003', dst: { ip: '10.244.0.7', pod: 'gw-0', namespace: 'shop' } }),
    callRecord({ id: 'v-out', at: 2, elapsedMs: 3, traceId: 'V', parentSpanId: 'cccc000000000003', src: { ip: '10.244.0.7', pod: 'gw-0', namespace: 'shop' } }),
    // Linked by the sidecar (no context from the app): two inbound requests were in flight.
    callRecord({ id: 'w-in', observer: 'inbound', at: 0, elapsedMs: 10, traceId: 'ab56'.repeat(8), spanId: 'dddd000000000004', dst: { ip: '10.244.0.8', pod: 'gw-1', namespace: 'shop' } }),
    { ...callRecord({ id: 'w-out', at: 2, elapsedMs: 3, traceId: 'ab56'.repeat(8), parentSpanId: 'dddd000000000004', src: { ip: '10.244.0.8', pod: 'gw-1', namespace: 'shop' } }), link_confidence: 0.5 },
  ]);
  const one = await getJson(c, '/api/calls/hop-in');
  t.equal(one.status, 200);
  t.equal(one.body.call.observer, 'inbound');
  t.equal((await getJson(c, '/api/calls/none')).status, 404);

  const trace = await getJson(c, '/api/traces/T');
  t.equal(trace.status, 200);
  t.equal(trace.body.trace_id, 'T');
  t.same(
    trace.body.calls.map((e: { call: { id: string }; parent_id?: string; depth: number }) => [e.call.id, e.parent_id ?? null, e.depth]),
    [
      ['root', null, 0],
      ['hop-out', 'root', 1],
      ['hop-in', 'hop-out', 2],
      ['leaf', 'hop-out', 2],
    ],
    'ordered by start, parents by span id or by the same exchange',
  );
  t.equal(trace.body.calls.some((e: { linked_by?: string }) => e.linked_by !== undefined), false, 'no timing link where spans and exchanges link');
  const timed = await getJson(c, '/api/traces/V');
  t.same(
    timed.body.calls.map((e: { call: { id: string }; parent_id?: string; depth: number; linked_by?: string }) => [e.call.id, e.parent_id ?? null, e.depth, e.linked_by ?? null]),
    [
      ['v-in', null, 0, null],
      ['v-out', 'v-in', 1, 'timing'],
    ],
    'a call out of the gateway pod nests under the request it was serving, marked as linked by timing',
  );
  const missing = await getJson(c, '/api/traces/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.error.code, 'COL_ERR_NOT_FOUND');
  t.equal(missing.body.error.message, 'no calls in trace "nope" (a trace id is 32 lower-case hexadecimal digits, as in a traceparent header and the trace_id of a call)');
  const unknown = await getJson(c, `/api/traces/${'ab'.repeat(16)}`);
  t.equal(unknown.body.error.message, `no calls in trace "${'ab'.repeat(16)}"`, 'a well-formed id needs no explanation');
  t.equal((await getJson(c, `/api/traces/${'AB'.repeat(16)}`)).body.error.message, `no calls in trace "${'ab'.repeat(16)}"`, 'upper case: the same id, no hint');

  const linked = await getJson(c, `/api/traces/${'ab56'.repeat(8)}`);
  t.same(
    linked.body.calls.map((e: { call: { id: string }; parent_id?: string; linked_by?: string; link_confidence?: number }) => [e.call.id, e.parent_id ?? null, e.linked_by ?? null, e.link_confidence ?? null]),
    [
      ['w-in', null, null, null],
      ['w-out', 'w-in', null, 0.5],
    ],
    'the sidecar\'s guess shows on the entry',
  );
  const upper = await getJson(c, `/api/traces/${'AB56'.repeat(8)}`);
  t.equal(upper.status, 200, 'an upper-case trace id is the same trace');
  t.equal(upper.body.trace_id, 'ab56'.repeat(8));
  t.same(upper.body.calls, linked.body.calls);
  t.equal((await getJson(c, `/api/traces/${'Ab56'.repeat(8)}`)).status, 200, 'mixed case too');
  const notHex = await getJson(c, `/api/traces/${'XY'.repeat(16)}`);
  t.equal(notHex.status, 404);
  t.match(notHex.body.error.message, /\(a trace id is 32 lower-case hexadecimal digits/, 'not hex: the hint');
  t.equal((await getJson(c, '/api/traces/v')).status, 404, 'an id that is not 32 hex digits is not lower-cased');
});

void t.test('GET /api/traces/:traceId: an app that started a new trace for a request without context is one flow, found by either id', async (t) => {
  const c = await start(t, { store: 'memory' });
  const derived = 'cd'.repeat(16);
  const minted = 'ef'.repeat(16);
  const gw = { ip: '10.244.0.9', pod: 'gw-2', namespace: 'shop' };
  // The app's call carries its own new trace; its sidecar named the request that caused it.
  const out = { ...callRecord({ id: 'x-out', at: 2, elapsedMs: 3, traceId: minted, parentSpanId: '5555555555555555', src: gw }), caused_by_trace_id: derived, caused_by_span_id: serverSpanId('x1', 0) };
  // Through the real ingest, the caller's request last: what was stored under the app's id moves.
  const first = await shipBatch(c, [out, callRecord({ id: 'x-next', observer: 'inbound', at: 3, elapsedMs: 1, traceId: minted, parentSpanId: '5555555555555555', connectionId: 'x2' })]);
  const second = await shipBatch(c, [callRecord({ id: 'x-in', observer: 'inbound', at: 0, elapsedMs: 10, traceId: derived, dst: gw, connectionId: 'x1' })], 2);
  t.same([first.accepted, second.accepted], [2, 1]);
  for (const id of [derived, minted, minted.toUpperCase()]) {
    const trace = await getJson(c, `/api/traces/${id}`);
    t.equal(trace.status, 200, id);
    t.equal(trace.body.trace_id, derived, `${id}: the flow's first trace`);
    t.same(
      trace.body.calls.map((e: { call: { id: string; trace_id: string }; parent_id?: string; linked_by?: string }) => [e.call.id, e.parent_id ?? null, e.linked_by ?? null, e.call.trace_id]),
      [
        ['x-in', null, null, derived],
        ['x-out', 'x-in', null, derived],
        ['x-next', null, null, derived],
      ],
      `${id}: the app's call under the request it served`,
    );
  }
  t.equal((await getJson(c, `/api/traces/${'12'.repeat(16)}`)).status, 404, 'an unknown id is still not found');
});

interface SseReader {
  events: { event: string; data: any }[];
  comments: string[];
  closed: Promise<void>;
  res: http.IncomingMessage;
}

/** A raw SSE client (node:http) so a test can also stop reading. */
function openStream(c: RunningCollector, query: string, options: { paused?: boolean } = {}): Promise<SseReader> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: c.httpPort, path: `/api/stream${query}`, headers: { accept: 'text/event-stream' } }, (res) => {
      const reader: SseReader = { events: [], comments: [], res, closed: new Promise((r) => res.on('close', r)) };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = '';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) reader.comments.push(line);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event !== '') reader.events.push({ event, data: JSON.parse(data) });
        }
      });
      if (options.paused) res.pause();
      resolve(reader);
    });
    req.on('error', reject);
  });
}

void t.test('GET /api/stream: live matching calls, heartbeats, clean close', async (t) => {
  const c = await start(t, { streamHeartbeatMs: 50 });
  await feed(c, [callRecord({ id: 'before', dst: { workload: 'payment' } })]);
  const payments = await openStream(c, `?${q('dst.workload == "payment"')}`);
  const all = await openStream(c, '');
  t.equal(payments.res.statusCode, 200);
  t.match(payments.res.headers['content-type'], /^text\/event-stream/);
  await waitFor('subscribed', () => c.hub.clients().length === 2);

  await feed(c, [callRecord({ id: 'p1', dst: { workload: 'payment' } }), callRecord({ id: 'a1', dst: { workload: 'auth' } })]);
  await c.store.add([callRecord({ id: 'p1', dst: { workload: 'payment' } })]); // a re-sent duplicate is not streamed again
  await feed(c, [callRecord({ id: 'p2', dst: { workload: 'payment' }, status: 500 })]);
  await waitFor('events', () => payments.events.length >= 2 && all.events.length >= 3);
  await waitFor('a heartbeat', () => payments.comments.some((l) => l.includes('heartbeat')));
  t.same(payments.events.map((e) => [e.event, e.data.id]), [['call', 'p1'], ['call', 'p2']], 'only matching calls, only new ones');
  t.same(all.events.map((e) => e.data.id), ['p1', 'a1', 'p2']);
  t.same(payments.events[1].data, recordToJson(callRecord({ id: 'p2', dst: { workload: 'payment' }, status: 500 })), 'the record JSON form');

  const bad = await fetch(`http://127.0.0.1:${c.httpPort}/api/stream?${q('dst.workload = "x"')}`);
  t.equal(bad.status, 400);
  const body = (await bad.json()) as { error: { code: string; position: { column: number } } };
  t.equal(body.error.code, 'COL_ERR_FILTER_SYNTAX');
  t.equal(typeof body.error.position.column, 'number');

  // A client that goes away is unsubscribed.
  all.res.destroy();
  await waitFor('unsubscribed', () => c.hub.clients().length === 1);

  // Stopping the collector ends open streams instead of waiting on them.
  const closing = c.close();
  await payments.closed;
  await closing;
  t.pass('stream closed with the collector');
});

void t.test('GET /api/stream: a slow client gets a bounded queue and a dropped count', async (t) => {
  const c = await start(t, { store: 'memory', streamBufferEvents: 20, streamBufferBytes: 4 * 1024 * 1024 });
  const slow = await openStream(c, '', { paused: true });
  await waitFor('subscribed', () => c.hub.clients().length === 1);
  const client = c.hub.clients()[0];
  // Big records fill the socket buffers quickly.
  const body = 'x'.repeat(60_000);
  let n = 0;
  for (let round = 0; round < 400 && client.stats().dropped === 0; round++) {
    await feed(c, Array.from({ length: 10 }, () => callRecord({ id: `big-${n++}`, responseBody: body })));
    await new Promise((r) => setImmediate(r));
  }
  const stats = client.stats();
  t.ok(stats.dropped > 0, `events dropped (${stats.dropped}) after ${n} fed`);
  t.ok(stats.queued <= 21, `queue bounded (${stats.queued})`);
  await feed(c, Array.from({ length: 30 }, () => callRecord({ id: `big-${n++}`, responseBody: body })));
  t.ok(client.stats().queued <= 21, 'still bounded');
  const dropped = client.stats().dropped;

  slow.res.resume();
  await waitFor('the dropped event', () => slow.events.some((e) => e.event === 'dropped'));
  await feed(c, [callRecord({ id: 'after' })]);
  await waitFor('the next call', () => slow.events.some((e) => e.data.id === 'after'));
  const reported = slow.events.filter((e) => e.event === 'dropped').reduce((sum, e) => sum + (e.data.count as number), 0);
  t.equal(reported, client.stats().dropped, 'dropped events count what was dropped');
  t.ok(client.stats().dropped >= dropped);
  const callIds = slow.events.filter((e) => e.event === 'call').map((e) => e.data.id as string);
  t.equal(callIds.length + client.stats().dropped, n + 1, 'every call either delivered or counted as dropped');
  t.same([...callIds].sort(), [...new Set(callIds)].sort(), 'no duplicates');
  const lastBeforeDrop = slow.events.findIndex((e) => e.event === 'dropped');
  t.ok(lastBeforeDrop > 0 && slow.events.at(-1)!.data.id === 'after', 'order: queued calls, the drop, later calls');
});
