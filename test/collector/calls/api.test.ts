/** `GET /api/calls?view=call` and `GET /api/har` over real HTTP, behind token auth; visibility through a namespace-limited viewer. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startCollector, type RunningCollector } from '../../../collector/collector.ts';
import { resolveCollectorOptions } from '../../../collector/config.ts';
import { buildHttpApp } from '../../../collector/http-server.ts';
import { createMemoryStore } from '../../../collector/memory-store.ts';
import { createCollectorMetrics } from '../../../collector/metrics.ts';
import type { AccessControl, Viewer } from '../../../collector/auth/access.ts';
import { createSinkLogger } from '../../../lib/log.ts';
import { recordToJson } from '../../../record/record-json.ts';
import type { CallRecord } from '../../../record/record.ts';
import { callRecord, type CallSpec } from '../helpers.ts';
import { checkSchema, type Schema } from './schema-check.ts';

const TOKEN = 'calls-token-aaaaaaaaaaaaaaaaaaaa';
const HAR_SCHEMA = JSON.parse(readFileSync(new URL('har-schema.json', import.meta.url), 'utf8')) as Schema;

async function start(t: Test, store: 'memory' | 'sqlite'): Promise<RunningCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-calls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  const c = await startCollector(resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store, auth: 'token', authTokenFile: join(dir, 'tokens') }), {
    log: createSinkLogger(() => {}),
  });
  t.teardown(() => c.close({ force: true }));
  return c;
}

async function get(c: RunningCollector, path: string, token: string | null = TOKEN): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`http://127.0.0.1:${c.httpPort}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const q = (filter: string): string => `filter=${encodeURIComponent(filter)}`;

/** Both sides of a meshed exchange, as the two sidecars record it. */
function meshed(conn: string, ordinal: number, at: number, spec: Partial<CallSpec> = {}): [CallRecord, CallRecord] {
  const common = { connectionId: conn, ordinal, mesh: true, method: 'POST', path: `/pay?order=${ordinal}&x=a%20b`, status: 201, ...spec };
  return [
    callRecord({ ...common, id: `${conn}-o${ordinal}`, observer: 'outbound', at, elapsedMs: 12, src: { workload: 'frontend', namespace: 'shop', pod: 'frontend-1' }, dst: { service: 'payment', namespace: 'shop' } }),
    callRecord({ ...common, id: `${conn}-i${ordinal}`, observer: 'inbound', at: at + 1, elapsedMs: 9, src: { ip: '10.244.0.5', namespace: 'shop' }, dst: { workload: 'payment', namespace: 'shop', pod: 'payment-0', ip: '10.244.0.9' } }),
  ];
}

/** A varied store: meshed pairs (arriving in either order, one of them late), one-sided calls, and non-HTTP. */
function dataset(): CallRecord[] {
  const [a1, a2] = meshed('ca', 0, 0, { requestBody: '{"card":"****"}', responseBody: '{"ok":true}' });
  const [b1, b2] = meshed('cb', 0, 10, { path: '/refund', status: 503 });
  const [c1, c2] = meshed('cb', 1, 20, { path: '/refund', status: 200 });
  const unmeshedIn = callRecord({ id: 'cu-i0', connectionId: 'cu', observer: 'inbound', at: 30, method: 'GET', path: '/health', status: 200, src: { ip: '10.9.8.7' }, dst: { workload: 'payment', namespace: 'shop' } });
  const unmeshedOut = callRecord({ id: 'cx-o0', connectionId: 'cx', observer: 'outbound', at: 40, method: 'GET', path: '/ext', status: 200, src: { workload: 'frontend', namespace: 'shop' }, dst: { ip: '93.184.216.34', port: 443 } });
  const redis = callRecord({ id: 'cr-o0', connectionId: 'cr', protocol: 'redis', at: 50, method: 'GET', src: { workload: 'frontend', namespace: 'shop' } });
  // Arrival order: b's server side first, a's client side much later than its server side.
  return [b2, a2, b1, c1, c2, unmeshedIn, unmeshedOut, redis, a1];
}

