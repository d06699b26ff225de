/**
 * End to end: records → pipeline → OTLP over loopback → a receiver that decodes with the
 * official OpenTelemetry protos. Every transport must deliver the same trace tree.
 */
import { createHash } from 'node:crypto';
import { MockOtlpServer } from '@elastic/mockotlpserver';
import t from 'tap';
import { createSpanExporterPipeline } from '../../../collector/otel/exporter.ts';
import { createSpanMapper } from '../../../collector/otel/span-mapper.ts';
import type { CallRecord } from '../../../record/record.ts';
import {
  APP_SPAN_FRONTEND,
  APP_SPAN_GATEWAY,
  B3_PARENT,
  REQUEST_ID,
  TRACE_A,
  TRACE_B3,
  chainRecords,
  hopB3,
  hopFrontendGateway,
  hopGatewayPayment,
  hopNoContext,
  hopRequestId1,
  hopRequestId2,
  redisCall,
} from './records.ts';
import { waitFor } from '../helpers.ts';

function sha(input: string, bytes: number): string {
  return createHash('sha256').update(input).digest('hex').slice(0, bytes * 2);
}

// ---- Normalizing what the receiver decoded: gRPC (proto-loader objects: Buffers, Longs),
// OTLP/HTTP protobuf (protobufjs messages) and OTLP/JSON (hex ids, string longs) to one shape.

interface NEvent {
  name: string;
  time: string;
  attributes: Record<string, unknown>;
}
interface NSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  start: string;
  end: string;
  attributes: Record<string, unknown>;
  events: NEvent[];
  status: { code: number; message?: string };
}
interface NResource {
  attributes: Record<string, unknown>;
  scopes: Array<{ name: string; version?: string; spans: NSpan[] }>;
}

type Raw = Record<string, any>;

function hex(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Uint8Array) return v.length === 0 ? undefined : Buffer.from(v).toString('hex');
  if (typeof v === 'string') {
    if (v === '') return undefined;
    return /^[0-9a-f]+$/.test(v) && (v.length === 32 || v.length === 16) ? v : Buffer.from(v, 'base64').toString('hex');
  }
  throw new Error(`unexpected id ${JSON.stringify(v)}`);
}

function long(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    return ((BigInt(high >>> 0) << 32n) | BigInt(low >>> 0)).toString();
  }
  throw new Error(`unexpected long ${JSON.stringify(v)}`);
}

function anyValue(v: Raw): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(long(v.intValue));
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return ((v.arrayValue as Raw).values ?? []).map((x: Raw) => anyValue(x));
  throw new Error(`unexpected value ${JSON.stringify(v)}`);
}

