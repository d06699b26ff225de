import { createHash } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import t from 'tap';
import { buildSpanName, createSpanMapper, hrTimeFromNs, parseAuthority, splitTarget } from '../../../collector/otel/span-mapper.ts';
import type { CallRecord } from '../../../record/record.ts';
import {
  APP_SPAN_FRONTEND,
  FRONTEND,
  GATEWAY,
  PAYMENT,
  T0,
  TRACE_A,
  TRACE_B3,
  hop,
  hopB3,
  hopFrontendGateway,
  hopGatewayPayment,
  message,
  redisCall,
} from './records.ts';

function sha(input: string, bytes: number): string {
  return createHash('sha256').update(input).digest('hex').slice(0, bytes * 2);
}

/** A span as plain data, for whole-object comparison. */
function plain(span: ReadableSpan) {
  const ctx = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceFlags: ctx.traceFlags,
    traceState: ctx.traceState?.serialize(),
    parent: span.parentSpanContext === undefined ? undefined : { traceId: span.parentSpanContext.traceId, spanId: span.parentSpanContext.spanId },
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    events: span.events,
    links: span.links,
    ended: span.ended,
    resource: span.resource.attributes,
    scope: span.instrumentationScope,
  };
}

const mapper = () => createSpanMapper({ version: '1.2.3' });

void t.test('hr times are exact to the nanosecond', async (t) => {
  t.same(hrTimeFromNs(T0), [1_735_787_045, 123_456_789]);
  t.same(hrTimeFromNs(9_007_199_254_740_993_001n), [9_007_199_254, 740_993_001]);
  t.same(hrTimeFromNs(0n), [0, 0]);
  t.same(hrTimeFromNs(-5n), [0, 0]);
});

void t.test('client span of an HTTP call carrying traceparent', async (t) => {
  const span = mapper().toSpan(hopFrontendGateway.outbound);
  t.same(plain(span), {
    name: 'GET /api/orders/{id}',
    kind: SpanKind.CLIENT,
    traceId: TRACE_A,
    spanId: sha('client|c-fe-gw|0', 8),
    traceFlags: 1,
    traceState: 'vendor=abc',
    parent: { traceId: TRACE_A, spanId: APP_SPAN_FRONTEND },
    startTime: [1_735_787_045, 123_456_789],
    endTime: [1_735_787_045, 127_457_110],
    duration: [0, 4_000_321],
    status: { code: SpanStatusCode.UNSET },
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'url.path': '/api/orders/98431',
      'url.query': 'token=****&expand=items',
      'http.route': '/api/orders/{id}',
      'url.scheme': 'http',
      'user_agent.original': 'shop-frontend/1.4',
      'http.request.body.size': 0,
      'http.response.body.size': 12,
      'network.protocol.name': 'http',
      'network.protocol.version': '1.1',
      'network.transport': 'tcp',
      'server.address': 'gateway.shop',
      'server.port': 8080,
      'network.peer.address': '10.244.0.11',
      'network.peer.port': 8080,
      'meshtap.peer.identity': 'spiffe://cluster.local/ns/shop/sa/gateway',
      'meshtap.peer.k8s.namespace.name': 'shop',
      'meshtap.peer.k8s.pod.name': 'gateway-0',
      'meshtap.peer.k8s.workload.name': 'gateway',
      'meshtap.peer.k8s.workload.kind': 'StatefulSet',
      'meshtap.peer.k8s.service.name': 'gateway',
      'meshtap.peer.k8s.node.name': 'node-b',
      'meshtap.call_id': 'c-fe-gw-o0',
      'meshtap.connection_id': 'c-fe-gw',
      'meshtap.ordinal': 0,
      'meshtap.protocol': 'http',
      'meshtap.trace_context': 'traceparent',
      'meshtap.tls.mesh': true,
    },
    events: [
      { name: 'meshtap.masked', time: [1_735_787_045, 123_456_789], attributes: { 'meshtap.redacted': ['request.headers.authorization', 'request.query.token'] } },
      { name: 'meshtap.sensitive', time: [1_735_787_045, 123_456_789], attributes: { 'meshtap.sensitive': ['jwt'] } },
    ],
    links: [],
    ended: true,
    resource: {
      'service.name': 'frontend',
      'service.namespace': 'shop',
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': 'frontend-7d9f8b6c4-x2k9p',
      'k8s.pod.uid': '0b5c6a52-8f63-4f7b-9d0e-3c1a2b4d5e6f',
      'k8s.node.name': 'node-a',
      'k8s.deployment.name': 'frontend',
    },
    scope: { name: 'meshtap', version: '1.2.3' },
  });
  t.equal(span.droppedAttributesCount, 0);
  t.equal(span.droppedEventsCount, 0);
  t.equal(span.droppedLinksCount, 0);
});

