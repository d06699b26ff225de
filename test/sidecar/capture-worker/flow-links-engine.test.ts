/**
 * The capture worker's core links outbound exchanges to the inbound request in flight: real
 * parsers (HTTP/1, HTTP/2, gRPC) fed the ops the forwarding thread would post, records out.
 */
import t from 'tap';
import { OP_CLIENT_DATA, OP_CLOSE, OP_META, OP_OPEN, OP_SERVER_DATA, OP_UNREACHABLE } from '../../../sidecar/capture-worker/ops.ts';
import type { ConnectionMeta } from '../../../sidecar/proxy/connection.ts';
import type { CaptureEngine } from '../../../sidecar/capture-worker/capture-engine.ts';
import { derivedTraceId, serverSpanId } from '../../../record/trace-ids.ts';
import { data, headers, PREFACE, settings, TestHpackEncoder } from '../http2/h2-wire.ts';
import { recordingEngine } from './recording-engine.ts';
import type { CallRecord } from '../../../record/record.ts';
import { minimalRecord } from '../../proto/record-fixtures.ts';
import { decodeRecord } from '../../../record/codec.ts';
import { decodeCallRecordMessage } from '../../../record/record-reader.ts';
import { encodeCallRecord } from '../../../record/record-writer.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

const engine = () => recordingEngine('middle');

const enc = (s: string) => new TextEncoder().encode(s);
const meta = (observer: 'inbound' | 'outbound', connectionId: string): ConnectionMeta => ({
  connectionId,
  observer,
  client: { ip: '10.0.0.1', port: 40000 },
  dst: { ip: '10.0.0.2', port: 8080 },
  mesh: observer === 'inbound',
});
const open = (e: CaptureEngine, id: number, m: ConnectionMeta, ms: number) => e.op(OP_OPEN, id, ms, enc(JSON.stringify(m)));

