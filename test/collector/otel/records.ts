/**
 * Call records for the span tests: a small shop (frontend → gateway → payment, plus an
 * unmeshed Redis) with both sidecars' records of each meshed hop.
 */
import type { CallRecord, Endpoint, HttpMessage } from '../../../record/record.ts';

/** 2025-01-02T03:04:05.123456789Z in ns: sub-microsecond digits catch any float rounding. */
export const T0 = 1_735_787_045_123_456_789n;

export type Workload = Omit<Endpoint, 'port'> & { port: number; pod_uid?: string };

export const FRONTEND: Workload = {
  ip: '10.244.0.10',
  port: 0,
  identity: 'spiffe://cluster.local/ns/shop/sa/frontend',
  pod: 'frontend-7d9f8b6c4-x2k9p',
  namespace: 'shop',
  workload: 'frontend',
  workload_kind: 'Deployment',
  service: 'frontend',
  node: 'node-a',
  pod_uid: '0b5c6a52-8f63-4f7b-9d0e-3c1a2b4d5e6f',
};

export const GATEWAY: Workload = {
  ip: '10.244.0.11',
  port: 8080,
  identity: 'spiffe://cluster.local/ns/shop/sa/gateway',
  pod: 'gateway-0',
  namespace: 'shop',
  workload: 'gateway',
  workload_kind: 'StatefulSet',
  service: 'gateway',
  node: 'node-b',
};

export const PAYMENT: Workload = {
  ip: '10.244.0.12',
  port: 9000,
  identity: 'spiffe://cluster.local/ns/payments/sa/payment',
  pod: 'payment-5c7d9-q8w2e',
  namespace: 'payments',
  workload: 'payment',
  workload_kind: 'Deployment',
  service: 'payment',
  node: 'node-a',
};

export const REDIS: Workload = { ip: '10.244.0.20', port: 6379 };

export function message(headers: Record<string, string>, body = '', extra: Partial<HttpMessage> = {}): HttpMessage {
  const bytes = new TextEncoder().encode(body);
  return { headers, body: bytes, body_size: bytes.length, truncated: false, ...extra };
}

export interface HopOptions {
  connection: string;
  ordinal: number;
  from: Workload;
  to: Workload;
  fromPort?: number;
  /** Offset of the client-side start from T0, ns. */
  at: bigint;
  method?: string;
  path?: string;
  authority?: string;
  status?: number;
  request?: HttpMessage;
  response?: HttpMessage;
  protocol?: CallRecord['protocol'];
  mesh?: boolean;
  error?: CallRecord['error'];
  redacted?: string[];
  sensitive?: string[];
}

/**
 * The client sidecar's record and the server sidecar's record of one exchange. The server
 * side starts 150 µs later and ends 120 µs earlier, as it would one network hop further in.
 */
export function hop(o: HopOptions): { outbound: CallRecord; inbound: CallRecord } {
  const mesh = o.mesh ?? true;
  const start = T0 + o.at;
  const end = start + 4_000_321n;
  const src: Endpoint = { ...o.from, port: o.fromPort ?? 40_000 + o.ordinal };
  const dst: Endpoint = { ...o.to };
  const base = {
    protocol: o.protocol ?? 'http',
    connection_id: o.connection,
    ordinal: o.ordinal,
    src,
    dst,
    tls: { mesh },
    bytes_in: 512,
    bytes_out: 256,
    redacted: o.redacted ?? [],
    sensitive: o.sensitive ?? [],
    ...(o.method !== undefined ? { method: o.method } : {}),
    ...(o.path !== undefined ? { path: o.path } : {}),
    ...(o.authority !== undefined ? { authority: o.authority } : {}),
    ...(o.status !== undefined ? { status_code: o.status } : {}),
    ...(o.request !== undefined ? { request: o.request } : {}),
    ...(o.response !== undefined ? { response: o.response } : {}),
    ...(o.error !== undefined ? { error: o.error } : {}),
  } satisfies Partial<CallRecord>;
  const outbound: CallRecord = {
    ...base,
    id: `${o.connection}-o${o.ordinal}`,
    observer: 'outbound',
    start,
    request_end: start + 1_000_000n,
    response_start: start + 3_000_000n,
    end,
    elapsed_us: Number((end - start) / 1000n),
  };
  const inStart = start + 150_001n;
  const inEnd = end - 120_003n;
  const inbound: CallRecord = {
    ...base,
    id: `${o.connection}-i${o.ordinal}`,
    observer: 'inbound',
    start: inStart,
    request_end: inStart + 800_000n,
    response_start: inStart + 2_500_000n,
    end: inEnd,
    elapsed_us: Number((inEnd - inStart) / 1000n),
  };
  return { outbound, inbound };
}