void t.test('server span of the same call: parent is the client span, own resource', async (t) => {
  const span = mapper().toSpan(hopFrontendGateway.inbound);
  const p = plain(span);
  t.equal(p.kind, SpanKind.SERVER);
  t.equal(p.name, 'GET /api/orders/{id}');
  t.equal(p.traceId, TRACE_A);
  t.equal(p.spanId, sha('server|c-fe-gw|0', 8));
  t.same(p.parent, { traceId: TRACE_A, spanId: sha('client|c-fe-gw|0', 8) });
  t.same(p.startTime, [1_735_787_045, 123_606_790]);
  t.same(p.endTime, [1_735_787_045, 127_337_107]);
  t.same(p.attributes, {
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'url.path': '/api/orders/98431',
    'url.query': 'token=****&expand=items',
    'http.route': '/api/orders/{id}',
    'url.scheme': 'http',
    'user_agent.original': 'shop-frontend/1.4',
    'http.request.body.size': 0,
    'http.response.body.size': 12,
    'network.protocol.name': 'http',
    'network.protocol.version': '1.1',
    'network.transport': 'tcp',
    'server.address': 'gateway.shop',
    'server.port': 8080,
    'client.address': '10.244.0.10',
    'client.port': 40000,
    'network.peer.address': '10.244.0.10',
    'network.peer.port': 40000,
    'meshtap.peer.identity': 'spiffe://cluster.local/ns/shop/sa/frontend',
    'meshtap.peer.k8s.namespace.name': 'shop',
    'meshtap.peer.k8s.pod.name': 'frontend-7d9f8b6c4-x2k9p',
    'meshtap.peer.k8s.workload.name': 'frontend',
    'meshtap.peer.k8s.workload.kind': 'Deployment',
    'meshtap.peer.k8s.service.name': 'frontend',
    'meshtap.peer.k8s.node.name': 'node-a',
    'meshtap.call_id': 'c-fe-gw-i0',
    'meshtap.connection_id': 'c-fe-gw',
    'meshtap.ordinal': 0,
    'meshtap.protocol': 'http',
    'meshtap.trace_context': 'traceparent',
    'meshtap.tls.mesh': true,
  });
  t.same(p.resource, {
    'service.name': 'gateway',
    'service.namespace': 'shop',
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': 'gateway-0',
    'k8s.node.name': 'node-b',
    'k8s.statefulset.name': 'gateway',
  });
});

void t.test('5xx: both spans fail; truncated body event on the response side', async (t) => {
  const m = mapper();
  const client = plain(m.toSpan(hopGatewayPayment.outbound));
  const server = plain(m.toSpan(hopGatewayPayment.inbound));
  for (const p of [client, server]) {
    t.equal(p.name, 'POST /payments/{id}/capture');
    t.same(p.status, { code: SpanStatusCode.ERROR });
    t.equal(p.attributes['error.type'], '502');
    t.equal(p.attributes['http.response.status_code'], 502);
    t.equal(p.attributes['http.response.body.size'], 70_000);
    t.equal(p.attributes['server.address'], 'payment.payments');
    t.notOk('url.query' in p.attributes);
  }
  t.equal(client.attributes['server.port'], 9000, 'no port in the authority: the dialled port');
  t.notOk('server.port' in server.attributes, 'server side reports only what the authority said');
  t.same(client.events, [
    {
      name: 'meshtap.body_truncated',
      time: hrTimeFromNs(hopGatewayPayment.outbound.end),
      attributes: { 'meshtap.body.side': 'response', 'meshtap.body.captured_size': 16, 'meshtap.body.size': 70_000 },
    },
  ]);
  t.same(client.resource, {
    'service.name': 'gateway',
    'service.namespace': 'shop',
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': 'gateway-0',
    'k8s.node.name': 'node-b',
    'k8s.statefulset.name': 'gateway',
  });
  t.same(server.resource['service.name'], 'payment');
  t.same(server.resource['k8s.namespace.name'], 'payments');
});