/** An outbound HTTP/1 exchange on connection `id`, request at `ms`, response 1 ms later. */
function outboundCall(e: CaptureEngine, id: number, ms: number, extraHeaders = ''): void {
  open(e, id, meta('outbound', `out-${id}`), ms);
  e.op(OP_CLIENT_DATA, id, ms, enc(`GET /next HTTP/1.1\r\nhost: next\r\n${extraHeaders}content-length: 0\r\n\r\n`));
  e.op(OP_SERVER_DATA, id, ms + 1, enc('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
  e.op(OP_CLOSE, id, ms + 2, enc('fin'));
}

void t.test('HTTP/1 inbound (mesh id from META) → an outbound call without context is linked to it', async (t) => {
  const { engine: e, records } = engine();
  open(e, 1, meta('inbound', 'local-id'), 0);
  // The mesh handshake names the client sidecar's connection id before any byte is captured.
  e.op(OP_META, 1, 0.1, enc(JSON.stringify({ connectionId: 'client-conn' })));
  e.op(OP_CLIENT_DATA, 1, 1, enc('GET /in HTTP/1.1\r\nhost: middle\r\n\r\n'));
  outboundCall(e, 2, 2);
  outboundCall(e, 3, 3, `traceparent: 00-${TRACE}-00f067aa0ba902b7-01\r\n`);
  e.op(OP_SERVER_DATA, 1, 5, enc('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
  e.op(OP_CLOSE, 1, 6, enc('fin'));
  // After the inbound call ended (and its short grace), nothing is linked.
  outboundCall(e, 4, 5000);
  const byConn = new Map(records.map((r) => [r.connection_id, r]));
  const linked = byConn.get('out-2')!;
  t.equal(linked.trace_id, derivedTraceId('client-conn', 0));
  t.equal(linked.parent_span_id, serverSpanId('client-conn', 0));
  t.equal(linked.link_confidence, 1);
  const own = byConn.get('out-3')!;
  t.equal(own.trace_id, TRACE, 'its own traceparent wins');
  t.equal(own.link_confidence, undefined);
  t.equal(own.caused_by_trace_id, derivedTraceId('client-conn', 0), 'a new trace of its own: the inbound call that caused it is named');
  t.equal(own.caused_by_span_id, serverSpanId('client-conn', 0), 'and its SERVER span');
  t.equal(own.parent_span_id, '00f067aa0ba902b7', 'its parent stays the app\'s span');
  t.equal(byConn.get('out-4')!.trace_id, undefined, 'no inbound call in flight');
  t.equal(byConn.get('out-2')!.caused_by_trace_id, undefined, 'a linked call is in that trace already');
  t.equal(e.counters.flowLinks.linked, 1);
  t.equal(e.counters.flowLinks.unlinked, 1);
  t.equal(e.counters.flowLinks.new_trace_joined, 1);
});

void t.test('HTTP/2 and gRPC inbound streams start flows; two in flight give confidence 1/2', async (t) => {
  const { engine: e, records } = engine();
  open(e, 1, meta('inbound', 'h2-conn'), 0);
  const hp = new TestHpackEncoder();
  const block = (path: string, extra: [string, string][] = []) =>
    hp.encode([[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'middle'], ['content-type', 'application/grpc'], ...extra]);
  e.op(OP_CLIENT_DATA, 1, 1, new Uint8Array(Buffer.concat([PREFACE, settings(), headers(1, block('/shop.Cart/Get'))])));
  outboundCall(e, 2, 2);
  e.op(OP_CLIENT_DATA, 1, 3, new Uint8Array(Buffer.concat([headers(3, block('/shop.Cart/Put', [['traceparent', `00-${TRACE}-00f067aa0ba902b7-01`]])), data(3, Buffer.alloc(5), { endStream: true })])));
  outboundCall(e, 4, 4);
  e.op(OP_CLOSE, 1, 10, enc('fin'));
  const byConn = new Map(records.filter((r) => r.observer === 'outbound').map((r) => [r.connection_id, r]));
  t.equal(byConn.get('out-2')!.trace_id, derivedTraceId('h2-conn', 0), 'stream 1 (ordinal 0) was the only one in flight');
  t.equal(byConn.get('out-2')!.link_confidence, 1);
  const second = byConn.get('out-4')!;
  t.equal(second.trace_id, TRACE, 'the most recent stream, with its own traceparent');
  t.equal(second.parent_span_id, serverSpanId('h2-conn', 1));
  t.equal(second.link_confidence, 0.5);
  outboundCall(e, 5, 5, `traceparent: 00-${'ab'.repeat(16)}-00f067aa0ba902b7-01\r\n`);
  const guessed = records.find((r) => r.connection_id === 'out-5')!;
  t.equal(guessed.trace_id, 'ab'.repeat(16), 'its own trace');
  t.equal(guessed.caused_by_trace_id, undefined, 'two inbound streams in flight: no trace is named on a guess');
  t.ok(records.some((r) => r.observer === 'inbound' && r.protocol === 'grpc'), 'the inbound streams were parsed as gRPC');
});

void t.test('a DNS lookup made during an inbound request (encoded on the forwarding thread) is linked to it', async (t) => {
  const { engine: e } = engine();
  open(e, 1, meta('inbound', 'dns-in'), 0);
  e.op(OP_CLIENT_DATA, 1, 1, enc('GET /resolve HTTP/1.1\r\nhost: middle\r\n\r\n'));
  // Op times are ms after the engine's time base; records carry epoch ns.
  const ns = (ms: number) => 1_764_000_000_000_000_000n + BigInt(ms * 1e6);
  const lookup = (at: number, extra: Partial<CallRecord> = {}): CallRecord => ({
    ...minimalRecord(at),
    protocol: 'dns',
    observer: 'outbound',
    start: ns(at),
    end: ns(at + 1),
    method: 'QUERY',
    path: 'catalog.shop.svc.cluster.local A',
    ...extra,
  });
  const linked = decodeRecord(decodeCallRecordMessage(e.linkEncoded(encodeCallRecord(lookup(2)))));
  t.ok(linked.ok);
  if (linked.ok) {
    t.equal(linked.record.trace_id, derivedTraceId('dns-in', 0), 'the inbound request\'s trace');
    t.equal(linked.record.parent_span_id, serverSpanId('dns-in', 0), 'under its SERVER span');
    t.equal(linked.record.link_confidence, 1);
    t.equal(linked.record.path, 'catalog.shop.svc.cluster.local A', 'the rest of the record as it was');
  }
  const before = encodeCallRecord(lookup(-5));
  t.equal(e.linkEncoded(before), before, 'a lookup before the request started: the same bytes');
  const inbound = encodeCallRecord(lookup(3, { observer: 'inbound' }));
  t.equal(e.linkEncoded(inbound), inbound, 'not an outbound record: untouched');
  const garbage = new Uint8Array([0xff, 0xff, 0xff]);
  t.equal(e.linkEncoded(garbage), garbage, 'unreadable bytes go on as they came');
  t.equal(e.counters.flowLinks.linked, 1);
  t.equal(e.counters.flowLinks.unlinked, 1);
});

void t.test('a request whose app could not be reached leaves the link table with its connection', async (t) => {
  const { engine: e, records } = engine();
  open(e, 1, meta('inbound', 'gone'), 0);
  e.op(OP_CLIENT_DATA, 1, 1, enc('POST /checkout HTTP/1.1\r\nhost: middle\r\ncontent-length: 0\r\n\r\n'));
  e.op(OP_UNREACHABLE, 1, 2, enc(JSON.stringify({ detail: 'connect ECONNREFUSED', bytesOut: 0 })));
  e.op(OP_CLOSE, 1, 3, enc('reset'));
  t.equal(records.find((r) => r.connection_id === 'gone')?.error, 'upstream_unreachable');
  // The request the app could not deliver is the record: which call failed, not only that one did.
  t.match(records.find((r) => r.connection_id === 'gone'), { protocol: 'http', method: 'POST', path: '/checkout', error_detail: 'connect ECONNREFUSED', bytes_in: 0 });
  t.equal(records.filter((r) => r.connection_id === 'gone').length, 1, 'one record for the connection');
  // Later, one request without context in flight: the app's new trace is joined to it alone.
  open(e, 2, meta('inbound', 'next'), 5000);
  e.op(OP_CLIENT_DATA, 2, 5001, enc('GET /next HTTP/1.1\r\nhost: middle\r\n\r\n'));
  outboundCall(e, 3, 5002, `traceparent: 00-${'9a'.repeat(16)}-00f067aa0ba902b7-01\r\n`);
  t.equal(records.find((r) => r.connection_id === 'out-3')?.caused_by_trace_id, derivedTraceId('next', 0), 'the unreachable request is no longer a candidate');
  t.equal(e.flowLinks.size, 1, 'only the request in flight is left');
});

void t.test('a long-lived outbound stream is linked to the request that opened it, however long after that request it ends', async (t) => {
  const { engine: e, records } = engine();
  open(e, 1, meta('inbound', 'checkout'), 0);
  e.op(OP_CLIENT_DATA, 1, 1, enc('POST /checkout HTTP/1.1\r\nhost: middle\r\ncontent-length: 0\r\n\r\n'));
  // During the checkout the app opens a gRPC server stream (no trace context) and a second
  // one under a trace of its own; both outlive the checkout by a minute.
  open(e, 2, meta('outbound', 'watch'), 2);
  const hp = new TestHpackEncoder();
  const request = (path: string, extra: [string, string][] = []) =>
    hp.encode([[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'stock'], ['content-type', 'application/grpc'], ...extra]);
  e.op(OP_CLIENT_DATA, 2, 2, new Uint8Array(Buffer.concat([PREFACE, settings(), headers(1, request('/shop.Stock/Watch')), data(1, Buffer.alloc(5), { endStream: true })])));
  e.op(
    OP_CLIENT_DATA,
    2,
    3,
    new Uint8Array(Buffer.concat([headers(3, request('/shop.Stock/Watch', [['traceparent', `00-${'7c'.repeat(16)}-00f067aa0ba902b7-01`]])), data(3, Buffer.alloc(5), { endStream: true })])),
  );
  const server = new TestHpackEncoder();
  e.op(OP_SERVER_DATA, 2, 4, new Uint8Array(Buffer.concat([settings(), headers(1, server.encode([[':status', '200'], ['content-type', 'application/grpc']])), headers(3, server.encode([[':status', '200'], ['content-type', 'application/grpc']]))])));
  e.op(OP_SERVER_DATA, 1, 5, enc('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
  e.op(OP_CLOSE, 1, 6, enc('fin'));
  // Other requests come and go meanwhile; the streams end a minute later.
  open(e, 3, meta('inbound', 'later'), 30_000);
  e.op(OP_CLIENT_DATA, 3, 30_001, enc('GET /later HTTP/1.1\r\nhost: middle\r\n\r\n'));
  const trailers = () => server.encode([['grpc-status', '0']]);
  e.op(OP_SERVER_DATA, 2, 60_000, new Uint8Array(Buffer.concat([data(1, Buffer.alloc(5)), headers(1, trailers(), { endStream: true }), data(3, Buffer.alloc(5)), headers(3, trailers(), { endStream: true })])));
  e.op(OP_CLOSE, 2, 60_001, enc('fin'));
  const streams = records.filter((r) => r.connection_id === 'watch');
  t.equal(streams.length, 2, 'both streams recorded');
  const plain = streams.find((r) => r.ordinal === 0)!;
  t.equal(plain.protocol, 'grpc');
  t.equal(plain.trace_id, derivedTraceId('checkout', 0), 'in the checkout\'s trace, not the request in flight when it ended');
  t.equal(plain.parent_span_id, serverSpanId('checkout', 0));
  t.equal(plain.link_confidence, 1);
  const own = streams.find((r) => r.ordinal === 1)!;
  t.equal(own.trace_id, '7c'.repeat(16), 'its own trace');
  t.equal(own.caused_by_trace_id, derivedTraceId('checkout', 0), 'joined to the checkout that opened it');
  t.equal(e.counters.flowLinks.linked, 1, 'each stream counted once');
  t.equal(e.counters.flowLinks.new_trace_joined, 1);
  t.equal(e.counters.flowLinks.unlinked, 0);
});