export const TRACE_A = '4bf92f3577b34da6a3ce929d0e0e4736';
export const APP_SPAN_FRONTEND = '00f067aa0ba902b7';
export const APP_SPAN_GATEWAY = 'b7ad6b7169203331';

/** frontend → gateway, carrying the frontend app's own traceparent. */
export const hopFrontendGateway = hop({
  connection: 'c-fe-gw',
  ordinal: 0,
  from: FRONTEND,
  to: GATEWAY,
  at: 0n,
  method: 'GET',
  path: '/api/orders/98431?token=****&expand=items',
  authority: 'gateway.shop:8080',
  status: 200,
  request: message({ traceparent: `00-${TRACE_A}-${APP_SPAN_FRONTEND}-01`, tracestate: 'vendor=abc', 'user-agent': 'shop-frontend/1.4', authorization: '****' }),
  response: message({ 'content-type': 'application/json' }, '{"id":98431}'),
  redacted: ['request.headers.authorization', 'request.query.token'],
  sensitive: ['jwt'],
});

/** gateway → payment, same trace, propagated by the gateway app with its own span as parent; 502. */
export const hopGatewayPayment = hop({
  connection: 'c-gw-pay',
  ordinal: 3,
  from: GATEWAY,
  to: PAYMENT,
  at: 1_000_000n,
  method: 'POST',
  path: '/payments/550e8400-e29b-41d4-a716-446655440000/capture',
  authority: 'payment.payments',
  status: 502,
  request: message({ traceparent: `00-${TRACE_A}-${APP_SPAN_GATEWAY}-01`, 'content-type': 'application/json' }, '{"amount":1200}'),
  response: message({ 'content-type': 'text/plain' }, 'upstream said no', { body_size: 70_000, truncated: true }),
});

/** gateway → payment with B3 multi-headers and a 404 (client error only). */
export const TRACE_B3 = '80f198ee56343ba864fe8b2a57d3eff7';
export const B3_PARENT = 'e457b5a2e4d86bd1';
export const hopB3 = hop({
  connection: 'c-gw-pay',
  ordinal: 4,
  from: GATEWAY,
  to: PAYMENT,
  at: 2_000_000n,
  method: 'GET',
  path: '/payments/7f3e9a1c2b4d5e6f7a8b9c0d',
  authority: 'payment.payments:9000',
  status: 404,
  request: message({ 'x-b3-traceid': TRACE_B3, 'x-b3-spanid': B3_PARENT, 'x-b3-sampled': '1' }),
  response: message({}),
});

/** Two hops of one user request, linked only by x-request-id. */
export const REQUEST_ID = 'a7c2e8f0-req-42';
export const hopRequestId1 = hop({
  connection: 'c-fe-gw',
  ordinal: 1,
  from: FRONTEND,
  to: GATEWAY,
  at: 3_000_000n,
  method: 'PUT',
  path: '/api/cart',
  authority: 'gateway.shop:8080',
  status: 204,
  request: message({ 'x-request-id': REQUEST_ID }),
  response: message({}),
});
export const hopRequestId2 = hop({
  connection: 'c-gw-pay',
  ordinal: 5,
  from: GATEWAY,
  to: PAYMENT,
  at: 3_500_000n,
  method: 'GET',
  path: '/payments/quote',
  authority: 'payment.payments:9000',
  status: 200,
  request: message({ 'x-request-id': REQUEST_ID }),
  response: message({}),
});

/** No context at all: a fresh, derived trace. The server side is reset mid-response. */
export const hopNoContext = hop({
  connection: 'c-fe-gw',
  ordinal: 2,
  from: FRONTEND,
  to: GATEWAY,
  at: 4_000_000n,
  method: 'GET',
  path: '/healthz',
  status: 200,
  request: message({}),
  response: message({}),
});

/** gateway → an unmeshed Redis: only the client side exists, opaque TCP, reset. */
export const redisCall = hop({
  connection: 'c-gw-redis',
  ordinal: 0,
  from: GATEWAY,
  to: REDIS,
  at: 5_000_000n,
  protocol: 'tcp',
  mesh: false,
  error: 'reset',
}).outbound;

/** The records both transports export, in arrival order. */
export function chainRecords(): CallRecord[] {
  return [
    hopFrontendGateway.outbound,
    hopFrontendGateway.inbound,
    hopGatewayPayment.outbound,
    hopGatewayPayment.inbound,
    hopB3.outbound,
    hopB3.inbound,
    hopRequestId1.outbound,
    hopRequestId1.inbound,
    hopRequestId2.outbound,
    hopRequestId2.inbound,
    hopNoContext.outbound,
    hopNoContext.inbound,
    redisCall,
  ];
}