void t.test('4xx: the client span fails, the server span does not', async (t) => {
  const m = mapper();
  const client = plain(m.toSpan(hopB3.outbound));
  const server = plain(m.toSpan(hopB3.inbound));
  t.equal(client.name, 'GET /payments/{id}');
  t.same(client.status, { code: SpanStatusCode.ERROR });
  t.equal(client.attributes['error.type'], '404');
  t.same(server.status, { code: SpanStatusCode.UNSET });
  t.notOk('error.type' in server.attributes);
  t.equal(client.traceId, TRACE_B3);
  t.equal(client.attributes['meshtap.trace_context'], 'b3');
});

void t.test('record errors (reset, unpaired, timeout) fail the span with the error as type', async (t) => {
  for (const error of ['reset', 'unpaired', 'timeout'] as const) {
    for (const side of ['outbound', 'inbound'] as const) {
      const h = hop({ connection: 'e', ordinal: 1, from: FRONTEND, to: GATEWAY, at: 0n, method: 'GET', path: '/x', request: message({}), error });
      const rec: CallRecord = { ...h[side], error_detail: `peer ${error}` };
      const p = plain(mapper().toSpan(rec));
      t.same(p.status, { code: SpanStatusCode.ERROR, message: `peer ${error}` }, `${error} ${side}`);
      t.equal(p.attributes['error.type'], error);
      t.equal(p.attributes['meshtap.error.detail'], `peer ${error}`);
      t.notOk('http.response.status_code' in p.attributes);
    }
  }
});

