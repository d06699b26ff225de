import { createHash } from 'node:crypto';
import t from 'tap';
import {
  clientSpanId,
  deriveSpanIds,
  derivedTraceId,
  parseB3,
  parseTraceparent,
  requestIdTraceId,
  resolveIncomingContext,
  serverSpanId,
} from '../../../collector/otel/ids.ts';
import {
  APP_SPAN_FRONTEND,
  B3_PARENT,
  FRONTEND,
  GATEWAY,
  REQUEST_ID,
  TRACE_A,
  TRACE_B3,
  hop,
  hopB3,
  hopFrontendGateway,
  hopNoContext,
  hopRequestId1,
  hopRequestId2,
  message,
} from './records.ts';

/** The documented derivation, written out independently of the module under test. */
function sha(input: string, bytes: number): string {
  return createHash('sha256').update(input).digest('hex').slice(0, bytes * 2);
}

void t.test('span ids: first 8 bytes of sha256 of side|connection|ordinal', async (t) => {
  t.equal(clientSpanId('conn-1', 7), sha('client|conn-1|7', 8));
  t.equal(serverSpanId('conn-1', 7), sha('server|conn-1|7', 8));
  t.equal(derivedTraceId('conn-1', 7), sha('trace|conn-1|7', 16));
  t.equal(requestIdTraceId('abc'), sha('x-request-id|abc', 16));
  t.not(clientSpanId('conn-1', 7), serverSpanId('conn-1', 7));
  t.not(clientSpanId('conn-1', 7), clientSpanId('conn-1', 8));
  t.not(clientSpanId('conn-1', 7), clientSpanId('conn-2', 7));
  t.match(clientSpanId('x', 0), /^[0-9a-f]{16}$/);
  t.match(derivedTraceId('x', 0), /^[0-9a-f]{32}$/);
});

void t.test('both sides of a meshed call: same trace, server parent = client span', async (t) => {
  for (const h of [hopFrontendGateway, hopB3, hopRequestId1, hopNoContext]) {
    const c = deriveSpanIds(h.outbound);
    const s = deriveSpanIds(h.inbound);
    t.equal(c.traceId, s.traceId, `${h.outbound.id}: same trace id`);
    t.equal(c.spanId, clientSpanId(h.outbound.connection_id, h.outbound.ordinal));
    t.equal(s.spanId, serverSpanId(h.inbound.connection_id, h.inbound.ordinal));
    t.equal(s.parentSpanId, c.spanId, `${h.outbound.id}: server parent is the client span`);
    t.not(c.spanId, s.spanId);
  }
});

void t.test('no context: a derived trace, client span is a root', async (t) => {
  const c = deriveSpanIds(hopNoContext.outbound);
  t.equal(c.source, 'derived');
  t.equal(c.traceId, sha(`trace|${hopNoContext.outbound.connection_id}|${hopNoContext.outbound.ordinal}`, 16));
  t.equal(c.parentSpanId, undefined);
});

void t.test('traceparent joins the trace; the client span parents on the caller span', async (t) => {
  const c = deriveSpanIds(hopFrontendGateway.outbound);
  t.same(c, {
    traceId: TRACE_A,
    spanId: sha('client|c-fe-gw|0', 8),
    parentSpanId: APP_SPAN_FRONTEND,
    traceState: 'vendor=abc',
    source: 'traceparent',
  });
  const s = deriveSpanIds(hopFrontendGateway.inbound);
  t.same(s, { traceId: TRACE_A, spanId: sha('server|c-fe-gw|0', 8), parentSpanId: sha('client|c-fe-gw|0', 8), traceState: 'vendor=abc', source: 'traceparent' });
});

void t.test('b3 multi and single headers join the trace', async (t) => {
  const c = deriveSpanIds(hopB3.outbound);
  t.equal(c.traceId, TRACE_B3);
  t.equal(c.parentSpanId, B3_PARENT);
  t.equal(c.source, 'b3');
  const single = hop({ connection: 'k', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n, method: 'GET', path: '/', request: message({ b3: `${TRACE_B3}-${B3_PARENT}-1` }) });
  t.same(resolveIncomingContext(single.outbound), { traceId: TRACE_B3, parentSpanId: B3_PARENT, source: 'b3' });
  // 64-bit B3 trace ids are left-padded to 128 bits.
  t.same(parseB3({ b3: 'a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90' }), { traceId: '0000000000000000a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' });
  // Sampling-only and malformed headers carry no context.
  t.equal(parseB3({ b3: '0' }), undefined);
  t.equal(parseB3({ b3: 'zz-yy' }), undefined);
  t.equal(parseB3({ 'x-b3-traceid': TRACE_B3 }), undefined);
});

