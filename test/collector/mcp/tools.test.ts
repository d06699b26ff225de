/**
 * The MCP tool layer's pure parts (short forms, edges, windows, times), `/mcp` seeing only what
 * the caller's token may see, and `meshtap mcp`'s usage.
 */
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t from 'tap';
import type { AccessControl, Viewer } from '../../../collector/auth/access.ts';
import { buildHttpApp } from '../../../collector/http-server.ts';
import { createMemoryStore } from '../../../collector/memory-store.ts';
import { createCollectorMetrics } from '../../../collector/metrics.ts';
import { createHttpApiClient, routeWithQuery } from '../../../collector/mcp/api-client.ts';
import { briefCall, callStatus, changeScore, clipText, compareWindows, edgeName, onePerCall, parseInstant, rfc3339Ns, weightedPercentile } from '../../../collector/mcp/summaries.ts';
import { SUB_WINDOWS, subWindows, weighWindow } from '../../../collector/mcp/window-sample.ts';
import { percentile } from '../../../collector/servicemap.ts';
import { combineFilter, MCP_TOOLS } from '../../../collector/mcp/tools.ts';
import { createRetryTracker } from '../../../collector/retries.ts';
import { createSinkLogger } from '../../../lib/log.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { callRecord, T0_NS } from '../helpers.ts';

const repo = fileURLToPath(new URL('../../..', import.meta.url));

void t.test('briefCall: the short form of a call', async (t) => {
  const grpc = recordToJson(callRecord({ id: 'g', protocol: 'grpc', method: 'POST', path: '/shop.Pay/Charge', status: 200, grpcStatus: 14, elapsedMs: 2.345, src: { ip: '10.0.0.1', port: 41000 }, dst: { namespace: 'shop', pod: 'pay-0' } }));
  t.same(briefCall(grpc), {
    id: 'g',
    time: '2025-11-24T16:00:00.000Z',
    protocol: 'grpc',
    observer: 'outbound',
    method: 'POST',
    path: '/shop.Pay/Charge',
    status: 'UNAVAILABLE(14)',
    latency_ms: 2.35,
    src: '10.0.0.1:41000',
    dst: 'shop/pay-0',
  });
  const tcp = recordToJson(callRecord({ id: 'c', protocol: 'tcp', error: 'reset' }));
  t.equal(callStatus(tcp), 'error');
  t.equal(briefCall(tcp).error, 'reset');
  t.equal(callStatus(recordToJson(callRecord({ id: 'o', protocol: 'tcp' }))), null);
  t.equal(callStatus({ ...recordToJson(callRecord({ id: 'd', protocol: 'dns' })), dns_rcode: 'NXDOMAIN' }), 'NXDOMAIN', 'a lookup\'s status is its response code');
  t.equal(callStatus({ ...recordToJson(callRecord({ id: 'd2', protocol: 'dns', error: 'parse' })), dns_rcode: 'SERVFAIL' }), 'SERVFAIL (error=parse)');
  const long = recordToJson(callRecord({ id: 'l', path: `/q?${'a'.repeat(3000)}` }));
  t.match(briefCall(long).path, /^\/q\?a+…\[\+955 chars\]$/);
  t.equal(clipText('abc', 3), 'abc');
});

