/** The dashboard's formatting helpers, run in Node as they run in the page. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const f = await loadBrowserModule('format.js');

void t.test('ns decimal strings to ms and µs differences, exact past 2^53', async (t) => {
  t.equal(f.nsToMs('1764000000123456789'), 1764000000123.456);
  t.equal(f.nsToMs(undefined), undefined);
  t.equal(f.nsToMs('12x'), undefined);
  t.equal(f.diffUs('1764000000124456789', '1764000000123456789'), 1000);
  t.equal(f.diffUs('1764000000123457289', '1764000000123456789'), 0.5, 'sub-µs kept');
  t.equal(f.diffUs(undefined, '1'), undefined);
});

void t.test('clock and timestamps', async (t) => {
  // 2025-11-24T16:00:00.123456789Z
  const ns = '1764000000123456789';
  t.equal(f.formatClock(ns, { utc: true }), '16:00:00.123');
  t.equal(f.formatClock(ns), '16:00:00.123', 'UTC unless asked for local time, as the rest of the page');
  t.equal(f.formatTimestamp(ns), '2025-11-24T16:00:00.123456Z');
  t.equal(f.formatClock(undefined), '—');
  t.equal(f.formatTimestamp('nope'), '—');
});

void t.test('durations, sizes, rates, percentages', async (t) => {
  t.equal(f.formatDuration(850), '850 µs');
  t.equal(f.formatDuration(1234), '1.23 ms');
  t.equal(f.formatDuration(12_345), '12.3 ms');
  t.equal(f.formatDuration(1_240_000), '1.24 s');
  t.equal(f.formatDuration(125_000_000), '2 m 05 s');
  t.equal(f.formatDuration(undefined), '—');
  t.equal(f.formatMs(2.5), '2.50 ms');
  t.equal(f.formatBytes(0), '0 B');
  t.equal(f.formatBytes(512), '512 B');
  t.equal(f.formatBytes(1536), '1.5 KiB');
  t.equal(f.formatBytes(48_213), '47 KiB');
  t.equal(f.formatBytes(12 * 1024 * 1024), '12 MiB');
  t.equal(f.formatBytes(-1), '—');
  t.equal(f.formatRate(0), '0/s');
  t.equal(f.formatRate(0.004), '<0.01/s');
  t.equal(f.formatRate(0.05), '0.05/s');
  t.equal(f.formatRate(2.26), '2.3/s');
  t.equal(f.formatRate(123.4), '123/s');
  t.equal(f.formatRate(1500), '1.5k/s');
  t.equal(f.formatPercent(0), '0%');
  t.equal(f.formatPercent(0.004), '0.4%');
  t.equal(f.formatPercent(0.123), '12%');
  t.equal(f.formatPercent(undefined), '—');
});

void t.test('status classes and text', async (t) => {
  t.equal(f.statusClass({ status_code: 101 }), 'info');
  t.equal(f.statusClass({ status_code: 204 }), 'ok');
  t.equal(f.statusClass({ status_code: 302 }), 'redirect');
  t.equal(f.statusClass({ status_code: 404 }), 'client-error');
  t.equal(f.statusClass({ status_code: 503 }), 'server-error');
  t.equal(f.statusClass({ protocol: 'grpc', status_code: 200, grpc_status: 14 }), 'server-error');
  t.equal(f.statusClass({ error: 'reset' }), 'failed');
  t.equal(f.statusClass({ protocol: 'tcp' }), 'none');
  t.equal(f.statusText({ status_code: 201 }), '201');
  t.equal(f.statusText({ error: 'timeout' }), 'timeout');
  t.equal(f.statusText({}), '—');
});

void t.test('status in each protocol\'s words, as meshtap tap says it', async (t) => {
  // gRPC: the HTTP status, then the gRPC status name.
  t.equal(f.statusText({ protocol: 'grpc', status_code: 200, grpc_status: 5 }), '200 NOT_FOUND');
  t.equal(f.statusText({ protocol: 'grpc', status_code: 200, grpc_status: 0 }), '200 OK');
  t.equal(f.statusText({ protocol: 'grpc', grpc_status: 14 }), 'UNAVAILABLE', 'a trailers-only answer');
  t.equal(f.statusText({ protocol: 'grpc', status_code: 200, grpc_status: 99 }), '200 99', 'a code outside the table as its number');
  t.equal(f.statusClass({ protocol: 'grpc', grpc_status: 14 }), 'server-error');
  t.equal(f.statusClass({ protocol: 'grpc', grpc_status: 0 }), 'ok');
  t.equal(f.grpcStatusName(16), 'UNAUTHENTICATED');
  // DNS: the response code; NXDOMAIN is the asker's mistake, others the server's.
  t.equal(f.statusText({ protocol: 'dns', dns_rcode: 'NXDOMAIN' }), 'NXDOMAIN');
  t.equal(f.statusClass({ protocol: 'dns', dns_rcode: 'NXDOMAIN' }), 'client-error');
  t.equal(f.statusClass({ protocol: 'dns', dns_rcode: 'SERVFAIL' }), 'server-error');
  t.equal(f.statusClass({ protocol: 'dns', dns_rcode: 'NOERROR' }), 'ok');
  t.equal(f.statusText({ protocol: 'dns', error: 'timeout' }), 'timeout', 'never answered');
  t.equal(f.statusTitle({ protocol: 'dns', dns_rcode: 'SERVFAIL' }), 'DNS SERVFAIL');
  // SQL: a failed statement's SQLSTATE; one that ran has no status.
  const failed = { protocol: 'postgres', error: 'server_error', error_detail: 'ERROR 42P01: relation "nope" does not exist', response: { headers: { severity: 'ERROR', sqlstate: '42P01', message: 'relation "nope" does not exist' } } };
  t.equal(f.statusText(failed), '42P01');
  t.equal(f.statusClass(failed), 'server-error');
  t.equal(f.statusTitle(failed), 'SQLSTATE 42P01: relation "nope" does not exist');
  t.equal(f.statusText({ protocol: 'mysql', response: { headers: { tag: 'SELECT 2' } } }), '—');
  t.equal(f.statusCode({ protocol: 'tcp', error: 'reset' }), undefined, 'no status of its own: the error shows');
});

void t.test('the whole status for a hover: the error with its detail, the gRPC status with its message', async (t) => {
  t.equal(f.statusTitle({ error: 'upstream_unreachable', error_detail: 'connect ECONNREFUSED 10.244.1.9:8080' }), 'upstream_unreachable — connect ECONNREFUSED 10.244.1.9:8080');
  t.equal(f.statusTitle({ error: 'client_timeout' }), 'client_timeout');
  t.equal(f.statusTitle({ protocol: 'grpc', status_code: 200, grpc_status: 14, grpc_message: 'no healthy upstream' }), 'gRPC status 14 UNAVAILABLE: no healthy upstream (HTTP 200)');
  t.equal(f.statusTitle({ status_code: 503 }), 'HTTP 503');
  t.equal(f.statusTitle({}), 'no status');
});

void t.test('endpoint names and edge filters', async (t) => {
  t.equal(f.endpointName({ workload: 'gateway', pod: 'gateway-1' }), 'gateway');
  t.equal(f.endpointName({ service: 'payment', ip: '10.96.0.3', port: 80 }), 'payment');
  t.equal(f.endpointName({ ip: '10.0.0.9', port: 5432 }), '10.0.0.9:5432');
  t.equal(f.endpointName(undefined), '?');
  const nodes = [
    { id: 'shop/gateway', namespace: 'shop', workload: 'gateway' },
    { id: 'shop/pay"ment', namespace: 'shop', workload: 'pay"ment' },
  ];
  t.equal(
    f.edgeFilter({ source: 'shop/gateway', target: 'shop/pay"ment' }, nodes),
    'src.namespace == "shop" && src.workload == "gateway" && dst.namespace == "shop" && dst.workload == "pay\\"ment"',
    'quotes escaped as CEL string literals',
  );
  t.equal(f.edgeFilter({ source: 'x', target: 'shop/gateway' }, nodes), 'src.workload == "x" && dst.namespace == "shop" && dst.workload == "gateway"');
  t.equal(f.errorBand(0), 'healthy');
  t.equal(f.errorBand(0.01), 'degraded');
  t.equal(f.errorBand(0.05), 'failing');
  t.equal(f.errorBand(undefined), 'idle');
});

void t.test('caret position from the API error position', async (t) => {
  t.same(f.caretAt('status_code >=', { offset: 14, line: 1, column: 15 }), { text: 'status_code >=', caret: 14, line: 1 });
  t.same(f.caretAt('http &&\n  method = "GET"', { line: 2, column: 10 }), { text: '  method = "GET"', caret: 9, line: 2 });
  t.same(f.caretAt('a\nbc', { offset: 3 }), { text: 'bc', caret: 1, line: 2 }, 'offset alone');
  t.same(f.caretAt('abc', { line: 9, column: 99 }), { text: 'abc', caret: 3, line: 1 }, 'clamped into the source');
});

void t.test('bodies: JSON pretty-printed, text kept, binary as a hex dump', async (t) => {
  t.same(f.bodyView({ text: '{"a":1,"b":[true]}' }, 'application/json'), { kind: 'json', text: '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}' });
  t.same(f.bodyView({ text: '[1]' }, undefined), { kind: 'json', text: '[\n  1\n]' }, 'by shape without a content type');
  t.same(f.bodyView({ text: '{"cut":' }, 'application/json'), { kind: 'text', text: '{"cut":' }, 'truncated JSON shown as text');
  t.same(f.bodyView({ text: 'hello' }, 'text/plain'), { kind: 'text', text: 'hello' });
  t.same(f.bodyView({ text: '' }, 'application/json'), { kind: 'empty' });
  t.same(f.bodyView(undefined, undefined), { kind: 'empty' });
  const bin = f.bodyView({ base64: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]).toString('base64') }, 'image/png');
  t.equal(bin.kind, 'binary');
  t.equal(bin.bytes, 7);
  t.equal(bin.hex, `00000000  89 50 4e 47 00 01 02${' '.repeat(27)}  |.PNG...|`);
  const long = f.hexDump(new Uint8Array(40).fill(0x41), 32);
  t.equal(long.split('\n').length, 3);
  t.match(long, /^00000010 {2}41 41/m);
  t.match(long, /… 8 more bytes$/);
});

void t.test('masked header lookup', async (t) => {
  t.ok(f.isRedactedHeader(['request.headers.authorization'], 'request', 'authorization'));
  t.notOk(f.isRedactedHeader(['request.headers.authorization'], 'response', 'authorization'));
  t.notOk(f.isRedactedHeader(undefined, 'request', 'cookie'));
});

void t.test('grpc-timeout values: digits and one unit (H, M, S, m, u, n)', async (t) => {
  t.equal(f.parseGrpcTimeout('4999m'), 4_999_000, 'm is milliseconds');
  t.equal(f.parseGrpcTimeout('2M'), 120_000_000, 'M is minutes');
  t.equal(f.parseGrpcTimeout('1H'), 3_600_000_000);
  t.equal(f.parseGrpcTimeout('3S'), 3_000_000);
  t.equal(f.parseGrpcTimeout('250u'), 250);
  t.equal(f.parseGrpcTimeout('5000n'), 5);
  for (const bad of [undefined, '', 'm', '5', '5s', '123456789m', '1.5S', '-1S']) t.equal(f.parseGrpcTimeout(bad), undefined, JSON.stringify(bad));
});