void t.test('opaque TCP: named after the protocol, byte counts, reset is an error', async (t) => {
  const p = plain(mapper().toSpan(redisCall));
  t.same(p, {
    name: 'tcp',
    kind: SpanKind.CLIENT,
    traceId: sha('trace|c-gw-redis|0', 16),
    spanId: sha('client|c-gw-redis|0', 8),
    traceFlags: 1,
    traceState: undefined,
    parent: undefined,
    startTime: hrTimeFromNs(redisCall.start),
    endTime: hrTimeFromNs(redisCall.end),
    duration: [0, 4_000_321],
    status: { code: SpanStatusCode.ERROR, message: 'reset' },
    attributes: {
      'network.protocol.name': 'tcp',
      'network.transport': 'tcp',
      'server.address': '10.244.0.20',
      'server.port': 6379,
      'network.peer.address': '10.244.0.20',
      'network.peer.port': 6379,
      'error.type': 'reset',
      'meshtap.call_id': 'c-gw-redis-o0',
      'meshtap.connection_id': 'c-gw-redis',
      'meshtap.ordinal': 0,
      'meshtap.protocol': 'tcp',
      'meshtap.trace_context': 'derived',
      'meshtap.tls.mesh': false,
      'meshtap.bytes_in': 512,
      'meshtap.bytes_out': 256,
    },
    events: [],
    links: [],
    ended: true,
    resource: {
      'service.name': 'gateway',
      'service.namespace': 'shop',
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': 'gateway-0',
      'k8s.node.name': 'node-b',
      'k8s.statefulset.name': 'gateway',
    },
    scope: { name: 'meshtap', version: '1.2.3' },
  });
  const clean = plain(
    mapper().toSpan({ ...redisCall, error: undefined, close_reason: 'fin', protocol: 'redis', method: 'GET', path: 'cart:42', request: { headers: {}, body: Buffer.from('GET cart:42'), body_size: 24, truncated: false } }),
  );
  t.equal(clean.name, 'GET', 'a Redis span is named after its command');
  t.same(clean.status, { code: SpanStatusCode.UNSET });
  t.equal(clean.attributes['meshtap.close_reason'], 'fin');
  t.match(clean.attributes, { 'db.system.name': 'redis', 'db.operation.name': 'GET', 'db.query.text': 'GET cart:42', 'network.protocol.name': 'redis' });
  t.equal(clean.attributes['db.namespace'], undefined, 'Redis keys are data, not a namespace');
  const wrongType = plain(mapper().toSpan({ ...redisCall, close_reason: 'fin', protocol: 'redis', method: 'LPUSH', error: 'server_error', error_detail: 'WRONGTYPE Operation against a key holding the wrong kind of value' }));
  t.match(wrongType, { status: { code: SpanStatusCode.ERROR }, attributes: { 'db.response.status_code': 'WRONGTYPE', 'error.type': 'server_error' } });
  const sql = plain(
    mapper().toSpan({
      ...redisCall,
      error: 'server_error',
      error_detail: 'ERROR 42P01: relation "nope" does not exist',
      protocol: 'postgres',
      method: 'SELECT',
      path: 'shop',
      request: { headers: {}, body: Buffer.from(JSON.stringify({ query: 'SELECT * FROM nope WHERE id = $1', parameters: ['7'] })), body_size: 40, truncated: false },
      response: { headers: { sqlstate: '42P01', severity: 'ERROR' }, body: new Uint8Array(0), body_size: 0, truncated: false },
    }),
  );
  t.equal(sql.name, 'SELECT shop', 'a SQL span: operation and database');
  t.match(sql.attributes, { 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT', 'db.namespace': 'shop', 'db.query.text': 'SELECT * FROM nope WHERE id = $1', 'db.response.status_code': '42P01' });
  const tls = plain(
    mapper().toSpan({ ...redisCall, error: undefined, protocol: 'tls', tls: { mesh: false, app_tls: { sni: 'api.example', alpn: ['h2'], version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' } } }),
  );
  t.equal(tls.name, 'tls');
  t.equal(tls.attributes['meshtap.tls.app.sni'], 'api.example');
  t.same(tls.attributes['meshtap.tls.app.alpn'], ['h2']);
  t.equal(tls.attributes['meshtap.tls.app.version'], 'TLSv1.3');
});

void t.test('gRPC: rpc conventions; server fails on server-side codes only', async (t) => {
  const h = hop({
    connection: 'g',
    ordinal: 0,
    from: GATEWAY,
    to: PAYMENT,
    at: 0n,
    protocol: 'grpc',
    method: 'POST',
    path: '/shop.payment.v1.Payments/Capture',
    authority: 'payment.payments:9000',
    status: 200,
    request: message({ 'content-type': 'application/grpc', 'user-agent': 'grpc-node-js/1.14' }),
    response: message({}),
  });
  const ok = plain(mapper().toSpan({ ...h.outbound, grpc_status: 0 }));
  t.equal(ok.name, 'shop.payment.v1.Payments/Capture');
  t.equal(ok.attributes['rpc.system.name'], 'grpc');
  t.equal(ok.attributes['rpc.method'], 'shop.payment.v1.Payments/Capture');
  t.equal(ok.attributes['rpc.status_code'], 'OK');
  t.equal(ok.attributes['network.protocol.version'], '2');
  t.same(ok.status, { code: SpanStatusCode.UNSET });

  const notFoundClient = plain(mapper().toSpan({ ...h.outbound, grpc_status: 5 }));
  const notFoundServer = plain(mapper().toSpan({ ...h.inbound, grpc_status: 5 }));
  t.same(notFoundClient.status, { code: SpanStatusCode.ERROR });
  t.equal(notFoundClient.attributes['error.type'], 'NOT_FOUND');
  t.same(notFoundServer.status, { code: SpanStatusCode.UNSET });

  const unavailable = plain(mapper().toSpan({ ...h.inbound, grpc_status: 14 }));
  t.same(unavailable.status, { code: SpanStatusCode.ERROR });
  t.equal(unavailable.attributes['error.type'], 'UNAVAILABLE');
});

void t.test('request-side truncation, odd methods, authority forms', async (t) => {
  const h = hop({
    connection: 'm',
    ordinal: 0,
    from: FRONTEND,
    to: GATEWAY,
    at: 0n,
    method: 'PURGE',
    path: '/cache/0123456789abcdef0123',
    status: 200,
    request: message({ host: '[fd00::1]:8443' }, 'x'.repeat(10), { body_size: 100_000, truncated: true }),
    response: message({}),
  });
  const p = plain(mapper().toSpan(h.outbound));
  t.equal(p.name, 'HTTP /cache/{id}');
  t.equal(p.attributes['http.request.method'], '_OTHER');
  t.equal(p.attributes['http.request.method_original'], 'PURGE');
  t.equal(p.attributes['server.address'], 'fd00::1');
  t.equal(p.attributes['server.port'], 8443);
  t.same(p.events, [
    {
      name: 'meshtap.body_truncated',
      time: hrTimeFromNs(h.outbound.request_end!),
      attributes: { 'meshtap.body.side': 'request', 'meshtap.body.captured_size': 10, 'meshtap.body.size': 100_000 },
    },
  ]);
  const lower = plain(mapper().toSpan({ ...h.outbound, method: 'get' }));
  t.equal(lower.attributes['http.request.method'], 'GET');
  t.equal(lower.attributes['http.request.method_original'], 'get');
  t.equal(lower.name, 'GET /cache/{id}');

  t.same(parseAuthority('payment.payments'), { host: 'payment.payments' });
  t.same(parseAuthority('a:99999'), { host: 'a' });
  t.equal(parseAuthority('bad host'), undefined);
  t.equal(parseAuthority(undefined), undefined);
  t.same(splitTarget('http://x.example:81/a/b?q=1#frag'), { path: '/a/b', query: 'q=1' });
  t.same(splitTarget('/a?'), { path: '/a' });
  t.same(splitTarget('?x=1'), { path: '/', query: 'x=1' });
});

void t.test('span names never carry raw ids', async (t) => {
  const base = hop({ connection: 'n', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n, method: 'GET', path: '/' }).outbound;
  const cases: Array<[string, string]> = [
    ['/users/12345', 'GET /users/{id}'],
    ['/users/12345/orders/67890?x=1', 'GET /users/{id}/orders/{id}'],
    ['/users/550e8400-e29b-41d4-a716-446655440000', 'GET /users/{id}'],
    ['/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'GET /blobs/{id}'],
    ['/objects/5f2b9c3d1e7a4b6c8d9e0f1a', 'GET /objects/{id}'],
    ['/tokens/dGhpcy1pcy1hLWxvbmctdG9rZW4tMTIzNDU2', 'GET /tokens/{id}'],
    ['/keys/01HZX3K9Q7M2V8R4T6W1Y5B0NC', 'GET /keys/{id}'],
    ['/api/v2/items', 'GET /api/v2/items'],
    ['/', 'GET /'],
    ['http://gateway.shop:8080/orders/7', 'GET /orders/{id}'],
  ];
  for (const [path, name] of cases) t.equal(buildSpanName({ ...base, path }), name, path);
  t.equal(buildSpanName({ ...base, path: undefined }), 'GET');
  t.equal(buildSpanName({ ...base, protocol: 'postgres', method: undefined }), 'postgres');
  t.equal(buildSpanName({ ...base, protocol: 'grpc', path: '/pkg.Svc/Do' }), 'pkg.Svc/Do');
});

void t.test('one Resource object per workload, bounded', async (t) => {
  const m = createSpanMapper({ version: '1', maxResources: 2, clusterName: 'lab' });
  const a1 = m.toSpan(hopFrontendGateway.outbound).resource;
  const a2 = m.toSpan(hopFrontendGateway.outbound).resource;
  const b = m.toSpan(hopFrontendGateway.inbound).resource;
  t.equal(a1, a2, 'same workload: same object');
  t.not(a1, b);
  t.equal(a1.attributes['k8s.cluster.name'], 'lab');
  t.equal(m.resourceCount(), 2);
  m.toSpan(hopGatewayPayment.inbound);
  t.equal(m.resourceCount(), 2, 'bounded');
  // gateway (b) was used after frontend (a1): frontend was the least recent and went first.
  t.equal(m.toSpan(hopFrontendGateway.inbound).resource, b);
  t.not(m.toSpan(hopFrontendGateway.outbound).resource, a1);

  const bare = createSpanMapper({ version: '1' }).toSpan({ ...redisCall, src: { ip: '10.0.0.1', port: 1 } });
  t.same(bare.resource.attributes, { 'service.name': 'unknown' });
  const podOnly = createSpanMapper({ version: '1' }).toSpan({ ...redisCall, src: { ip: '10.0.0.1', port: 1, pod: 'p-1', namespace: 'ns' } });
  t.same(podOnly.resource.attributes, { 'service.name': 'p-1', 'service.namespace': 'ns', 'k8s.namespace.name': 'ns', 'k8s.pod.name': 'p-1' });
});

void t.test('clock skew: an end before the start never yields a negative duration', async (t) => {
  const rec = { ...hopFrontendGateway.outbound, end: hopFrontendGateway.outbound.start - 5n };
  const span = mapper().toSpan(rec);
  t.same(span.duration, [0, 0]);
  t.same(span.endTime, span.startTime);
});

void t.test('gRPC streaming: each decoded message is a span event at its arrival, SENT or RECEIVED by the span side', async (t) => {
  const body = (messages: unknown[]) => Buffer.from(JSON.stringify({ messages }));
  const grpc = {
    ...redisCall,
    protocol: 'grpc' as const,
    error: undefined,
    method: 'POST',
    path: '/shop.Inventory/WatchStock',
    status_code: 200,
    grpc_status: 0,
    request: { headers: {}, body: body([{ size: 7, at_us: 0 }]), body_size: 12, truncated: false },
    response: { headers: {}, body: body([{ size: 9, at_us: 2000 }, { size: 9, at_us: 3500 }]), body_size: 28, truncated: false },
  };
  const client = plain(mapper().toSpan(grpc));
  const messages = client.events.filter((e) => e.name === 'message');
  t.same(
    messages.map((e) => [e.attributes?.['rpc.message.type'], e.attributes?.['rpc.message.id'], e.attributes?.['rpc.message.compressed_size']]),
    [
      ['SENT', 1, 7],
      ['RECEIVED', 1, 9],
      ['RECEIVED', 2, 9],
    ],
  );
  t.same(messages[2].time, hrTimeFromNs(grpc.start + 3_500_000n), 'at the message\'s arrival');
  const server = plain(mapper().toSpan({ ...grpc, observer: 'inbound' }));
  t.same(server.events.filter((e) => e.name === 'message').map((e) => e.attributes?.['rpc.message.type']), ['RECEIVED', 'SENT', 'SENT'], 'the server side sees the other way round');
  const http = plain(mapper().toSpan({ ...grpc, protocol: 'http' }));
  t.equal(http.events.filter((e) => e.name === 'message').length, 0, 'only gRPC records get message events');
});

void t.test('a call whose app started a new trace links to the request that caused it', async (t) => {
  const { outbound } = hopFrontendGateway;
  const caused = 'c4'.repeat(16);
  const span = mapper().toSpan({ ...outbound, caused_by_trace_id: caused, caused_by_span_id: 'ab'.repeat(8) });
  t.same(
    span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: l.attributes })),
    [{ traceId: caused, spanId: 'ab'.repeat(8), attributes: { 'meshtap.link': 'caused_by' } }],
  );
  t.equal(span.spanContext().traceId, TRACE_A, 'the span stays in the trace its headers name');
  t.same(mapper().toSpan({ ...outbound, caused_by_trace_id: caused }).links, [], 'no span id, no link');
  t.same(mapper().toSpan(outbound).links, []);
});
