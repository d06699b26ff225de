/** The call list's rows (one per call, or per observation) and the timeline's phases, run in Node as in the page. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { buildRows, callFilter, partnerId, statusColumnWidth } = await loadBrowserModule('call-rows.js');
const { setupNote, timelinePhases } = await loadBrowserModule('call-timeline.js');

type Rec = { id: string; observer: 'outbound' | 'inbound'; connection_id: string; ordinal: number; start: string; end: string };
const rec = (conn: string, ordinal: number, observer: Rec['observer']): Rec => ({ id: `${conn}-${observer === 'outbound' ? 'o' : 'i'}${ordinal}`, observer, connection_id: conn, ordinal, start: '1', end: '2' });

void t.test('one row per call, in order of each call\'s newest record; one-sided calls marked', async (t) => {
  // Newest first, as the feed keeps them.
  const records = [rec('a', 1, 'inbound'), rec('b', 0, 'outbound'), rec('a', 0, 'inbound'), rec('a', 1, 'outbound'), rec('a', 0, 'outbound')];
  const rows = buildRows(records, 'calls');
  t.same(
    rows.map((r: any) => [r.key, r.call.id, r.oneSided]),
    [
      ['a:1', 'a-o1', undefined],
      ['b:0', 'b-o0', 'client'],
      ['a:0', 'a-o0', undefined],
    ],
    'the client record opens the row',
  );
  t.same(buildRows([rec('s', 0, 'inbound')], 'calls').map((r: any) => r.oneSided), ['server']);
  t.same(
    buildRows(records, 'records').map((r: any) => r.key),
    records.map((r) => r.id),
    'one row per observation',
  );
  // A second record of the same side and key (no sidecar sends one) is not lost.
  const clash = buildRows([{ ...rec('c', 0, 'outbound'), id: 'other' }, rec('c', 0, 'outbound')], 'calls');
  t.same(clash.map((r: any) => r.key), ['c:0', 'c:0#c-o0']);
  t.equal(partnerId(rec('a', 3, 'outbound')), 'a-i3');
  t.equal(callFilter(rec('a"b', 2, 'inbound')), 'connection_id == "a\\"b" && ordinal == 2');
});

void t.test('timeline phases: offsets on the client clock, the server inside the client by half the network', async (t) => {
  const phases = timelinePhases({
    timing: { client_us: 20_000, server_us: 14_000, network_us: 6_000, connect_us: 1_500, tls_handshake_us: 3_000, client_first_byte_us: 18_000, server_first_byte_us: 12_000, queue_us: 200 },
    client: { id: 'c', start: '1000000', request_end: '1400000', end: '21000000' },
    server: { id: 's', start: '5000000000', request_end: '5000300000', end: '5014000000' },
  });
  t.same(
    phases.map((p: any) => [p.phase, p.from, p.us]),
    [
      ['connect', 0, 1_500],
      ['tls', 1_500, 3_000],
      ['client', 4_500, 20_000],
      ['queue', 4_500, 200],
      ['client-first-byte', 4_900, 18_000],
      ['network', 4_500, 6_000],
      ['server', 7_500, 14_000],
      ['server-first-byte', 7_800, 12_000],
    ],
  );
  t.same(timelinePhases({ timing: { server_us: 900 } }).map((p: any) => [p.phase, p.from, p.us]), [['server', 0, 900]], 'a server-only call');
  // The first exchange of an HTTP/1 connection waited for the connection inside its own latency
  // (the lab's gateway → payment: 9.31 ms with 3.15 ms connect and 4.85 ms handshake).
  const first = timelinePhases({
    protocol: 'http',
    timing: { client_us: 9_310, server_us: 1_030, network_us: 8_280, connect_us: 3_150, tls_handshake_us: 4_850 },
    client: { id: 'c', ordinal: 0, start: '0', request_end: '0', end: '9310000' },
    server: { id: 's', ordinal: 0, start: '8200000', request_end: '8200000', end: '9230000' },
  });
  t.same(
    first.map((p: any) => [p.phase, p.from, p.us, p.within]),
    [
      ['client', 0, 9_310, undefined],
      ['connect', 0, 3_150, 'client'],
      ['tls', 3_150, 4_850, 'client'],
      ['network', 0, 8_280, undefined],
      ['server', 8_140, 1_030, undefined],
    ],
    'connect and handshake listed under the client latency as its parts, start-aligned in it, the server after them',
  );
  t.match(first.find((p: any) => p.phase === 'tls').title, /part of the client latency/);
  t.match(setupNote(first), /the TCP connect and the mTLS handshake are part of the client latency/);
  t.equal(Math.max(...first.map((p: any) => p.from + p.us)), 9_310, 'nothing drawn past the call');
  t.match(first.find((p: any) => p.phase === 'network').label, /set-up/);
  // A later exchange, or a gRPC call (its first stream comes after the preface), keeps them before.
  const grpc = timelinePhases({ protocol: 'grpc', timing: { client_us: 2_000, server_us: 1_500, network_us: 500, connect_us: 300, tls_handshake_us: 900 }, client: { id: 'c', ordinal: 0, start: '0', request_end: '0', end: '2000000' } });
  t.same(grpc.slice(0, 3).map((p: any) => [p.phase, p.from, p.within]), [['connect', 0, undefined], ['tls', 300, undefined], ['client', 1_200, undefined]]);
  t.match(grpc[0].title, /before the request, not part of the client latency/);
  t.match(setupNote(grpc), /came before its request and are not part of the client latency/);
  t.same(timelinePhases({}), []);
  t.equal(setupNote(timelinePhases({ timing: { client_us: 5 } })), undefined, 'no set-up, nothing to say');
});

void t.test('timeline phases: a first HTTP/1 exchange only the client saw waited for its connect inside its latency', async (t) => {
  const call = (clientUs: number) =>
    timelinePhases({ protocol: 'http', timing: { client_us: clientUs, connect_us: 2_000 }, client: { id: 'c', ordinal: 0, start: '0', request_end: '0', end: String(clientUs * 1000) } });
  t.same(call(9_000).map((p: any) => [p.phase, p.from, p.us, p.within]), [['client', 0, 9_000, undefined], ['connect', 0, 2_000, 'client']]);
  t.match(setupNote(call(9_000)), /the TCP connect is part of the client latency \(the request waited for it\)/);
  // A connect longer than the whole call cannot be inside it: drawn before.
  t.same(call(1_000).map((p: any) => [p.phase, p.from, p.within]), [['connect', 0, undefined], ['client', 2_000, undefined]]);
});

void t.test('the Status column fits the widest status listed, and no more', async (t) => {
  const row = (call: object) => ({ key: 'k', call });
  const measure = (text: string) => text.length * 7;
  const ok = statusColumnWidth([row({ status_code: 200 }), row({ status_code: 404 })], measure);
  t.equal(ok, 64, 'three digits: the column is as wide as its title needs');
  const failed = statusColumnWidth([row({ status_code: 200 }), row({ error: 'upstream_unreachable' }), row({ error: 'client_timeout' })], measure);
  t.equal(failed, 20 * 7 + 16 + 16, 'upstream_unreachable in full: its text, the pill padding, the cell padding');
  t.equal(statusColumnWidth([row({ protocol: 'grpc', status_code: 200, grpc_status: 14 })], () => undefined), Math.ceil('200 UNAVAILABLE'.length * 7.3 + 32), 'a guess per character where nothing measures');
  t.equal(statusColumnWidth([], measure), 64);
});
