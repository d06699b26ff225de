/**
 * Linked flows across hops become one trace at the collector, whatever the order in which the
 * records arrive: through the real ingest, into the memory and SQLite stores.
 */
import t from 'tap';
import fc from 'fast-check';
import { createIngest, type Ingest } from '../../collector/ingest.ts';
import { createMemoryStore } from '../../collector/memory-store.ts';
import { createCollectorMetrics } from '../../collector/metrics.ts';
import type { RecordStore } from '../../collector/record-store.ts';
import { createSqliteStore } from '../../collector/store/sqlite-store.ts';
import { createTraceLinks, type TraceLinks } from '../../collector/trace-links.ts';
import { buildTrace } from '../../collector/traces.ts';
import { silentLogger } from '../../lib/log.ts';
import { recordToProto } from '../../record/codec.ts';
import type { CallRecord } from '../../record/record.ts';
import { clientSpanId, derivedTraceId, serverSpanId } from '../../record/trace-ids.ts';
import { inboundTraceId } from '../../sidecar/capture/flow-links.ts';
import { hop, message, FRONTEND, GATEWAY, PAYMENT } from './otel/records.ts';

const APP_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${APP_TRACE}-00f067aa0ba902b7-01`;
/** Each generated flow's app starts its own trace. */
const appTrace = (name: string): string => derivedTraceId(`app|${name}`, 0);
const appTraceparent = (name: string): string => `00-${appTrace(name)}-00f067aa0ba902b7-01`;
const PODS = [FRONTEND, GATEWAY, PAYMENT, { ...PAYMENT, pod: 'ledger-0', workload: 'ledger', ip: '10.244.0.13' }, { ...PAYMENT, pod: 'bank-0', workload: 'bank', ip: '10.244.0.14' }];

interface FlowSpec {
  name: string;
  hops: number;
  ordinals: number[];
  /** The first app sends a traceparent (and no app after it propagates one). */
  rootHeader: boolean;
  /**
   * The app at this pod (1 … hops - 1) starts a trace of its own for its call, as a tracing SDK
   * does for a request without context: that hop carries `mintedTrace`, and its sidecar names
   * the inbound call's trace (`caused_by_trace_id`). Never the pod right after a root header,
   * whose request had a context the app could have kept.
   */
  mintAt?: number;
}

/** The trace the app at `mintAt` starts. */
const mintedTrace = (name: string): string => derivedTraceId(`minted|${name}`, 0);

/**
 * The records two sidecars per hop would ship for a chain pod0 → pod1 → … with apps that
 * propagate nothing: each middle sidecar links its outbound call to its inbound one
 * (`flow-links.ts`), in the ids the collector derives the same way.
 */
function flowRecords(spec: FlowSpec): CallRecord[] {
  const out: CallRecord[] = [];
  for (let i = 0; i < spec.hops; i++) {
    const connection = `${spec.name}-h${i}`;
    const minted = i === spec.mintAt;
    const headerFor = (j: number): Record<string, string> =>
      j === 0 && spec.rootHeader ? { traceparent: appTraceparent(spec.name) } : j === spec.mintAt ? { traceparent: `00-${mintedTrace(spec.name)}-${'5'.repeat(16)}-01` } : {};
    const headers = headerFor(i);
    const { outbound, inbound } = hop({
      connection,
      ordinal: spec.ordinals[i],
      from: PODS[i],
      to: PODS[i + 1],
      at: BigInt(i) * 1_000_000n,
      method: 'GET',
      path: `/hop${i}`,
      status: 200,
      request: message(headers),
    });
    if (i === 0 && spec.rootHeader) {
      // What the HTTP/1 session puts into both sides' records from the header.
      for (const r of [outbound, inbound]) {
        r.trace_id = appTrace(spec.name);
        r.parent_span_id = '00f067aa0ba902b7';
      }
    }
    if (minted) {
      for (const r of [outbound, inbound]) {
        r.trace_id = mintedTrace(spec.name);
        r.parent_span_id = '5'.repeat(16);
      }
    }
    if (i > 0) {
      const prevConnection = `${spec.name}-h${i - 1}`;
      const prevOrdinal = spec.ordinals[i - 1];
      const prevTrace = inboundTraceId(prevConnection, { ordinal: prevOrdinal, start: 0n, headers: headerFor(i - 1) });
      if (minted) {
        outbound.caused_by_trace_id = prevTrace;
        outbound.caused_by_span_id = serverSpanId(prevConnection, prevOrdinal);
      } else {
        outbound.trace_id = prevTrace;
        outbound.parent_span_id = serverSpanId(prevConnection, prevOrdinal);
        outbound.link_confidence = 1;
      }
    }
    if (spec.mintAt !== undefined && i > 0) {
      // Each hop inside the one before it, as a real flow is.
      const prev = out[out.length - 1];
      const inner = (r: CallRecord, from: bigint, to: bigint) => {
        r.start = from;
        r.end = to;
        delete r.request_end;
        delete r.response_start;
        r.elapsed_us = Number((to - from) / 1000n);
      };
      inner(outbound, prev.start + 10_000n, prev.end - 10_000n);
      inner(inbound, outbound.start + 10_000n, outbound.end - 10_000n);
    }
    out.push(outbound, inbound);
  }
  return out;
}

function expectedTrace(spec: FlowSpec): string {
  return spec.rootHeader ? appTrace(spec.name) : derivedTraceId(`${spec.name}-h0`, spec.ordinals[0]);
}

function ingestInto(store: RecordStore, links: TraceLinks, nowMs: () => number = () => 1_000): Ingest {
  return createIngest({ store, metrics: createCollectorMetrics(() => store.count()), log: silentLogger, traceLinks: links, nowMs });
}

async function send(ingest: Ingest, records: readonly CallRecord[], seq = 1): Promise<void> {
  const ack = await ingest.batch({ seq: String(seq), sidecar: SIDECAR, records: records.map((r) => recordToProto(r)) }, 'test');
  if (ack.rejected !== 0 || ack.error !== undefined) throw new Error(`batch rejected: ${JSON.stringify(ack)}`);
}

async function allStored(store: RecordStore): Promise<CallRecord[]> {
  return store.list({ limit: 100_000 });
}

const flowSpec = (name: string) =>
  fc.record({
    hops: fc.integer({ min: 1, max: 4 }),
    ordinals: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
    rootHeader: fc.boolean(),
    mint: fc.nat(),
  }).map(({ mint, ...s }): FlowSpec => {
    // A minting app somewhere after the first pod, in about half the flows that have room for one.
    const first = s.rootHeader ? 2 : 1;
    const room = s.hops - first;
    return room > 0 && mint % 2 === 0 ? { ...s, name, mintAt: first + (mint >> 1) % room } : { ...s, name };
  });

const SIDECAR = { pod: 'p', namespace: 'ns', pod_ip: '10.0.0.1', node: 'n', service_account: 'sa', sidecar_version: 'v' };

void t.test('property: any arrival order, batching and re-sends end in one trace per flow, one tree each', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      flowSpec('fa'),
      flowSpec('fb'),
      fc.infiniteStream(fc.nat()),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 8 }),
      async (a, b, order, resend, batchSizes) => {
        const records = [...flowRecords(a), ...flowRecords(b)];
        // A shuffle drawn from the stream, plus a few re-sent records anywhere.
        const arrival = records.map((r) => r);
        const it = order[Symbol.iterator]();
        for (let i = arrival.length - 1; i > 0; i--) {
          const j = it.next().value! % (i + 1);
          [arrival[i], arrival[j]] = [arrival[j], arrival[i]];
        }
        for (const n of resend) arrival.splice(it.next().value! % (arrival.length + 1), 0, records[n % records.length]);
        const store = createMemoryStore({ maxRecords: 1000 });
        const links = createTraceLinks();
        const ingest = ingestInto(store, links);
        let at = 0;
        for (let k = 0; at < arrival.length; k++) {
          const size = batchSizes[k % batchSizes.length];
          await send(ingest, structuredClone(arrival.slice(at, at + size)), k);
          at += size;
        }
        const stored = await allStored(store);
        if (stored.length !== records.length) return false;
        for (const spec of [a, b]) {
          const trace = expectedTrace(spec);
          const mine = stored.filter((r) => r.connection_id.startsWith(`${spec.name}-`));
          if (!mine.every((r) => r.trace_id === trace)) return false;
          const byTrace = await store.byTrace(trace);
          if (byTrace.length !== spec.hops * 2) return false;
          // Every derived id of the flow resolves to the final one (what the exports use).
          for (let i = 0; i < spec.hops; i++) {
            const own = derivedTraceId(`${spec.name}-h${i}`, spec.ordinals[i]);
            // Hop 0's id is never aliased (it is the root, or unused under the app's header), nor a
            // minted hop's (unused under the minted header).
            if (links.resolve(own) !== (i === 0 || i === spec.mintAt ? own : trace)) return false;
          }
          if (spec.mintAt !== undefined && links.resolve(mintedTrace(spec.name)) !== trace) return false;
          // One tree: a single root (the first CLIENT span), every other record under one parent.
          const tree = buildTrace(byTrace);
          if (tree.filter((e) => e.parentId === undefined).length !== 1) return false;
          if (Math.max(...tree.map((e) => e.depth)) !== spec.hops * 2 - 1) return false;
        }
        return true;
      },
    ),
    { numRuns: 150 },
  );
  t.pass('held for every generated stream');
});

void t.test('late twin: the inbound record is stored under its own id, then moved with what was linked to it (SQLite)', async (t) => {
  const store = createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 });
  t.teardown(() => store.close());
  const links = createTraceLinks();
  const ingest = ingestInto(store, links);
  const spec: FlowSpec = { name: 'late', hops: 3, ordinals: [0, 1, 0], rootHeader: false };
  const [o0, i0, o1, i1, o2, i2] = flowRecords(spec);
  const final = expectedTrace(spec);
  const middle = derivedTraceId('late-h1', 1);
  // The far end first: pod2's inbound and the call it linked, then pod1's call, then hop 0.
  await send(ingest, [i1, o2]);
  await send(ingest, [i2]);
  t.same((await store.byTrace(middle)).map((r) => r.id).sort(), [i1.id, o2.id, i2.id].sort(), 'hop 1 and 2 share pod2\'s derived id for now');
  await send(ingest, [o1]);
  t.equal((await store.byTrace(middle)).length, 0, 'moved off the old id once the twin came');
  await send(ingest, [i0, o0]);
  const stored = await store.byTrace(final);
  t.equal(stored.length, 6, 'all six in the final trace');
  t.equal((await store.get(i2.id))?.trace_id, final, 'the stored record itself was rewritten');
  t.equal(links.resolve(middle), final);
  t.equal(links.resolve(derivedTraceId('late-h2', 0)), final, 'pod3\'s derived id too (a chain of two aliases)');
  t.equal(links.stats().aliased, 2);
  // A re-send of the far end's record changes nothing and lands in the final trace.
  await send(ingest, [i2]);
  t.equal((await store.byTrace(final)).length, 6);
});

void t.test('an inbound record with its own traceparent keeps it; an unmeshed one has no twin', async (t) => {
  const store = createMemoryStore({ maxRecords: 100 });
  const links = createTraceLinks();
  const ingest = ingestInto(store, links);
  const { outbound, inbound } = hop({ connection: 'own', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n, request: message({ traceparent: TRACEPARENT }) });
  // A client sidecar that (wrongly) put another trace on the client side: the server keeps the app's.
  outbound.trace_id = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  delete outbound.request;
  await send(ingest, [outbound, inbound]);
  t.equal((await store.get(inbound.id))?.trace_id, APP_TRACE);
  t.equal(links.stats().aliased, 0);
  const plain = hop({ connection: 'plain', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n, mesh: false });
  plain.outbound.trace_id = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
  await send(ingest, [plain.outbound, plain.inbound]);
  t.equal((await store.get(plain.inbound.id))?.trace_id, derivedTraceId('plain', 0), 'unmeshed: connection ids differ in reality, nothing is joined');
  t.equal(links.stats().exchanges, 1, 'only the meshed hop is remembered');
});

void t.test('bounds: aliases and hops are capped by count and age, evictions counted', async (t) => {
  let now = 0;
  const links = createTraceLinks({ maxAliases: 2, aliasTtlMs: 1000, maxExchanges: 3, exchangeTtlMs: 500 });
  const store = createMemoryStore({ maxRecords: 100 });
  const ingest = ingestInto(store, links, () => now);
  for (let i = 0; i < 4; i++) {
    const { outbound, inbound } = hop({ connection: `b${i}`, ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n });
    outbound.trace_id = `${String(i + 1).repeat(32)}`;
    await send(ingest, [inbound, outbound], i);
  }
  const s = links.stats();
  t.equal(s.aliased, 4);
  t.equal(s.aliases, 2);
  t.equal(s.aliases_evicted_full, 2);
  t.equal(s.exchanges, 3);
  t.equal(s.exchanges_evicted_full, 1);
  t.equal(links.resolve(derivedTraceId('b0', 0)), derivedTraceId('b0', 0), 'an evicted alias no longer resolves');
  t.equal(links.resolve(derivedTraceId('b3', 0)), '4'.repeat(32));
  now = 2000;
  await send(ingest, [hop({ connection: 'later', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n }).inbound], 9);
  t.equal(links.stats().aliases, 0);
  t.equal(links.stats().aliases_evicted_age, 2);
  t.equal(links.stats().exchanges, 1, 'expired hops went, the new one stays');
});

void t.test('chains resolve to the root whatever order the aliases were made in', async (t) => {
  const links = createTraceLinks();
  const ids = ['1', '2', '3', '4'].map((c) => c.repeat(32));
  const mk = (connection: string, observer: 'inbound' | 'outbound', trace: string): CallRecord => {
    const h = hop({ connection, ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n });
    const r = observer === 'inbound' ? h.inbound : h.outbound;
    r.trace_id = trace;
    return r;
  };
  // 4 → 3 made first, then 3 → 2, then 2 → 1: each alias joins roots.
  links.observe(mk('x', 'inbound', ids[3]), 'derived', 0);
  links.observe(mk('x', 'outbound', ids[2]), 'record', 0);
  links.observe(mk('y', 'outbound', ids[1]), 'record', 0);
  const r = links.observe(mk('y', 'inbound', ids[2]), 'derived', 0);
  t.same(r, { traceId: ids[1], rewrites: [{ from: ids[2], to: ids[1] }] });
  const last = links.observe(mk('z', 'inbound', ids[1]), 'x-request-id', 0);
  t.same(last.rewrites, []);
  links.observe(mk('z', 'outbound', ids[0]), 'record', 0);
  for (const id of ids) t.equal(links.resolve(id), ids[0]);
  t.equal(clientSpanId('z', 0).length, 16);
});
