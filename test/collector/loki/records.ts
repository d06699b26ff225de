/** Call records as the collector has them after enrichment, for the Loki tests. */
import type { CallRecord, HttpMessage } from '../../../record/record.ts';

const text = (s: string) => new TextEncoder().encode(s);

function message(headers: Record<string, string>, body: Uint8Array, extra: Partial<HttpMessage> = {}): HttpMessage {
  return { headers, body, body_size: body.byteLength, truncated: false, ...extra };
}

const START = 1_767_225_600_123_456_789n;

/** payment's sidecar saw a POST from frontend answered 502. */
export function inboundPayment502(): CallRecord {
  return {
    id: 'c0ffee00-0000-4000-8000-000000000001',
    protocol: 'http',
    observer: 'inbound',
    connection_id: 'conn-7f3a',
    ordinal: 2,
    start: START,
    request_end: START + 150_000n,
    response_start: START + 41_000_000n,
    end: START + 41_200_000n,
    elapsed_us: 41_200,
    src: { ip: '10.244.0.12', port: 51234, identity: 'spiffe://cluster.local/ns/shop/sa/frontend', pod: 'frontend-6d8f9c7b5-x2k4q', namespace: 'shop', workload: 'frontend', workload_kind: 'Deployment', node: 'node-a' },
    dst: { ip: '10.244.0.31', port: 8080, identity: 'spiffe://cluster.local/ns/shop/sa/payment', pod: 'payment-5c9b8d7f6-qq7zt', namespace: 'shop', workload: 'payment', workload_kind: 'Deployment', service: 'payment', node: 'node-b', labels: { app: 'payment' } },
    tls: { mesh: true },
    method: 'POST',
    path: '/orders/98431/pay?attempt=2',
    authority: 'payment.shop:8080',
    status_code: 502,
    request: message(
      { 'content-type': 'application/json', authorization: '***', 'x-request-id': 'r-1' },
      text('{"order_id":"ORD-98431","amount":1999,"currency":"EUR","note":"caf\u00e9 \u2615"}'),
      { content_type: 'application/json' },
    ),
    response: message({ 'content-type': 'application/json' }, text('{"error":"upstream bank timeout"}'), { content_type: 'application/json' }),
    bytes_in: 211,
    bytes_out: 97,
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: '00f067aa0ba902b7',
    redacted: ['request.headers.authorization'],
    sensitive: ['jwt'],
  };
}

/** frontend's sidecar saw a gRPC call to catalog: binary bodies. */
export function outboundGrpcCatalog(): CallRecord {
  const frame = new Uint8Array([0, 0, 0, 0, 5, 0x0a, 0x03, 0x61, 0x62, 0x63]);
  return {
    id: 'c0ffee00-0000-4000-8000-000000000002',
    protocol: 'grpc',
    observer: 'outbound',
    connection_id: 'conn-91be',
    ordinal: 0,
    start: START + 5_000_000_000n,
    end: START + 5_002_000_000n,
    elapsed_us: 2000,
    src: { ip: '10.244.0.12', port: 40100, pod: 'frontend-6d8f9c7b5-x2k4q', namespace: 'shop', workload: 'frontend', workload_kind: 'Deployment' },
    dst: { ip: '10.96.0.40', port: 9090, namespace: 'shop', workload: 'catalog', service: 'catalog' },
    tls: { mesh: true },
    method: 'POST',
    path: '/shop.catalog.v1.Catalog/GetProduct',
    authority: 'catalog.shop:9090',
    status_code: 200,
    grpc_status: 0,
    request: message({ 'content-type': 'application/grpc', te: 'trailers' }, frame),
    response: message({ 'content-type': 'application/grpc' }, new Uint8Array([0, 0, 0, 0, 2, 0xff, 0xfe]), {
      trailers: { 'grpc-status': '0' },
    }),
    bytes_in: 60,
    bytes_out: 55,
    redacted: [],
    sensitive: [],
  };
}

/** gateway's sidecar saw a redis exchange with an unmeshed server outside the inventory. */
export function outboundRedisExternal(): CallRecord {
  return {
    id: 'c0ffee00-0000-4000-8000-000000000003',
    protocol: 'redis',
    observer: 'outbound',
    connection_id: 'conn-0003',
    ordinal: 7,
    start: START + 9_000_000_000n,
    end: START + 9_000_300_000n,
    elapsed_us: 300,
    src: { ip: '10.244.0.20', port: 40200, pod: 'gateway-77d9c-abcde', namespace: 'shop', workload: 'gateway', workload_kind: 'Deployment' },
    dst: { ip: '192.0.2.10', port: 6379 },
    tls: { mesh: false },
    bytes_in: 20,
    bytes_out: 14,
    redacted: [],
    sensitive: [],
  };
}

/** Names that are not Kubernetes names, to exercise label sanitizing. */
export function inboundOddNames(): CallRecord {
  const r = inboundPayment502();
  return {
    ...r,
    id: 'c0ffee00-0000-4000-8000-000000000004',
    dst: { ...r.dst, namespace: 'team "a"\n', workload: 'pay ment{x}', pod: 'p\u0000d' },
    path: '/users/550e8400-e29b-41d4-a716-446655440000/files/5f2b9c3d1e7a4b6c8d9e0f1a/raw',
    status_code: 200,
  };
}

/** A record whose bodies alone exceed Loki's line limit. */
export function withBodies(request: Uint8Array, response: Uint8Array, headers: Record<string, string> = {}): CallRecord {
  const r = inboundPayment502();
  return {
    ...r,
    request: message({ ...r.request!.headers, ...headers }, request, { content_type: 'application/json' }),
    response: message(r.response!.headers, response),
  };
}