for (const kind of ['memory', 'sqlite'] as const) {
  void t.test(`GET /api/calls?view=call (${kind} store)`, async (t) => {
    const c = await start(t, kind);
    const data = dataset();
    await c.store.add(data);
    const byId = new Map(data.map((r) => [r.id, recordToJson(r)]));

    const all = await get(c, '/api/calls?view=call');
    t.equal(all.status, 200);
    const calls = all.body.calls as any[];
    t.same(
      calls.map((x) => [x.id, x.client?.id ?? null, x.server?.id ?? null, x.one_sided ?? null]),
      [
        ['ca:0', 'ca-o0', 'ca-i0', null],
        ['cr:0', 'cr-o0', null, 'client'],
        ['cx:0', 'cx-o0', null, 'client'],
        ['cu:0', null, 'cu-i0', 'server'],
        ['cb:1', 'cb-o1', 'cb-i1', null],
        ['cb:0', 'cb-o0', 'cb-i0', null],
      ],
      'one item per call, newest (latest arrival) first, both sides of every meshed call',
    );
    const ca = calls[0];
    t.same(ca.client, byId.get('ca-o0'), 'the client observation is the full record, as /api/calls serves it');
    t.same(ca.server, byId.get('ca-i0'), 'the server observation too');
    t.same(ca.src, byId.get('ca-o0')!.src, 'caller from the client');
    t.same(ca.dst, byId.get('ca-i0')!.dst, 'callee from the server: its pod');
    t.same(ca.latency, { client_us: 12_000, server_us: 9_000, network_us: 3_000 });
    t.match(ca, { method: 'POST', status_code: 201, protocol: 'http', start: byId.get('ca-o0')!.start });

    const limited = await get(c, '/api/calls?view=call&limit=2');
    t.same(limited.body.calls.map((x: any) => x.id), ['ca:0', 'cr:0'], 'limit counts calls, not records');

    // The filter matches one observation: the call comes with both, the other looked up by id.
    const server = await get(c, `/api/calls?view=call&${q('observer == "inbound" && status_code >= 500')}`);
    t.same(server.body.calls.map((x: any) => [x.id, x.client?.id, x.server?.id]), [['cb:0', 'cb-o0', 'cb-i0']]);
    const client = await get(c, `/api/calls?view=call&${q('src.workload == "frontend" && http')}`);
    t.same(client.body.calls.map((x: any) => x.id), ['ca:0', 'cx:0', 'cb:1', 'cb:0']);
    t.ok(client.body.calls.every((x: any) => x.id === 'cx:0' || x.server !== undefined), 'partners filled in');

    // /api/calls without view is unchanged: records.
    const records = await get(c, '/api/calls');
    t.same(records.body.calls, [...data].reverse().map(recordToJson));
    t.same((await get(c, '/api/calls?view=record&limit=1')).body.calls, [recordToJson(data.at(-1)!)]);

    // A call id from view=call answers that call, as view=call lists it; a record id its record, as before.
    for (const listed of calls) {
      const one = await get(c, `/api/calls/${encodeURIComponent(listed.id)}`);
      t.equal(one.status, 200, listed.id);
      t.same(one.body, { call: listed }, `${listed.id}: the call view=call lists`);
    }
    for (const r of data) t.same((await get(c, `/api/calls/${r.id}`)).body, { call: recordToJson(r) }, `${r.id}: the record`);
    t.same((await get(c, '/api/calls/cb-i0?view=call')).body, { call: calls.find((x) => x.id === 'cb:0') }, 'view=call with a record id: the call it belongs to');
    t.same((await get(c, '/api/calls/cu-i0?view=call')).body.call.one_sided, 'server');
    t.same((await get(c, '/api/calls/ca-o0?view=record')).body, { call: byId.get('ca-o0') });
    const gone = await get(c, '/api/calls/cz:7');
    t.equal(gone.status, 404);
    t.same(gone.body.error, { code: 'COL_ERR_NOT_FOUND', message: 'no call with id "cz:7": looked for its records "cz-o7" (the client\'s) and "cz-i7" (the server\'s), found neither' });
    const neither = await get(c, '/api/calls/nothing-like-an-id');
    t.equal(neither.status, 404);
    t.match(neither.body.error.message, /^no call with id "nothing-like-an-id": an id is a record id \(<connection id>-o<n> for the client's observation, <connection id>-i<n> for the server's\) or a call id \(<connection id>:<n>, as view=call gives it\)$/);
    t.equal((await get(c, '/api/calls/cz-o7')).body.error.message, 'no call with id "cz-o7"', 'a missing record id: as before');
    const asRecord = await get(c, '/api/calls/ca:0?view=record');
    t.equal(asRecord.status, 400);
    t.equal(asRecord.body.error.message, 'view=record takes a record id: "ca:0" is a call id (its records are "ca-o0" and "ca-i0")');
    t.equal((await get(c, '/api/calls/ca:0?view=calls')).status, 400);
    t.equal((await get(c, '/api/calls/ca:0', null)).status, 401, 'a call id: the same authentication');

    const bad = await get(c, '/api/calls?view=calls');
    t.equal(bad.status, 400);
    t.equal(bad.body.error.code, 'COL_ERR_BAD_QUERY');
    const badFilter = await get(c, `/api/calls?view=call&${q('status_code >= ')}`);
    t.equal(badFilter.status, 400);
    t.equal(badFilter.body.error.code, 'COL_ERR_FILTER_SYNTAX');
    t.equal((await get(c, '/api/calls?view=call&limit=0')).status, 400);
    t.equal((await get(c, '/api/calls?view=call', null)).status, 401, 'no token: 401');
    t.equal((await get(c, '/api/calls?view=call', 'wrong-token-aaaaaaaaaaaaaaaaaaaaa')).status, 401, 'wrong token: 401');
  });
}