void t.test('traceparent parsing', async (t) => {
  t.same(parseTraceparent(`00-${TRACE_A}-${APP_SPAN_FRONTEND}-01`), { traceId: TRACE_A, parentSpanId: APP_SPAN_FRONTEND, flags: 1 });
  t.same(parseTraceparent(`00-${TRACE_A}-${APP_SPAN_FRONTEND}-00`), { traceId: TRACE_A, parentSpanId: APP_SPAN_FRONTEND, flags: 0 });
  // Future versions may append fields; version 00 may not.
  t.ok(parseTraceparent(`01-${TRACE_A}-${APP_SPAN_FRONTEND}-01-extra`));
  t.equal(parseTraceparent(`00-${TRACE_A}-${APP_SPAN_FRONTEND}-01-extra`), undefined);
  t.equal(parseTraceparent(`ff-${TRACE_A}-${APP_SPAN_FRONTEND}-01`), undefined);
  t.equal(parseTraceparent(`00-${'0'.repeat(32)}-${APP_SPAN_FRONTEND}-01`), undefined);
  t.equal(parseTraceparent(`00-${TRACE_A}-${'0'.repeat(16)}-01`), undefined);
  t.equal(parseTraceparent(`00-${TRACE_A.slice(1)}-${APP_SPAN_FRONTEND}-01`), undefined);
  t.equal(parseTraceparent('garbage'), undefined);
  t.equal(parseTraceparent(undefined), undefined);
  t.equal(parseTraceparent(`00-${TRACE_A}-${APP_SPAN_FRONTEND}-01`.padEnd(600, ' ')), undefined, 'oversized header ignored');
});

void t.test('precedence: traceparent over b3 over record fields over x-request-id', async (t) => {
  const both = hop({
    connection: 'p',
    ordinal: 0,
    from: FRONTEND,
    to: GATEWAY,
    at: 0n,
    method: 'GET',
    path: '/',
    request: message({ traceparent: `00-${TRACE_A}-${APP_SPAN_FRONTEND}-01`, b3: `${TRACE_B3}-${B3_PARENT}`, 'x-request-id': 'r' }),
  }).outbound;
  t.equal(resolveIncomingContext(both).source, 'traceparent');

  const bad = { ...both, request: message({ traceparent: 'nonsense', b3: `${TRACE_B3}-${B3_PARENT}` }) };
  t.equal(resolveIncomingContext(bad).source, 'b3', 'an invalid traceparent falls through');

  const fromRecord = { ...both, request: message({ 'x-request-id': 'r' }), trace_id: TRACE_B3.toUpperCase(), parent_span_id: B3_PARENT };
  t.same(resolveIncomingContext(fromRecord), { traceId: TRACE_B3, parentSpanId: B3_PARENT, source: 'record' });

  const recordNoParent = { ...both, request: message({}), trace_id: TRACE_B3 };
  t.same(resolveIncomingContext(recordNoParent), { traceId: TRACE_B3, source: 'record' });

  const badRecord = { ...both, request: message({ 'x-request-id': 'r' }), trace_id: 'xyz' };
  t.equal(resolveIncomingContext(badRecord).source, 'x-request-id');

  const noRequest = { ...both, request: undefined };
  t.equal(resolveIncomingContext(noRequest).source, 'derived');
});

void t.test('x-request-id: every hop of one request shares a trace, without parents', async (t) => {
  const a = deriveSpanIds(hopRequestId1.outbound);
  const b = deriveSpanIds(hopRequestId2.outbound);
  t.equal(a.source, 'x-request-id');
  t.equal(a.traceId, sha(`x-request-id|${REQUEST_ID}`, 16));
  t.equal(b.traceId, a.traceId);
  t.equal(a.parentSpanId, undefined);
  t.equal(deriveSpanIds(hopRequestId1.inbound).parentSpanId, a.spanId);
});

void t.test('unmeshed inbound: no client sidecar, the server span takes the incoming parent', async (t) => {
  const plain = hop({
    connection: 'plain',
    ordinal: 2,
    from: FRONTEND,
    to: GATEWAY,
    at: 0n,
    method: 'GET',
    path: '/',
    mesh: false,
    request: message({ traceparent: `00-${TRACE_A}-${APP_SPAN_FRONTEND}-01` }),
  });
  const s = deriveSpanIds(plain.inbound);
  t.equal(s.traceId, TRACE_A);
  t.equal(s.parentSpanId, APP_SPAN_FRONTEND);
  t.equal(s.spanId, sha('server|plain|2', 8));
  const root = deriveSpanIds({ ...plain.inbound, request: message({}) });
  t.equal(root.parentSpanId, undefined);
});
