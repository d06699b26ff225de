/** Records for tests: one with every field set, one with only what is required. */
import type { CallRecord } from '../../record/record.ts';

const T0 = 1_764_000_000_123_456_789n;

export function fullRecord(i = 0): CallRecord {
  const body = new TextEncoder().encode(JSON.stringify({ order: i, password: '***' }));
  return {
    id: `rec-${i}`,
    protocol: 'http',
    observer: 'outbound',
    connection_id: `conn-${Math.floor(i / 10)}`,
    ordinal: i % 10,
    start: T0 + BigInt(i) * 1_000_003n,
    request_end: T0 + BigInt(i) * 1_000_003n + 17n,
    response_start: T0 + BigInt(i) * 1_000_003n + 999_999n,
    end: T0 + BigInt(i) * 1_000_003n + 1_000_001n,
    elapsed_us: 1000,
    src: {
      ip: '10.244.0.5',
      port: 40000 + (i % 1000),
      identity: 'spiffe://cluster.local/ns/shop/sa/frontend',
      pod: 'frontend-7d9f',
      namespace: 'shop',
      workload: 'frontend',
      workload_kind: 'Deployment',
      service: 'frontend',
      node: 'node-a',
      labels: { app: 'frontend', 'pod-template-hash': '7d9f' },
    },
    dst: { ip: '10.96.0.12', port: 8080, service: 'payment', labels: {} },
    tls: { mesh: true, app_tls: { sni: 'payment.shop', alpn: ['h2', 'http/1.1'], version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', handshake_us: 812, error: 'none' } },
    method: 'POST',
    path: `/pay?order=${i}`,
    authority: 'payment.shop',
    status_code: 201,
    grpc_status: 0,
    grpc_message: 'ok: déjà vu',
    request: {
      headers: { 'content-type': 'application/json', authorization: '[masked]', 'set-cookie': 'a=1\nb=2' },
      trailers: { 'x-checksum': 'abc' },
      body,
      body_size: 70_000,
      truncated: true,
      content_type: 'application/json',
      content_encoding: 'gzip',
    },
    response: {
      headers: {},
      body: new Uint8Array([0xff, 0x00, 0xfe, 0x80]),
      body_size: 4,
      truncated: false,
    },
    bytes_in: 300,
    bytes_out: 70_123,
    error: 'timeout',
    error_detail: 'no response within 30s',
    close_reason: 'fin',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: '00f067aa0ba902b7',
    parent_span_id: '00f067aa0ba902b6',
    redacted: ['request.headers.authorization', 'request.body.$.password'],
    sensitive: ['jwt', 'password'],
    notes: ['expect: 100-continue', '100-continue'],
    dns_rcode: 'NXDOMAIN',
    connection: { connect_us: 412, tls_handshake_us: 2_950, reset_by: 'server', half_closed_by: 'client', exchanges: 3 },
    queue_us: 1_250,
    link_confidence: 0.5,
    caused_by_trace_id: '0af7651916cd43dd8448eb211c80319c',
    caused_by_span_id: 'b7ad6b7169203331',
  };
}

export function minimalRecord(i = 0): CallRecord {
  return {
    id: `min-${i}`,
    protocol: 'tcp',
    observer: 'inbound',
    connection_id: '',
    ordinal: 0,
    start: 0n,
    end: 0n,
    elapsed_us: 0,
    src: { ip: '10.0.0.1', port: 0 },
    dst: { ip: '10.0.0.2', port: 0 },
    tls: { mesh: false },
    bytes_in: 0,
    bytes_out: 0,
    redacted: [],
    sensitive: [],
  };
}

/** A record whose estimated size is roughly `bodyBytes` plus the fixed overhead. */
export function sizedRecord(i: number, bodyBytes: number): CallRecord {
  const r = minimalRecord(i);
  r.id = `sized-${i}`;
  r.protocol = 'http';
  r.start = 1_764_000_000_000_000_000n + BigInt(i);
  r.end = r.start + 1n;
  r.request = { headers: { host: 'x' }, body: new Uint8Array(bodyBytes).fill(97), body_size: bodyBytes, truncated: false };
  return r;
}

/**
 * One inbound frontend → payment call (`POST /pay`, 201) with no bodies: the record the masking
 * and export tests start from, `over` laid on top.
 */
export function paymentCallRecord(over: Partial<CallRecord> = {}): CallRecord {
  const start = 1_764_000_000_000_000_000n;
  return {
    id: 'rec-1',
    protocol: 'http',
    observer: 'inbound',
    connection_id: 'c-1',
    ordinal: 0,
    start,
    end: start + 1_000_000n,
    elapsed_us: 1000,
    src: { ip: '10.244.0.5', port: 40000, pod: 'frontend-7d9f', namespace: 'shop', workload: 'frontend' },
    dst: { ip: '10.244.0.9', port: 8080, pod: 'payment-5c4d', namespace: 'shop', workload: 'payment' },
    tls: { mesh: true },
    method: 'POST',
    path: '/pay',
    status_code: 201,
    bytes_in: 10,
    bytes_out: 20,
    redacted: [],
    sensitive: [],
    ...over,
  };
}
