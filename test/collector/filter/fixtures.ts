/** Twelve varied call records for the filter tests, and the SQLite `calls` rows they become. */
import type { DatabaseSync } from 'node:sqlite';
import type { CallRecord, Endpoint, HttpMessage } from '../../../record/record.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { CALLS_INSERT_SQL, CALLS_SCHEMA, callsRow } from '../../../collector/store/calls-schema.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** 2023-11-14T22:13:20Z plus `seconds`, plus 123 ns so nanosecond precision is exercised. */
const at = (seconds: number): bigint => 1_700_000_000_000_000_000n + BigInt(seconds) * 1_000_000_000n + 123n;

const frontend: Endpoint = {
  ip: '10.244.0.11',
  port: 40000,
  pod: 'frontend-7d9f',
  namespace: 'shop',
  workload: 'frontend',
  workload_kind: 'Deployment',
  service: 'frontend',
  node: 'node-a',
  identity: 'spiffe://cluster.local/ns/shop/sa/frontend',
  labels: { app: 'frontend', tier: 'web' },
};
const gateway: Endpoint = {
  ip: '10.244.0.41',
  port: 41000,
  pod: 'gateway-1',
  namespace: 'shop',
  workload: 'gateway',
  workload_kind: 'Deployment',
  service: 'gateway',
  node: 'node-b',
  identity: 'spiffe://cluster.local/ns/shop/sa/gateway',
  labels: { app: 'gateway' },
};
const payment: Endpoint = {
  ip: '10.244.0.21',
  port: 8080,
  pod: 'payment-5c4b',
  namespace: 'shop',
  workload: 'payment',
  workload_kind: 'Deployment',
  service: 'payment',
  node: 'node-b',
  identity: 'spiffe://cluster.local/ns/shop/sa/payment',
  labels: { app: 'payment' },
};
const catalog: Endpoint = {
  ip: '10.244.0.31',
  port: 8080,
  pod: 'catalog-0',
  namespace: 'shop',
  workload: 'catalog',
  workload_kind: 'StatefulSet',
  service: 'catalog',
  node: 'node-a',
  identity: 'spiffe://cluster.local/ns/shop/sa/catalog',
  labels: { app: 'catalog' },
};
const auth: Endpoint = {
  ip: '10.244.0.51',
  port: 8443,
  pod: 'auth-1',
  namespace: 'auth',
  workload: 'auth',
  workload_kind: 'Deployment',
  service: 'auth',
  node: 'node-c',
  identity: 'spiffe://cluster.local/ns/auth/sa/auth',
  labels: { app: 'auth' },
};
const orders: Endpoint = {
  ip: '10.244.0.71',
  port: 8080,
  pod: 'orders-2',
  namespace: 'shop',
  workload: 'orders',
  workload_kind: 'Deployment',
  service: 'orders',
  node: 'node-a',
  identity: 'spiffe://cluster.local/ns/shop/sa/orders',
  labels: { app: 'orders', version: 'v2' },
};
const postgres: Endpoint = {
  ip: '10.244.0.61',
  port: 5432,
  pod: 'postgres-0',
  namespace: 'data',
  workload: 'postgres',
  workload_kind: 'StatefulSet',
  service: 'postgres',
  node: 'node-c',
};
const redis: Endpoint = {
  ip: '10.244.0.81',
  port: 6379,
  pod: 'redis-0',
  namespace: 'data',
  workload: 'redis',
  workload_kind: 'StatefulSet',
  service: 'redis',
  node: 'node-b',
};
const canary: Endpoint = {
  ip: '10.244.1.5',
  port: 42000,
  pod: 'canary-1',
  namespace: 'shop-staging',
  workload: 'canary',
  workload_kind: 'Deployment',
  node: 'node-d',
  labels: { app: 'canary' },
};

