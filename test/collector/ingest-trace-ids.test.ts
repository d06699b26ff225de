/** Every stored record carries the ids of the span it becomes, as the span export derives them. */
import t from 'tap';
import { createIngest } from '../../collector/ingest.ts';
import { createMemoryStore } from '../../collector/memory-store.ts';
import { createCollectorMetrics } from '../../collector/metrics.ts';
import { deriveSpanIds } from '../../collector/otel/ids.ts';
import { createSpanMapper } from '../../collector/otel/span-mapper.ts';
import { silentLogger } from '../../lib/log.ts';
import { recordToProto } from '../../record/codec.ts';
import { clientSpanId, derivedTraceId, requestIdTraceId, serverSpanId } from '../../record/trace-ids.ts';
import { hop, message, FRONTEND, GATEWAY } from './otel/records.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

const SIDECAR = { pod: 'p', namespace: 'ns', pod_ip: '10.0.0.1', node: 'n', service_account: 'sa', sidecar_version: 'v' };

void t.test('ids filled at ingest: derived, traceparent, x-request-id; they match the span export', async (t) => {
  const store = createMemoryStore({ maxRecords: 100 });
  const ingest = createIngest({ store, metrics: createCollectorMetrics(() => store.count()), log: silentLogger });
  const bare = hop({ connection: 'c-bare', ordinal: 2, from: FRONTEND, to: GATEWAY, at: 0n, request: message({}) });
  const traced = hop({ connection: 'c-tp', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n, request: message({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01` }) });
  const rid = hop({ connection: 'c-rid', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n, request: message({ 'x-request-id': 'abc' }), mesh: false });
  const all = [bare.outbound, bare.inbound, traced.outbound, traced.inbound, rid.outbound, rid.inbound];
  const ack = await ingest.batch({ seq: '1', sidecar: SIDECAR, records: all.map((r) => recordToProto(r)) }, 'test');
  t.equal(ack.accepted, 6);

  const get = async (id: string) => (await store.get(id))!;
  const bo = await get(bare.outbound.id);
  t.equal(bo.trace_id, derivedTraceId('c-bare', 2));
  t.equal(bo.span_id, clientSpanId('c-bare', 2));
  t.equal(bo.parent_span_id, undefined, 'a root');
  const bi = await get(bare.inbound.id);
  t.equal(bi.trace_id, derivedTraceId('c-bare', 2));
  t.equal(bi.span_id, serverSpanId('c-bare', 2));
  t.equal(bi.parent_span_id, clientSpanId('c-bare', 2), 'meshed: under the CLIENT span');

  const to = await get(traced.outbound.id);
  t.equal(to.trace_id, TRACE);
  t.equal(to.parent_span_id, '00f067aa0ba902b7');
  t.equal((await get(traced.inbound.id)).trace_id, TRACE);

  const ri = await get(rid.inbound.id);
  t.equal(ri.trace_id, requestIdTraceId('abc'));
  t.equal(ri.parent_span_id, undefined, 'unmeshed, no parent given');

  const mapper = createSpanMapper({ version: 'test' });
  // What the API serves is what the span export sends, record for record.
  for (const record of await store.list({ limit: 10 })) {
    const ids = deriveSpanIds(record);
    t.equal(ids.traceId, record.trace_id, `${record.id} trace`);
    t.equal(ids.spanId, record.span_id, `${record.id} span`);
    t.equal(ids.parentSpanId, record.parent_span_id, `${record.id} parent`);
    const span = mapper.toSpan(record);
    t.equal(span.spanContext().traceId, record.trace_id, `${record.id} exported trace`);
  }
  t.equal((await store.byTrace(TRACE)).length, 2, 'the trace index has them');
});

void t.test('a linked record keeps its source in the span: linked, with its confidence', async (t) => {
  const store = createMemoryStore({ maxRecords: 10 });
  const ingest = createIngest({ store, metrics: createCollectorMetrics(() => store.count()), log: silentLogger });
  const h = hop({ connection: 'c-l', ordinal: 0, from: GATEWAY, to: FRONTEND, at: 0n, request: message({}) });
  h.outbound.trace_id = TRACE;
  h.outbound.parent_span_id = serverSpanId('c-up', 0);
  h.outbound.link_confidence = 0.5;
  await ingest.batch({ seq: '1', sidecar: SIDECAR, records: [recordToProto(h.outbound), recordToProto(h.inbound)] }, 'test');
  const mapper = createSpanMapper({ version: 'test' });
  const linked = mapper.toSpan((await store.get(h.outbound.id))!);
  t.equal(linked.attributes['meshtap.trace_context'], 'linked');
  t.equal(linked.attributes['meshtap.link_confidence'], 0.5);
  t.equal(linked.parentSpanContext?.spanId, serverSpanId('c-up', 0));
  const derived = mapper.toSpan((await store.get(h.inbound.id))!);
  t.equal(derived.attributes['meshtap.trace_context'], 'derived', 'a filled-in derived id still says derived');
});

void t.test('records without a connection id never share one trace', async (t) => {
  const store = createMemoryStore({ maxRecords: 10 });
  const ingest = createIngest({ store, metrics: createCollectorMetrics(() => store.count()), log: silentLogger });
  const a = hop({ connection: '', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n, mesh: false }).outbound;
  const b = { ...a, id: 'other-record' };
  await ingest.batch({ seq: '1', sidecar: SIDECAR, records: [recordToProto(a), recordToProto(b)] }, 'test');
  const [ta, tb] = [(await store.get(a.id))!.trace_id, (await store.get(b.id))!.trace_id];
  t.ok(ta !== undefined && tb !== undefined);
  t.not(ta, tb);
  t.equal((await store.byTrace(ta!)).length, 1);
});