void t.test('edges: callers without identity by IP, one record per meshed call', async (t) => {
  const r = recordToJson(callRecord({ id: 'x', src: { ip: '10.0.0.7', port: 50000 }, dst: { ip: '10.0.0.9', port: 80 } }));
  t.equal(edgeName(r), 'ip/10.0.0.7 → ip/10.0.0.9', 'named as the service map names its nodes: no ports');
  const dns = recordToJson(callRecord({ id: 'd', src: { ip: '10.0.0.7', port: 50000, namespace: 'shop', workload: 'gateway' }, dst: { ip: '10.96.0.10', port: 53, namespace: 'kube-system', service: 'kube-dns' } }));
  t.equal(edgeName(dns), 'shop/gateway → kube-system/service/kube-dns', 'a Service as service_map and coverage name it');
  const inbound = recordToJson(callRecord({ id: 'i', observer: 'inbound', connectionId: 'k', ordinal: 3 }));
  const outbound = recordToJson(callRecord({ id: 'o', observer: 'outbound', connectionId: 'k', ordinal: 3 }));
  const other = recordToJson(callRecord({ id: 'p', observer: 'inbound', connectionId: 'k', ordinal: 4 }));
  t.same(
    onePerCall([inbound, outbound, other]).map((x) => x.id),
    ['o', 'p'],
    'the outbound record of a pair, whatever the order',
  );
  t.same(
    onePerCall([outbound, inbound]).map((x) => x.id),
    ['o'],
  );
});

void t.test('compareWindows and changeScore', async (t) => {
  const rec = (id: string, at: number, status: number, ms: number) =>
    recordToJson(callRecord({ id, at, status, elapsedMs: ms, src: { namespace: 'a', workload: 'x' }, dst: { namespace: 'a', workload: 'y' } }));
  const a = [rec('a1', 0, 200, 10), rec('a2', 1, 200, 10)];
  const b = [rec('b1', 0, 200, 10), rec('b2', 1, 500, 40), rec('b3', 2, 200, 10), rec('b4', 3, 200, 10)];
  const [row] = compareWindows(a, b, 60, 60);
  t.same(row, {
    edge: 'a/x → a/y',
    calls: [2, 4],
    error_rate: [0, 0.25],
    p99_ms: [10, 40],
    delta: { rate_pct: 100, error_rate: 0.25, p99_ms: 30 },
    top_errors_b: [['500', 1]],
    score: 2.5,
  });
  t.equal(changeScore({ calls: 10, error_rate: 0, p99_ms: 10 }, { calls: 10, error_rate: 0, p99_ms: 10 }, 1), 0, 'no change, no score');
  t.equal(changeScore({ calls: 10, error_rate: 0, p99_ms: 10 }, { calls: 10, error_rate: 0, p99_ms: 21 }, 1), 1, 'p99 doubled (with 1 ms slack)');
  t.equal(changeScore({ calls: 10, error_rate: 0, p99_ms: 10 }, { calls: 5, error_rate: 0, p99_ms: 10 }, 2), 0, 'same rate over a window half as long');
});

void t.test('weighted figures: percentiles, and window comparisons when records stand for more than one call', async (t) => {
  const values = [5, 1, 4, 2, 3];
  for (const p of [0, 1, 20, 50, 99, 100]) t.equal(weightedPercentile(values, [1, 1, 1, 1, 1], p), percentile([1, 2, 3, 4, 5], p), `weights of 1: nearest rank, p${p}`);
  t.equal(weightedPercentile([10, 900], [9, 1], 50), 10);
  t.equal(weightedPercentile([10, 900], [9, 1], 95), 900, 'the slow call stands for a tenth of the calls');
  t.equal(weightedPercentile([], [], 99), 0);

  const rec = (id: string, status: number, ms: number) => recordToJson(callRecord({ id, status, elapsedMs: ms, src: { namespace: 'a', workload: 'x' }, dst: { namespace: 'a', workload: 'y' } }));
  const a = [rec('a1', 200, 10), rec('a2', 200, 10)];
  const b = [rec('b1', 200, 10), rec('b2', 503, 40), rec('b3', 200, 10)];
  const [row] = compareWindows(a, b, 60, 60, { b: (r) => (r.id === 'b2' ? 4 : r.id === 'b3' ? 0 : 1) });
  t.same(row, {
    edge: 'a/x → a/y',
    calls: [2, 5],
    error_rate: [0, 0.8],
    p99_ms: [10, 40],
    delta: { rate_pct: 150, error_rate: 0.8, p99_ms: 30 },
    top_errors_b: [['503', 4]],
    score: 8,
  }, 'b2 stands for four calls, b3 for none');
  const [scaled] = compareWindows(a, b, 60, 60, { a: () => 2.5, b: () => 2.5 });
  t.match(scaled, { calls: [5, 8], delta: { rate_pct: 50 } }, 'scaled counts shown whole, compared unrounded');
});