void t.test('GET /api/har: HAR 1.2, one entry per HTTP call, bodies as captured, a download', async (t) => {
  const c = await start(t, 'sqlite');
  const data = dataset();
  // A binary response and a truncated one.
  const [bin] = meshed('cz', 0, 60);
  bin.response = { headers: { 'content-type': 'application/octet-stream', 'set-cookie': 'a=1\nb=2' }, body: new Uint8Array([0xff, 0x00, 0xfe, 0x80]), body_size: 4, truncated: false };
  bin.request = { headers: { host: 'payment.shop:8080' }, body: new Uint8Array([0xc3, 0x28]), body_size: 900, truncated: true };
  bin.request_end = bin.start + 2_000_000n;
  bin.response_start = bin.start + 10_000_000n;
  // A gRPC call whose messages the sidecar decoded: JSON text, longer than the wire body.
  const grpc = callRecord({ id: 'cg-o0', connectionId: 'cg', protocol: 'grpc', at: 55, method: 'POST', path: '/shop.Inventory/Reserve', status: 200, grpcStatus: 0, requestBody: '{"messages":[{"size":9,"message":{"1":"sku-5","2":3}}]}', responseBody: '{"messages":[]}' });
  grpc.request!.headers = { 'content-type': 'application/grpc' };
  grpc.request!.body_size = 14;
  grpc.response!.headers = { 'content-type': 'application/grpc' };
  grpc.response!.body_size = 0;
  await c.store.add([...data, bin, grpc]);

  const res = await fetch(`http://127.0.0.1:${c.httpPort}/api/har`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.equal(res.headers.get('content-disposition'), 'attachment; filename="meshtap.har"');
  const har = (await res.json()) as any;
  t.same(checkSchema(HAR_SCHEMA, har), [], 'valid against the HAR 1.2 schema');
  t.equal(har.log.version, '1.2');
  t.same(har.log.creator, { name: 'meshtap', version: JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version });
  const entries = har.log.entries as any[];
  t.same(
    entries.map((e) => e._meshtap.call_id),
    ['ca:0', 'cb:0', 'cb:1', 'cu:0', 'cx:0', 'cg:0', 'cz:0'],
    'one entry per HTTP call (the Redis call has none), oldest start first whatever the order of arrival',
  );
  const started = entries.map((e) => Date.parse(e.startedDateTime));
  t.same(started, [...started].sort((x, y) => x - y), 'startedDateTime ascending');
  t.equal(har.log.comment, 'left out 1 redis call: HAR holds HTTP, HTTP/2 and gRPC only', 'the non-HTTP calls left out are counted');
  for (const e of entries) t.equal(e.time, Math.round((e.timings.send + e.timings.wait + e.timings.receive) * 1000) / 1000, `${e._meshtap.call_id}: time is the sum of the timings`);

  const a = entries[0];
  const z = entries.at(-1);
  const g = entries.find((e) => e._meshtap.call_id === 'cg:0');
  t.match(g.request.postData, { mimeType: 'application/json', text: '{"messages":[{"size":9,"message":{"1":"sku-5","2":3}}]}', comment: /JSON decoding of the gRPC messages.*application\/grpc, 14 bytes on the wire/ }, 'decoded gRPC: JSON, the wire type in a comment');
  t.equal(g.request.bodySize, 14, 'the wire size');
  t.match(g.response.content, { size: 0, mimeType: 'application/json', text: '{"messages":[]}' });
  t.equal(z.request.url, 'http://payment.shop:8080/pay?order=0&x=a%20b', 'host header, path and query');
  t.same(z.request.queryString, [
    { name: 'order', value: '0' },
    { name: 'x', value: 'a b' },
  ]);
  t.same(z.timings, { send: 2, wait: 8, receive: 2 }, 'send to the request end, wait to the first response byte');
  t.equal(z.time, 12);
  t.equal(z.response.content.encoding, 'base64');
  t.equal(z.response.content.text, Buffer.from([0xff, 0x00, 0xfe, 0x80]).toString('base64'));
  t.equal(z.response.content.mimeType, 'application/octet-stream');
  t.same(
    z.response.headers.filter((h: any) => h.name === 'set-cookie'),
    [
      { name: 'set-cookie', value: 'a=1' },
      { name: 'set-cookie', value: 'b=2' },
    ],
    'each set-cookie on its own',
  );
  t.equal(z.request.postData._encoding, 'base64', 'binary request body');
  t.equal(z.request.bodySize, 900);
  t.match(z.comment, /request body truncated by capture \(body size 900 bytes\)/);

  t.equal(a.startedDateTime, '2025-11-24T16:00:00.000Z', 'the client\'s start');
  t.equal(a.request.method, 'POST');
  t.equal(a.request.httpVersion, 'HTTP/1.1');
  t.same(a.request.postData, { mimeType: 'application/json', text: '{"card":"****"}' }, 'a masked value stays masked');
  t.match(a.response, { status: 201, statusText: 'Created', content: { mimeType: 'application/json', text: '{"ok":true}', size: 11 }, redirectURL: '', headersSize: -1, bodySize: 11 });
  t.same(a.request.cookies, []);
  t.same(a.cache, {});
  t.match(a._meshtap, { client_record_id: 'ca-o0', server_record_id: 'ca-i0', latency: { client_us: 12_000, server_us: 9_000 } });
  t.equal(a.serverIPAddress, '10.244.0.9', 'the server pod\'s address');
  t.equal(entries[3]._meshtap.one_sided, 'server', 'an unmeshed client: the server\'s observation');

  const filtered = await get(c, `/api/har?${q('status_code >= 500')}&limit=5`);
  t.same(filtered.body.log.entries.map((e: any) => e._meshtap.call_id), ['cb:0']);
  t.same(checkSchema(HAR_SCHEMA, filtered.body), []);
  t.equal(filtered.body.log.comment, undefined, 'the filter matches no other call: nothing said');
  const onlyRedis = (await get(c, `/api/har?${q('redis')}`)).body;
  t.same(onlyRedis.log.entries, [], 'no HTTP call: an empty log');
  t.equal(onlyRedis.log.comment, 'left out 1 redis call: HAR holds HTTP, HTTP/2 and gRPC only');
  t.same(checkSchema(HAR_SCHEMA, onlyRedis), []);
  const newest = (await get(c, '/api/har?limit=1')).body;
  t.same(newest.log.entries.map((e: any) => e._meshtap.call_id), ['cg:0'], 'limit: the newest stored');
  t.equal(newest.log.comment, undefined, 'the Redis call started before the oldest entry: not one the limit left out');
  t.equal((await get(c, '/api/har?limit=3')).body.log.comment, 'left out 1 redis call: HAR holds HTTP, HTTP/2 and gRPC only', 'within the span of the entries');

  const bad = await get(c, `/api/har?${q('http && dst.wrkload == "x"')}`);
  t.equal(bad.status, 400);
  t.equal(bad.body.error.code, 'COL_ERR_FILTER_UNDECLARED');
  t.same(bad.body.error.position, { offset: 12, line: 1, column: 13 }, 'the position is in the user\'s own filter');
  t.equal((await get(c, '/api/har?limit=x')).status, 400);
  const none = await get(c, '/api/har', null);
  t.equal(none.status, 401, 'no token: 401');
  t.equal(none.body.error.code, 'COL_ERR_UNAUTHENTICATED');
});

void t.test('the schema check can fail', async (t) => {
  const ok = { log: { version: '1.2', creator: { name: 'x', version: '1' }, entries: [] } };
  t.same(checkSchema(HAR_SCHEMA, ok), []);
  t.match(checkSchema(HAR_SCHEMA, { log: { version: '1.1', creator: { name: 'x' }, entries: [{ startedDateTime: 'yesterday', time: -1 }] } }), [
    /version: "1\.1" is not one of/,
    /creator: missing version/,
    /entries\[0\]: missing request/,
  ]);
  t.ok(checkSchema(HAR_SCHEMA, { log: { version: '1.2', creator: { name: 'x', version: '1' }, entries: [{ startedDateTime: 'yesterday' }] } }).some((e) => /not an ISO 8601/.test(e)));
});

/** A viewer that sees only calls with an end in `shop`. */
function shopOnly(): AccessControl {
  const viewer: Viewer = { name: 'shop-viewer', all: false, prepare: async () => {}, sees: (s, d) => s === 'shop' || d === 'shop' };
  return { mode: 'kubernetes', authenticate: async (token) => (token === 'shop' ? { ok: true, viewer } : { ok: false, status: 401, message: 'no' }) };
}

void t.test('a namespace-limited viewer: calls and partners it may not see are not shown', async (t) => {
  const store = createMemoryStore({ maxRecords: 1000 });
  const app = buildHttpApp({ store, access: shopOnly(), metrics: createCollectorMetrics(() => store.count()), log: createSinkLogger(() => {}) });
  t.teardown(() => app.close());
  const [o, i] = meshed('cv', 0, 0);
  // The inbound side names another namespace at both ends (as if enriched differently): not visible to this viewer.
  i.src.namespace = 'ops';
  i.dst.namespace = 'ops';
  const hidden = callRecord({ id: 'ch-o0', connectionId: 'ch', at: 5, src: { namespace: 'ops' }, dst: { namespace: 'ops' }, method: 'GET', path: '/x', status: 200 });
  await store.add([o, i, hidden]);
  const inject = async (url: string, token?: string) => {
    const res = await app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.statusCode, body: res.json() };
  };
  t.equal((await inject('/api/calls?view=call')).status, 401);
  const calls = (await inject('/api/calls?view=call', 'shop')).body.calls;
  t.same(calls.map((x: any) => [x.id, x.client?.id ?? null, x.server?.id ?? null]), [['cv:0', 'cv-o0', null]], 'the invisible call is absent, the invisible partner is not filled in');
  const har = (await inject('/api/har', 'shop')).body;
  t.same(har.log.entries.map((e: any) => e._meshtap.call_id), ['cv:0']);
  const byCallId = await inject('/api/calls/cv:0', 'shop');
  t.same(byCallId.body, { call: calls[0] }, 'a call id: only the observation the viewer may see');
  const hiddenCall = await inject('/api/calls/ch:0', 'shop');
  t.equal(hiddenCall.status, 404, 'a call of which the viewer may see nothing does not exist for them');
  t.match(hiddenCall.body.error.message, /looked for its records "ch-o0" \(the client's\) and "ch-i0" \(the server's\), found neither/);
});