function attributes(list: Raw[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

const KIND_NAMES: Record<string, number> = { SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3 };

function normalize(request: unknown): NResource[] {
  let raw = request as Raw;
  // protobufjs messages keep defaults on their prototype; a plain object shows only what was sent.
  const ctor = raw.constructor as { toObject?: (m: Raw, o: { longs: StringConstructor }) => Raw } | undefined;
  if (typeof ctor?.toObject === 'function') raw = ctor.toObject(raw, { longs: String });
  return (raw.resourceSpans as Raw[]).map((rs) => ({
    attributes: attributes(rs.resource?.attributes),
    scopes: (rs.scopeSpans as Raw[]).map((ss) => ({
      name: ss.scope?.name,
      version: ss.scope?.version,
      spans: (ss.spans as Raw[]).map((s) => {
        const span: NSpan = {
          traceId: hex(s.traceId)!,
          spanId: hex(s.spanId)!,
          name: s.name,
          kind: typeof s.kind === 'string' ? KIND_NAMES[s.kind] : s.kind,
          start: long(s.startTimeUnixNano),
          end: long(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          events: ((s.events ?? []) as Raw[]).map((e) => ({ name: e.name, time: long(e.timeUnixNano), attributes: attributes(e.attributes) })),
          status: { code: s.status?.code ?? 0, ...(s.status?.message ? { message: s.status.message } : {}) },
        };
        const parent = hex(s.parentSpanId);
        if (parent !== undefined) span.parentSpanId = parent;
        if (s.traceState) span.traceState = s.traceState;
        return span;
      }),
    })),
  }));
}

const CLIENT = 3;
const SERVER = 2;
const records = chainRecords();

void t.test('records reach an OTLP receiver as one parented trace tree per call chain', async (t) => {
  const received: unknown[] = [];
  const requests: Array<{ transport: string; path: string; headers?: Record<string, string>; metadata?: any }> = [];
  const server = new MockOtlpServer({
    logLevel: 'warn',
    services: ['grpc', 'http'],
    grpcHostname: '127.0.0.1',
    grpcPort: 0,
    httpHostname: '127.0.0.1',
    httpPort: 0,
    onTrace: (r) => received.push(r),
    onRequest: (r) => requests.push(r),
  });
  await server.start();
  t.teardown(() => server.close());
  const grpcEndpoint = server.grpcUrl!.href.replace(/\/$/, '');
  const httpEndpoint = server.httpUrl!.href;
  t.match(grpcEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.match(httpEndpoint, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const flavours = [
    { protocol: 'grpc', env: { OTEL_EXPORTER_OTLP_ENDPOINT: grpcEndpoint } },
    { protocol: 'http/protobuf', env: { OTEL_EXPORTER_OTLP_ENDPOINT: httpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } },
    { protocol: 'http/json', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${httpEndpoint}v1/traces`, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' } },
  ];

  for (const flavour of flavours) {
    await t.test(`over ${flavour.protocol}`, async (t) => {
      received.length = 0;
      requests.length = 0;
      const pipeline = createSpanExporterPipeline(
        { ...flavour.env, OTEL_EXPORTER_OTLP_HEADERS: 'x-meshtap-test=e2e', OTEL_BSP_SCHEDULE_DELAY: '20', MESHTAP_CLUSTER_NAME: 'lab' },
        { version: '0.0.0-test' },
      );
      for (const r of records) pipeline.export(r);
      await pipeline.flush();
      await waitFor('spans at the receiver', () => received.length > 0);
      await pipeline.shutdown();

      const st = pipeline.stats();
      t.equal(st.protocol, flavour.protocol);
      t.equal(st.exported, records.length);
      t.equal(st.failed, 0);

      // One export request, with our header.
      t.equal(received.length, 1, 'one batch');
      const req = requests.find((r) => r.path.endsWith('/v1/traces') || r.path.endsWith('TraceService/Export'));
      t.ok(req, 'trace request seen');
      if (flavour.protocol === 'grpc') {
        t.equal(req!.transport, 'grpc');
        t.same(req!.metadata.get('x-meshtap-test'), ['e2e']);
      } else {
        t.equal(req!.transport, 'http');
        t.equal(req!.headers!['x-meshtap-test'], 'e2e');
        t.equal(req!.headers!['content-type'], flavour.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
      }

      const resources = normalize(received[0]);
      // One resource per workload, each with its Kubernetes identity.
      t.same(resources.map((r) => r.attributes['service.name']).sort(), ['frontend', 'gateway', 'payment']);
      const byService = new Map(resources.map((r) => [r.attributes['service.name'] as string, r]));
      t.same(byService.get('frontend')!.attributes, {
        'service.name': 'frontend',
        'service.namespace': 'shop',
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': 'frontend-7d9f8b6c4-x2k9p',
        'k8s.pod.uid': '0b5c6a52-8f63-4f7b-9d0e-3c1a2b4d5e6f',
        'k8s.node.name': 'node-a',
        'k8s.deployment.name': 'frontend',
        'k8s.cluster.name': 'lab',
      });
      t.same(byService.get('gateway')!.attributes, {
        'service.name': 'gateway',
        'service.namespace': 'shop',
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': 'gateway-0',
        'k8s.node.name': 'node-b',
        'k8s.statefulset.name': 'gateway',
        'k8s.cluster.name': 'lab',
      });
      t.same(byService.get('payment')!.attributes, {
        'service.name': 'payment',
        'service.namespace': 'payments',
        'k8s.namespace.name': 'payments',
        'k8s.pod.name': 'payment-5c7d9-q8w2e',
        'k8s.node.name': 'node-a',
        'k8s.deployment.name': 'payment',
        'k8s.cluster.name': 'lab',
      });
      for (const r of resources) {
        t.equal(r.scopes.length, 1);
        t.equal(r.scopes[0].name, 'meshtap');
        t.equal(r.scopes[0].version, '0.0.0-test');
      }

      // Every span sits under the resource of the workload that observed it.
      const spans = new Map<string, NSpan & { service: string }>();
      for (const r of resources) for (const s of r.scopes[0].spans) spans.set(s.attributes['meshtap.call_id'] as string, { ...s, service: r.attributes['service.name'] as string });
      t.equal(spans.size, records.length);
      const get = (rec: CallRecord) => {
        const s = spans.get(rec.id);
        if (s === undefined) throw new Error(`span for ${rec.id} missing`);
        return s;
      };
      for (const rec of records) {
        const s = get(rec);
        t.equal(s.service, rec.observer === 'outbound' ? rec.src.workload : rec.dst.workload, `${rec.id}: resource`);
        t.equal(s.kind, rec.observer === 'outbound' ? CLIENT : SERVER, `${rec.id}: kind`);
        t.equal(s.start, rec.start.toString(), `${rec.id}: start exact`);
        t.equal(s.end, rec.end.toString(), `${rec.id}: end exact`);
        t.equal(s.spanId, sha(`${rec.observer === 'outbound' ? 'client' : 'server'}|${rec.connection_id}|${rec.ordinal}`, 8), `${rec.id}: span id`);
        // The wire carried exactly what the mapper built.
        t.same(s.attributes, createSpanMapper({ version: 'x' }).toSpan(rec).attributes, `${rec.id}: attributes intact`);
      }

      // The tree: each meshed hop's SERVER span is a child of its CLIENT span.
      for (const h of [hopFrontendGateway, hopGatewayPayment, hopB3, hopRequestId1, hopRequestId2, hopNoContext]) {
        const c = get(h.outbound);
        const s = get(h.inbound);
        t.equal(s.traceId, c.traceId, `${h.outbound.id}: one trace`);
        t.equal(s.parentSpanId, c.spanId, `${h.outbound.id}: server under client`);
        t.equal(s.name, c.name);
      }
      // Joined traces: app spans are the CLIENT spans' parents.
      t.equal(get(hopFrontendGateway.outbound).traceId, TRACE_A);
      t.equal(get(hopFrontendGateway.outbound).parentSpanId, APP_SPAN_FRONTEND);
      t.equal(get(hopFrontendGateway.outbound).traceState, 'vendor=abc');
      t.equal(get(hopGatewayPayment.outbound).traceId, TRACE_A);
      t.equal(get(hopGatewayPayment.outbound).parentSpanId, APP_SPAN_GATEWAY);
      t.equal(get(hopB3.outbound).traceId, TRACE_B3);
      t.equal(get(hopB3.outbound).parentSpanId, B3_PARENT);
      // x-request-id: two hops, one trace, roots of their own.
      t.equal(get(hopRequestId1.outbound).traceId, sha(`x-request-id|${REQUEST_ID}`, 16));
      t.equal(get(hopRequestId2.outbound).traceId, get(hopRequestId1.outbound).traceId);
      t.equal(get(hopRequestId1.outbound).parentSpanId, undefined);
      // Nothing to join: a trace of its own.
      t.equal(get(hopNoContext.outbound).traceId, sha('trace|c-fe-gw|2', 16));
      t.equal(get(hopNoContext.outbound).parentSpanId, undefined);
      t.equal(get(redisCall).traceId, sha('trace|c-gw-redis|0', 16));

      // Names, statuses, a few attributes spelled out.
      t.equal(get(hopFrontendGateway.outbound).name, 'GET /api/orders/{id}');
      t.equal(get(hopGatewayPayment.inbound).name, 'POST /payments/{id}/capture');
      t.equal(get(redisCall).name, 'tcp');
      t.same(get(hopGatewayPayment.outbound).status, { code: 2 });
      t.same(get(hopGatewayPayment.inbound).status, { code: 2 });
      t.same(get(hopB3.outbound).status, { code: 2 });
      t.same(get(hopB3.inbound).status, { code: 0 });
      t.same(get(redisCall).status, { code: 2, message: 'reset' });
      const payClient = get(hopGatewayPayment.outbound).attributes;
      t.equal(payClient['http.request.method'], 'POST');
      t.equal(payClient['http.response.status_code'], 502);
      t.equal(payClient['error.type'], '502');
      t.equal(payClient['server.address'], 'payment.payments');
      t.equal(payClient['meshtap.tls.mesh'], true);
      t.equal(payClient['meshtap.peer.identity'], 'spiffe://cluster.local/ns/payments/sa/payment');
      t.equal(get(hopFrontendGateway.inbound).attributes['client.address'], '10.244.0.10');
      t.equal(get(hopFrontendGateway.outbound).attributes['url.query'], 'token=****&expand=items');

      // Events, with exact times.
      t.same(get(hopGatewayPayment.outbound).events, [
        {
          name: 'meshtap.body_truncated',
          time: hopGatewayPayment.outbound.end.toString(),
          attributes: { 'meshtap.body.side': 'response', 'meshtap.body.captured_size': 16, 'meshtap.body.size': 70_000 },
        },
      ]);
      t.same(get(hopFrontendGateway.outbound).events, [
        { name: 'meshtap.masked', time: hopFrontendGateway.outbound.start.toString(), attributes: { 'meshtap.redacted': ['request.headers.authorization', 'request.query.token'] } },
        { name: 'meshtap.sensitive', time: hopFrontendGateway.outbound.start.toString(), attributes: { 'meshtap.sensitive': ['jwt'] } },
      ]);
    });
  }

  await t.test('no endpoint: nothing is sent', async (t) => {
    received.length = 0;
    requests.length = 0;
    const pipeline = createSpanExporterPipeline({ OTEL_BSP_SCHEDULE_DELAY: '1' });
    t.equal(pipeline.enabled, false);
    for (const r of records) pipeline.export(r);
    await pipeline.flush();
    await new Promise((r) => setTimeout(r, 200));
    await pipeline.shutdown();
    t.equal(received.length, 0);
    t.equal(requests.length, 0);
    t.equal(pipeline.stats().state, 'disabled');
  });
});

void t.test('a receiver that is down: failures are counted, nothing throws', async (t) => {
  // Bind and close a port so nothing listens on it.
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));

  const pipeline = createSpanExporterPipeline({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_TIMEOUT: '500',
    OTEL_BSP_SCHEDULE_DELAY: '10',
  });
  for (const r of records) pipeline.export(r);
  await pipeline.flush();
  await pipeline.shutdown();
  const st = pipeline.stats();
  t.equal(st.exported, 0);
  t.equal(st.failed, records.length);
  t.ok(st.lastError, `last error: ${st.lastError}`);
});