void t.test('windows read in sub-windows: what each record read stands for', async (t) => {
  t.same(subWindows(0n, 100n, 4), [
    { from: 0n, to: 25n },
    { from: 25n, to: 50n },
    { from: 50n, to: 75n },
    { from: 75n, to: 100n },
  ]);
  t.same(subWindows(0n, 10n, 3).map((w) => w.to - w.from), [3n, 3n, 4n], 'the last takes the remainder');
  t.same(subWindows(5n, 7n, 20), [
    { from: 5n, to: 6n },
    { from: 6n, to: 7n },
  ], 'never a sub-window under 1 ns');
  t.equal(subWindows(T0_NS, T0_NS + 480_000_000_000n).length, SUB_WINDOWS);

  const s = 1_000_000_000n;
  const rec = (id: string, startS: number, elapsedMs: number) => recordToJson(callRecord({ id, at: startS * 1000, elapsedMs }));
  const span = (fromS: number, toS: number) => ({ from: T0_NS + BigInt(fromS) * s, to: T0_NS + BigInt(toS) * s });
  const whole = { span: span(0, 10), records: [rec('w1', 1, 5), rec('w2', 9, 5)], whole: true };
  // Held more: the newest arrivals were read, the earliest to end at 15.1 s (h2); every call that started from then on was read.
  const held = { span: span(10, 20), records: [rec('h1', 19, 100), rec('h2', 15, 100), rec('h3', 12, 4500), rec('h4', 16, 0)], whole: false };
  const empty = { span: span(20, 30), records: [], whole: false };
  const sample = weighWindow([whole, held, empty]);
  t.same(['w1', 'w2'].map((id) => sample.weight(whole.records.find((r) => r.id === id)!)), [1, 1], 'read whole: each record itself');
  // The 4.9 s from 15.1 s to 20 s stand for the 10 s sub-window; h2 and the long h3 started before, as did calls not read.
  const w = 10 / 4.9;
  t.same(held.records.map((r) => Math.round(sample.weight(r) * 1e6) / 1e6), [w, 0, 0, w].map((x) => Math.round(x * 1e6) / 1e6));
  t.equal(sample.scaled, 1);
  t.equal(sample.unread, 1, 'a sub-window of which nothing could be read');
  t.equal(Math.round(sample.covered * 1000) / 1000, Math.round(((10 + 4.9) / 30) * 1000) / 1000, 'the share of the time whose calls were all read');
  // Calls longer than the sub-window: every record read ended after it; kept from the earliest start.
  const long = weighWindow([{ span: span(0, 1), records: [rec('l1', 0.5, 5000), rec('l2', 0.75, 5000)], whole: false }]);
  t.equal(long.weight(rec('l1', 0.5, 5000)), 2);
  t.equal(long.weight(rec('l2', 0.75, 5000)), 2);
  t.equal(weighWindow([whole]).covered, 1);
});