function message(headers: Record<string, string>, body: string | Uint8Array, extra: Partial<HttpMessage> = {}): HttpMessage {
  const bytes = typeof body === 'string' ? text(body) : body;
  return { headers, body: bytes, body_size: bytes.length, truncated: false, ...extra };
}

/** When the request's last byte and the response's first byte were seen, in µs after the start. */
interface Phases {
  requestEndUs: number;
  responseStartUs: number;
}

function record(n: number, fields: Partial<CallRecord> & Pick<CallRecord, 'protocol' | 'src' | 'dst' | 'elapsed_us'>, phases?: Phases): CallRecord {
  const id = `r${String(n).padStart(2, '0')}`;
  const start = at(n - 1);
  const phaseFields = phases === undefined ? {} : { request_end: start + BigInt(phases.requestEndUs) * 1000n, response_start: start + BigInt(phases.responseStartUs) * 1000n };
  return {
    ...phaseFields,
    id,
    observer: 'outbound',
    connection_id: `conn-${id}`,
    ordinal: 0,
    start,
    end: start + BigInt(fields.elapsed_us) * 1000n,
    tls: { mesh: false },
    bytes_in: 100,
    bytes_out: 200,
    redacted: [],
    sensitive: [],
    ...fields,
  };
}

export const RECORDS: readonly CallRecord[] = [
  record(1, {
    protocol: 'http',
    method: 'POST',
    path: '/api/orders/42',
    authority: 'payment.shop',
    status_code: 503,
    elapsed_us: 150000,
    src: frontend,
    dst: payment,
    tls: { mesh: true },
    request: message({ 'content-type': 'application/json', authorization: '****' }, '{"order":"order-42","card":"****"}', {
      content_type: 'application/json',
    }),
    response: message({ 'content-type': 'text/plain' }, 'upstream failed', { content_type: 'text/plain' }),
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    redacted: ['request.headers.authorization', 'request.body.$.card'],
    sensitive: ['jwt', 'card'],
  }, { requestEndUs: 1000, responseStartUs: 140_000 }),
  record(2, {
    protocol: 'http',
    observer: 'inbound',
    method: 'GET',
    path: '/api/catalog?page=2',
    authority: 'catalog.shop',
    status_code: 200,
    elapsed_us: 2300,
    src: frontend,
    dst: catalog,
    tls: { mesh: true },
    request: message({ accept: 'application/json' }, ''),
    response: message({ 'content-type': 'application/json' }, '{"items":[{"sku":"A-1"}]}', { content_type: 'application/json' }),
    trace_id: '0af7651916cd43dd8448eb211c80319c',
  }, { requestEndUs: 100, responseStartUs: 2000 }),
  record(3, {
    protocol: 'http2',
    method: 'GET',
    path: '/healthz',
    authority: 'auth.auth',
    status_code: 204,
    elapsed_us: 800,
    src: gateway,
    dst: auth,
    request: message({ 'user-agent': 'probe/1.0' }, ''),
    response: message({}, ''),
  }),
  record(4, {
    protocol: 'grpc',
    method: 'POST',
    path: '/payment.Payment/Charge',
    authority: 'payment.shop:9090',
    status_code: 200,
    grpc_status: 14,
    elapsed_us: 1200000,
    src: gateway,
    dst: payment,
    tls: { mesh: true },
    request: message({ 'content-type': 'application/grpc' }, new Uint8Array([0, 0, 0, 0, 5, 0xff, 0xfe, 0x41, 0x42, 0x43]), {
      content_type: 'application/grpc',
    }),
    response: message({ 'content-type': 'application/grpc' }, new Uint8Array(0), {
      trailers: { 'grpc-status': '14', 'grpc-message': 'unavailable' },
      content_type: 'application/grpc',
    }),
    trace_id: '5b8aa5a2d2c872e8321cf37308d69df2',
  }),
  record(5, {
    protocol: 'grpc',
    method: 'POST',
    path: '/catalog.Catalog/List',
    authority: 'catalog.shop:9090',
    status_code: 200,
    grpc_status: 0,
    elapsed_us: 4000,
    src: frontend,
    dst: catalog,
    tls: { mesh: true },
    request: message({ 'content-type': 'application/grpc' }, new Uint8Array([0, 0, 0, 0, 0])),
    response: message({ 'content-type': 'application/grpc' }, new Uint8Array([0, 0, 0, 0, 2, 8, 1]), {
      trailers: { 'grpc-status': '0' },
    }),
  }),
  record(6, {
    protocol: 'tcp',
    elapsed_us: 5000000,
    src: { ip: '10.244.0.99', port: 51000 },
    dst: postgres,
    error: 'reset',
    bytes_in: 1000,
    bytes_out: 2000,
  }),
  record(7, {
    protocol: 'tls',
    elapsed_us: 90000,
    src: frontend,
    dst: { ip: '93.184.216.34', port: 443 },
    tls: {
      mesh: false,
      app_tls: { sni: 'example.com', alpn: ['h2', 'http/1.1'], version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', handshake_us: 2100 },
    },
    bytes_in: 5000,
    bytes_out: 800,
  }),
  record(8, {
    protocol: 'http',
    method: 'POST',
    path: '/api/login',
    authority: 'auth.auth',
    status_code: 401,
    elapsed_us: 12000,
    src: frontend,
    dst: auth,
    tls: { mesh: true },
    request: message(
      { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req-8' },
      '{"user":"alice@example.com","password":"****"}',
      { content_type: 'application/json; charset=utf-8' },
    ),
    response: message({ 'www-authenticate': 'Bearer' }, '{"error":"invalid credentials"}'),
    trace_id: 'a3ce929d0e0e47364bf92f3577b34da6',
    redacted: ['request.body.$.password'],
    sensitive: ['password', 'email'],
  }),
  record(9, {
    protocol: 'http',
    observer: 'inbound',
    method: 'GET',
    path: '/orders/123',
    authority: 'orders.shop',
    status_code: 404,
    elapsed_us: 100001,
    src: gateway,
    dst: orders,
    tls: { mesh: true },
    request: message({}, ''),
    response: message({ 'content-type': 'text/html' }, '<h1>not found</h1>', { content_type: 'text/html' }),
  }),
  record(10, {
    protocol: 'http',
    method: 'PUT',
    path: '/api/orders/7',
    authority: 'payment.shop',
    elapsed_us: 30000000,
    src: frontend,
    dst: payment,
    tls: { mesh: true },
    request: message({ 'content-type': 'application/json' }, '{"order":"order-7"}', { content_type: 'application/json' }),
    error: 'timeout',
    trace_id: 'd0e0e4736a3ce9294bf92f3577b34da6',
  }),
  record(11, {
    protocol: 'redis',
    elapsed_us: 300,
    src: catalog,
    dst: redis,
  }),
  record(12, {
    protocol: 'http',
    method: 'GET',
    path: '/api/ünïcode/😀',
    authority: 'shop.example',
    status_code: 200,
    elapsed_us: 45000,
    src: canary,
    dst: payment,
    request: message({ accept: '*/*' }, '', { body_size: 1000000, truncated: true }),
    response: message({ 'content-type': 'text/plain' }, 'see order-42 for details', { content_type: 'text/plain' }),
    sensitive: ['email'],
  }),
];

export const ALL_IDS: readonly string[] = RECORDS.map((r) => r.id);

/** The `calls` table as the store lays it out (absent fields are NULL), holding `records`. */
export function createCallsTable(db: DatabaseSync, records: readonly CallRecord[] = RECORDS): void {
  db.exec(CALLS_SCHEMA);
  const insert = db.prepare(CALLS_INSERT_SQL);
  for (const r of records) insert.run(...callsRow(r, 0n, JSON.stringify(recordToJson(r))));
}
