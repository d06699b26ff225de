import t from 'tap';
import { recordToJson } from '../../record/record-json.ts';
import { buildTapFilter, createSseParser, describeFilterError } from '../../collector/tap/cli.ts';
import { endpointName, formatCallLine, formatJoinedCallLine, formatLatency, formatObservationLine, formatTime } from '../../collector/tap/format.ts';
import { callRecord } from './helpers.ts';

void t.test('formatCallLine', async (t) => {
  const r = recordToJson(callRecord({ id: 'x', at: 1234.5, src: { workload: 'frontend', namespace: 'shop' }, dst: { service: 'payment', namespace: 'shop' }, method: 'GET', path: '/a', status: 404, elapsedMs: 3 }));
  t.equal(formatCallLine(r, { color: false }), '16:00:01.234  shop/frontend → shop/payment  GET /a  404  3.00ms');
  t.equal(formatCallLine(r, { color: true }), '\u001b[2m16:00:01.234\u001b[0m  shop/frontend → shop/payment  GET /a  \u001b[33m404\u001b[0m  3.00ms');
  const ok = recordToJson(callRecord({ id: 'y', status: 200, method: 'GET', path: '/' }));
  t.match(formatCallLine(ok, { color: true }), /\u001b\[32m200\u001b\[0m/, '2xx green');
  const err = recordToJson(callRecord({ id: 'z', status: 502, method: 'GET', path: '/' }));
  t.match(formatCallLine(err, { color: true }), /\u001b\[31m502\u001b\[0m/, '5xx red');
  const grpc = recordToJson(callRecord({ id: 'g', protocol: 'grpc', method: 'POST', path: '/pkg.Svc/Do', status: 200, grpcStatus: 14 }));
  t.match(formatCallLine(grpc, { color: true }), /\u001b\[31m200 UNAVAILABLE\u001b\[0m/, 'gRPC failure red, by its code name');
  const hostile = recordToJson(callRecord({ id: 'h', method: 'GET', path: '/a\u001b[2J\nb', status: 200 }));
  t.match(formatCallLine(hostile, { color: false }), /GET \/a\\x1b\[2J\\x0ab/, 'control characters escaped');
  t.equal(endpointName({ ip: 'fd00::1', port: 80 }), '[fd00::1]:80');
  t.equal(endpointName({ ip: '10.0.0.1', port: 80, pod: 'p', namespace: 'n' }), 'n/p');
  t.equal(formatLatency(999), '999µs');
  t.equal(formatLatency(15_500), '15.5ms');
  t.equal(formatLatency(2_345_678), '2.35s');
  t.equal(formatTime('nope'), '--:--:--.---');
});

void t.test('filter building and error positions', async (t) => {
  t.same(buildTapFilter(undefined, 'http'), { source: 'http', userOffset: 0 });
  t.same(buildTapFilter('shop', undefined), { source: '(src.namespace == "shop" || dst.namespace == "shop")', userOffset: 0 });
  const both = buildTapFilter('shop', 'a\nb');
  t.equal(both.source, '(src.namespace == "shop" || dst.namespace == "shop") && (a\nb\n)');
  const msg = describeFilterError({ code: 'C', message: 'bad at line 2, column 1', position: { offset: both.userOffset + 2, line: 2, column: 1 } }, 'a\nb', both.userOffset);
  t.equal(msg, 'meshtap tap: the collector rejected the filter (C): bad at line 2, column 1\n  b\n  ^\n');
  const first = describeFilterError({ code: 'C', message: 'bad at line 1, column 60', position: { offset: both.userOffset + 1, line: 1, column: 60 } }, 'ab', both.userOffset);
  t.match(first, /at line 1, column 2\n {2}ab\n {3}\^/);
});

void t.test('SSE parsing across chunk boundaries', async (t) => {
  const events: { event: string; data: string }[] = [];
  const feed = createSseParser((e) => events.push(e));
  const text = ': open\n\nevent: call\nid: 1\ndata: {"a":1}\n\n: heartbeat\n\nevent: dropped\r\ndata: {"count":3}\r\n\r\n';
  for (let i = 0; i < text.length; i += 5) feed(text.slice(i, i + 5));
  t.same(events, [
    { event: 'call', data: '{"a":1}' },
    { event: 'dropped', data: '{"count":3}' },
  ]);
});

void t.test('protocol details: Redis reply, SQL and rows, gRPC messages, WebSocket direction', async (t) => {
  const msg = (text: string, headers: Record<string, string> = {}) => ({ headers, body: Buffer.from(text), body_size: text.length, truncated: false });
  const base = callRecord({ id: 'p', method: 'GET', path: 'cart:42' });
  const redis = recordToJson({ ...base, protocol: 'redis', status_code: undefined, request: msg('GET cart:42'), response: msg('"tea"') });
  t.match(formatCallLine(redis, { color: false }), /GET cart:42  → "tea"  -  /);
  const sql = recordToJson({
    ...base,
    protocol: 'postgres',
    method: 'SELECT',
    path: 'shop',
    status_code: undefined,
    request: msg(JSON.stringify({ query: 'SELECT id,\n  name FROM items', parameters: [] })),
    response: msg('{}', { rows: '3', tag: 'SELECT 3' }),
  });
  t.match(formatCallLine(sql, { color: false }), /SELECT shop  SELECT id, name FROM items  3 rows/);
  const grpc = recordToJson({ ...base, protocol: 'grpc', method: 'POST', path: '/shop.Inventory/Reserve', status_code: 200, grpc_status: 0, request: msg('{"messages":[{"size":3}]}'), response: msg('{"messages":[{"size":1},{"size":2},{"size":3}]}') });
  t.match(formatCallLine(grpc, { color: false }), /POST \/shop\.Inventory\/Reserve  1→3 msgs  200 OK/);
  const ws = recordToJson({ ...base, protocol: 'ws', method: 'TEXT', path: '/feed', status_code: undefined, response: msg('order 7 shipped\nsecond line') });
  t.match(formatCallLine(ws, { color: false }), /TEXT \/feed  ← "order 7 shipped…"/);
  const http = recordToJson(base);
  t.notMatch(formatCallLine(http, { color: false }), /→ "/, 'HTTP lines are unchanged');
});

void t.test('who ended a failed call: the client giving up, a reset and its sender', async (t) => {
  const base = callRecord({ id: 'e', method: 'GET', path: '/slow' });
  const gaveUp = recordToJson({ ...base, status_code: undefined, error: 'client_timeout', connection: { exchanges: 1, half_closed_by: 'client' } });
  t.match(formatCallLine(gaveUp, { color: false }), /GET \/slow  error=client_timeout \(client gave up\)  /);
  const reset = recordToJson({ ...base, status_code: undefined, error: 'reset', connection: { exchanges: 2, reset_by: 'server' } });
  t.match(formatCallLine(reset, { color: false }), /error=reset \(reset by server\)  /);
  const plain = recordToJson({ ...base, status_code: undefined, error: 'reset' });
  t.match(formatCallLine(plain, { color: false }), /error=reset  /, 'no sender known: nothing added');
  const fine = recordToJson({ ...base, status_code: 200, connection: { exchanges: 1, reset_by: 'client' } });
  t.notMatch(formatCallLine(fine, { color: false }), /reset by/, 'a call that completed shows no cause');
});

void t.test('--observations: each record says which sidecar observed it; the per-call line does not', async (t) => {
  const spec = { connectionId: 'c1', ordinal: 0, mesh: true, at: 1234.5, method: 'GET', path: '/a', status: 200, src: { workload: 'frontend', namespace: 'shop' }, dst: { workload: 'payment', namespace: 'shop' } } as const;
  const out = recordToJson(callRecord({ ...spec, id: 'o', observer: 'outbound', elapsedMs: 3 }));
  const inb = recordToJson(callRecord({ ...spec, id: 'i', observer: 'inbound', elapsedMs: 2 }));
  t.equal(formatObservationLine(out, { color: false }), '16:00:01.234  client  shop/frontend → shop/payment  GET /a  200  3.00ms');
  t.equal(formatObservationLine(inb, { color: false }), '16:00:01.234  server  shop/frontend → shop/payment  GET /a  200  2.00ms');
  t.equal(
    formatObservationLine(out, { color: true }),
    '\u001b[2m16:00:01.234\u001b[0m  client  shop/frontend → shop/payment  GET /a  \u001b[32m200\u001b[0m  3.00ms',
    'the marker is plain text: the status keeps its colour, nothing else is painted',
  );
  const dns = recordToJson({ ...callRecord({ ...spec, id: 'd', observer: 'outbound' }), protocol: 'dns', method: 'A', path: 'x.example', status_code: undefined });
  t.match(formatObservationLine(dns, { color: false }), /^16:00:01\.234  client  shop\/frontend → shop\/payment  A x\.example /, 'DNS lines too');
  t.equal(formatCallLine(out, { color: false }), '16:00:01.234  shop/frontend → shop/payment  GET /a  200  3.00ms', 'a record alone: no marker');
  const joined = formatJoinedCallLine({ client: out, server: inb, src: out.src, dst: inb.dst, latency: { client_us: 3000, server_us: 2000 } }, { color: false });
  t.equal(joined, '16:00:01.234  shop/frontend → shop/payment  GET /a  200  3.00ms (server 2.00ms)', 'one line per call: unchanged');
});