void t.test('parseInstant and rfc3339Ns', async (t) => {
  const now = 1_800_000_000_000_000_000n;
  t.same(parseInstant('2025-11-24T16:00:00.123456789Z', now), { ok: true, ns: 1_764_000_000_123_456_789n });
  t.same(parseInstant('2025-11-24T17:00:00+01:00', now), { ok: true, ns: 1_764_000_000_000_000_000n });
  t.same(parseInstant('now', now), { ok: true, ns: now });
  t.same(parseInstant('90m', now), { ok: true, ns: now - 5_400_000_000_000n });
  for (const bad of ['2025-11-24T16:00:00', 'yesterday', '2025-13-40T00:00:00Z', '']) t.equal(parseInstant(bad, now).ok, false, JSON.stringify(bad));
  t.equal(rfc3339Ns(T0_NS + 1_000_000_007n), '2025-11-24T16:00:01.000000007Z');
  t.equal(combineFilter(undefined), undefined);
  t.equal(combineFilter('  ', 'start < x'), 'start < x');
  t.equal(combineFilter('http', 'start < x'), '(\nhttp\n) && start < x');
  t.equal(routeWithQuery('/api/calls', { filter: 'a == "b"', limit: 5, since: undefined }), '/api/calls?filter=a+%3D%3D+%22b%22&limit=5');
  t.equal(routeWithQuery('/api/servicemap', {}), '/api/servicemap');
});

void t.test('the tool layer on its own: bad arguments and an unreachable collector are tool errors', async (t) => {
  const api = createHttpApiClient({ baseUrl: new URL('http://127.0.0.1:9/'), authorization: undefined, fetch: async () => Promise.reject(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } })) });
  const search = MCP_TOOLS[0];
  const ctx = { api, now: () => T0_NS };
  const unreachable = await search.call({ filter: 'http' }, ctx);
  t.equal(unreachable.isError, true);
  t.match(unreachable.content[0].text, /cannot reach the collector at http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
  const noFilter = await search.call({}, ctx);
  t.equal(noFilter.isError, true);
  t.match(noFilter.content[0].text, /invalid arguments: filter/);
  const notJson = createHttpApiClient({ baseUrl: new URL('http://127.0.0.1:9/prefix'), authorization: 'Bearer x', fetch: async (url, init) => {
    t.equal(String(url), 'http://127.0.0.1:9/prefix/api/calls?filter=http&limit=20&view=call', 'a path prefix is kept');
    t.equal((init?.headers as Record<string, string>).authorization, 'Bearer x');
    return new Response('<html>proxy error</html>', { status: 502 });
  } });
  const proxied = await search.call({ filter: 'http' }, { api: notJson, now: () => T0_NS });
  t.equal(proxied.isError, true);
  t.match(proxied.content[0].text, /the collector answered 502: the collector answered 502 with a body that is not JSON/);
});

void t.test('/mcp reads the API with the caller\'s own token: a namespace-limited viewer sees only its calls', async (t) => {
  const viewer: Viewer = { name: 'shop-viewer', all: false, prepare: async () => {}, sees: (s, d) => s === 'shop' || d === 'shop' };
  const access: AccessControl = { mode: 'kubernetes', authenticate: async (token) => (token === 'shop' ? { ok: true, viewer } : { ok: false, status: 401, message: 'no' }) };
  const store = createMemoryStore({ maxRecords: 1000 });
  await store.add([
    callRecord({ id: 'mine', at: 1, method: 'GET', path: '/a', status: 200, src: { namespace: 'shop', workload: 'web' }, dst: { namespace: 'shop', workload: 'api' }, traceId: 'T' }),
    callRecord({ id: 'theirs', at: 2, method: 'GET', path: '/b', status: 500, src: { namespace: 'ops', workload: 'cron' }, dst: { namespace: 'ops', workload: 'db' }, traceId: 'T' }),
  ]);
  const app = buildHttpApp({ store, access, bindHost: '127.0.0.1', metrics: createCollectorMetrics(() => store.count()), log: createSinkLogger(() => {}) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  const client = new Client({ name: 'meshtap-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { authorization: 'Bearer shop' } } }));
  t.teardown(() => client.close());
  const text = (r: unknown) => (r as { content: { text: string }[] }).content[0].text;
  const found = JSON.parse(text(await client.callTool({ name: 'search_calls', arguments: { filter: 'true' } }))) as { calls: { id: string }[] };
  t.same(
    found.calls.map((c) => c.id),
    ['mine'],
  );
  const hidden = (await client.callTool({ name: 'get_call', arguments: { id: 'theirs' } })) as { isError?: boolean };
  t.equal(hidden.isError, true, 'another namespace\'s call does not exist for this viewer');
  const trace = JSON.parse(text(await client.callTool({ name: 'get_trace', arguments: { trace_id: 'T' } }))) as { spans: { id: string }[] };
  t.same(
    trace.spans.map((s) => s.id),
    ['mine'],
  );
  const edges = JSON.parse(text(await client.callTool({ name: 'edge_summary', arguments: {} }))) as { edges: { edge: string }[] };
  t.same(
    edges.edges.map((e) => e.edge),
    ['shop/web → shop/api'],
  );

  // A session cookie does not open /mcp: only a bearer token does.
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: 'meshtap_session=whatever' }, body: '{}' });
  t.equal(res.status, 401);
  // The loopback Host check applies to /mcp as to the API.
  const rebinding = await app.inject({ method: 'POST', url: '/mcp', headers: { host: 'evil.example', authorization: 'Bearer shop', 'content-type': 'application/json' }, payload: '{}' });
  t.equal(rebinding.statusCode, 403);
});

void t.test('meshtap mcp --help and usage errors', async (t) => {
  const node = `${repo}node_modules/.bin/node`;
  const help = spawnSync(node, ['bin/meshtap.ts', 'mcp', '--help'], { cwd: repo, encoding: 'utf8' });
  t.equal(help.status, 0);
  t.match(help.stdout, /usage: meshtap mcp.*search_calls, get_call, service_map, get_trace, edge_summary, what_changed.*--collector URL.*--token TOKEN/s);
  const badUrl = spawnSync(node, ['bin/meshtap.ts', 'mcp', '--collector', 'ftp://x'], { cwd: repo, encoding: 'utf8', input: '' });
  t.equal(badUrl.status, 2);
  t.match(badUrl.stderr, /--collector must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/);
  const unknown = spawnSync(node, ['bin/meshtap.ts', 'mcp', '--bogus'], { cwd: repo, encoding: 'utf8', input: '' });
  t.equal(unknown.status, 2);
  const list = spawnSync(node, ['bin/meshtap.ts', '--help'], { cwd: repo, encoding: 'utf8' });
  t.match(list.stdout, /\n {2}mcp +serve meshtap's tools to an AI agent/);
  // stdin closed at once: the server ends cleanly.
  const closed = spawnSync(node, ['bin/meshtap.ts', 'mcp', '--collector', 'http://127.0.0.1:9', '--token', 'x'], { cwd: repo, encoding: 'utf8', input: '', timeout: 20_000 });
  t.equal(closed.status, 0, 'exit 0 when the client closes stdin');
  t.equal(closed.stdout, '', 'nothing but protocol on stdout');
  t.match(closed.stderr, /meshtap mcp: serving 7 tools over stdio for the collector at http:\/\/127\.0\.0\.1:9\//);
});

const DECLINED = '{"ok":false,"reason":"card declined"}';

void t.test('search_calls returns calls: a meshed call once with both views, a retry chain with its attempts; get_call takes a record or a call id', async (t) => {
  const store = createMemoryStore({ maxRecords: 1000 });
  const retries = createRetryTracker();
  const ends = { src: { namespace: 'shop', workload: 'web', pod: 'web-5d8f-abcde' }, dst: { namespace: 'shop', workload: 'pay', pod: 'pay-0' } };
  const pair = (conn: string, at: number, status: number) => [
    callRecord({ id: `${conn}-o0`, observer: 'outbound', connectionId: conn, ordinal: 0, mesh: true, at, elapsedMs: 20, method: 'POST', path: '/charge?currency=eur', status, responseBody: DECLINED, ...ends }),
    callRecord({ id: `${conn}-i0`, observer: 'inbound', connectionId: conn, ordinal: 0, mesh: true, at: at + 1, elapsedMs: 15, method: 'POST', path: '/charge?currency=eur', status, responseBody: DECLINED, src: { ip: '127.0.0.6', namespace: 'shop' }, dst: ends.dst }),
  ];
  await store.add([...pair('a', 0, 503), ...pair('b', 1000, 503), ...pair('c', 2000, 200)].map((r) => retries.mark(r)));
  const app = buildHttpApp({ store, access: { mode: 'none', authenticate: async () => ({ ok: true, viewer: { name: 'all', all: true, prepare: async () => {}, sees: () => true } }) }, metrics: createCollectorMetrics(() => store.count()), log: createSinkLogger(() => {}) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const client = new Client({ name: 'meshtap-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`)));
  t.teardown(() => client.close());
  const text = (r: unknown) => (r as { content: { text: string }[] }).content[0].text;
  const found = JSON.parse(text(await client.callTool({ name: 'search_calls', arguments: { filter: 'path.startsWith("/charge")' } }))) as { count: number; calls: Record<string, unknown>[] };
  t.equal(found.count, 3, 'six records, three calls');
  t.same(found.calls[0], {
    id: 'c-o0',
    time: '2025-11-24T16:00:02.000Z',
    protocol: 'http',
    seen_by: 'both',
    method: 'POST',
    path: '/charge?currency=eur',
    status: 200,
    latency_ms: 20,
    server_ms: 15,
    src: 'shop/web',
    src_pod: 'web-5d8f-abcde',
    dst: 'shop/pay',
    dst_pod: 'pay-0',
    attempt: 3,
    first_attempt_id: 'a-o0',
  });
  t.same(found.calls.map((c) => c.attempt), [3, 2, 1]);
  // A filter on the callee's record alone still returns the whole call.
  const inbound = JSON.parse(text(await client.callTool({ name: 'search_calls', arguments: { filter: 'observer == "inbound" && retry', limit: 1 } }))) as { calls: Record<string, unknown>[]; note?: string };
  t.match(inbound.calls, [{ id: 'c-o0', seen_by: 'both', latency_ms: 20 }]);
  t.match(inbound.note, /limit of 1 reached/);

  // get_call: a record id answers the record, a call id the joined call, each body cut alike.
  const record = JSON.parse(text(await client.callTool({ name: 'get_call', arguments: { id: 'c-o0', max_body_chars: 5 } })));
  t.match(record, { summary: { id: 'c-o0', observer: 'outbound', status: 200 }, call: { id: 'c-o0', observer: 'outbound', response: { body: { text: '{"ok"' } } } });
  t.same(record.notes, [`response.body: first 5 of ${DECLINED.length} characters shown (raise max_body_chars for more)`]);
  const call = JSON.parse(text(await client.callTool({ name: 'get_call', arguments: { id: 'c:0', max_body_chars: 5 } })));
  t.same(call.summary, { ...found.calls[0], id: 'c:0' }, 'the short form search_calls gives, under the call id');
  t.match(call.call, { id: 'c:0', client: { id: 'c-o0', response: { body: { text: '{"ok"' } } }, server: { id: 'c-i0', response: { body: { text: '{"ok"' } } }, latency: { client_us: 20_000, server_us: 15_000 } });
  t.same(call.notes, [
    `client.response.body: first 5 of ${DECLINED.length} characters shown (raise max_body_chars for more)`,
    `server.response.body: first 5 of ${DECLINED.length} characters shown (raise max_body_chars for more)`,
  ]);
  const missing = (await client.callTool({ name: 'get_call', arguments: { id: 'z:0' } })) as { isError?: boolean; content: { text: string }[] };
  t.equal(missing.isError, true);
  t.match(missing.content[0].text, /no call with id "z:0": looked for its records "z-o0" \(the client's\) and "z-i0" \(the server's\), found neither/);
  const { tools } = await client.listTools();
  t.match(tools.find((x) => x.name === 'get_call')?.description, /record id .* call id/s, 'get_call says it takes either id');
});

void t.test('get_trace: link_confidence on each span the sidecar linked by timing; a trace id in any case', async (t) => {
  const getTrace = MCP_TOOLS.find((x) => x.name === 'get_trace')!;
  t.match(getTrace.description, /link_confidence.*1 = one inbound request was in flight.*1\/n.*n requests overlapped.*a guess/s, 'the description says what the confidence means');
  const TRACE = 'ab56'.repeat(8);
  const viewer: Viewer = { name: 'all', all: true, prepare: async () => {}, sees: () => true };
  const access: AccessControl = { mode: 'token', authenticate: async () => ({ ok: true, viewer }) };
  const store = createMemoryStore({ maxRecords: 1000 });
  const pod = { ip: '10.244.0.8', pod: 'gw-1', namespace: 'shop', workload: 'gw' };
  await store.add([
    callRecord({ id: 'w-in', observer: 'inbound', at: 0, elapsedMs: 10, traceId: TRACE, spanId: 'dddd000000000004', dst: pod }),
    { ...callRecord({ id: 'w-out', at: 2, elapsedMs: 3, traceId: TRACE, parentSpanId: 'dddd000000000004', src: pod }), link_confidence: 1 / 3 },
  ]);
  const app = buildHttpApp({ store, access, metrics: createCollectorMetrics(() => store.count()), log: createSinkLogger(() => {}) });
  t.teardown(() => app.close());
  const asked: string[] = [];
  const api = createHttpApiClient({
    baseUrl: new URL('http://collector.test/'),
    authorization: 'Bearer x',
    fetch: async (url) => {
      asked.push(new URL(String(url)).pathname);
      const res = await app.inject({ method: 'GET', url: new URL(String(url)).pathname, headers: { authorization: 'Bearer x' } });
      return new Response(res.body, { status: res.statusCode, headers: { 'content-type': 'application/json' } });
    },
  });
  const ctx = { api, now: () => T0_NS };
  const upper = await getTrace.call({ trace_id: TRACE.toUpperCase() }, ctx);
  t.notOk(upper.isError, 'an upper-case trace id is found');
  t.equal(asked[0], `/api/traces/${TRACE}`, 'asked for in lower case');
  const spans = (JSON.parse(upper.content[0].text) as { spans: { id: string; parent_id?: string; link_confidence?: number }[] }).spans;
  t.same(
    spans.map((s) => [s.id, s.parent_id ?? null, s.link_confidence ?? null]),
    [
      ['w-in', null, null],
      ['w-out', 'w-in', 1 / 3],
    ],
    'the guess is on the span',
  );
  const notHex = await getTrace.call({ trace_id: 'NOT-A-TRACE' }, ctx);
  t.equal(notHex.isError, true);
  t.equal(asked[1], '/api/traces/NOT-A-TRACE', 'an id that is not 32 hex digits is passed as given');
  t.match(notHex.content[0].text, /32 lower-case hexadecimal digits/);

  // A collector whose trace entries do not carry it: taken from the record.
  const older = createHttpApiClient({
    baseUrl: new URL('http://collector.test/'),
    authorization: undefined,
    fetch: async () => {
      const res = await app.inject({ method: 'GET', url: `/api/traces/${TRACE}`, headers: { authorization: 'Bearer x' } });
      const body = res.json() as { calls: Record<string, unknown>[] };
      for (const e of body.calls) delete e.link_confidence;
      return new Response(JSON.stringify(body), { status: 200 });
    },
  });
  const fromRecord = JSON.parse((await getTrace.call({ trace_id: TRACE }, { api: older, now: () => T0_NS })).content[0].text) as { spans: { id: string; link_confidence?: number }[] };
  t.same(fromRecord.spans.map((s) => s.link_confidence ?? null), [null, 1 / 3]);
});
