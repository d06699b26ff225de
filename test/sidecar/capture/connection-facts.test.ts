/**
 * Connection facts on records: the tracker on its own, and behind a real tap with the real
 * parsers (bytes in, exchanges out, the clock in the test's hand) — opening facts on the first
 * exchange only, reuse counts, HTTP/1 queueing, who reset, who half-closed, and when a call is
 * the client's giving up (`client_timeout`) rather than a reset or a close.
 */
import t from 'tap';
import { ConnectionFactsTracker, type ForwardingFact } from '../../../sidecar/capture/connection-facts.ts';
import type { CloseReason, Exchange } from '../../../sidecar/capture/session.ts';
import { FACT_KINDS, OP_FACT, OpWriter, payloadFact, readOps } from '../../../sidecar/capture-worker/ops.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import { CaptureTap } from '../../../sidecar/proxy/capture-tap.ts';

const MS = 1_000_000n;

/** A tap over the real parsers whose clock is `at` (ms); every step says when it happens. */
function connection() {
  const exchanges: Exchange[] = [];
  let now = 0n;
  const tap = new CaptureTap({
    factory: createCaptureFactory(),
    clock: () => now,
    maxBodyBytes: 1024,
    detectTimeoutMs: 1000,
    onExchange: (e) => exchanges.push(e),
    onEvent: () => undefined,
    onProtocol: () => undefined,
    onFault: (err) => {
      throw err;
    },
  });
  const at = (ms: number) => (now = BigInt(ms) * MS);
  return {
    exchanges,
    fact: (ms: number, f: ForwardingFact) => (at(ms), tap.fact(f)),
    client: (ms: number, text: string) => (at(ms), tap.clientData(Buffer.from(text))),
    server: (ms: number, text: string) => (at(ms), tap.serverData(Buffer.from(text))),
    clientEnd: (ms: number) => (at(ms), tap.clientEnd()),
    serverEnd: (ms: number) => (at(ms), tap.serverEnd()),
    close: (ms: number, reason: CloseReason) => (at(ms), tap.close(reason)),
  };
}

const req = (path: string) => `GET ${path} HTTP/1.1\r\nhost: app\r\n\r\n`;
const res = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
const summary = (e: Exchange) => [e.path, e.error, e.connection];

void t.test('tracker: opening facts on ordinal 0 only, first values kept, exchanges counted', async (t) => {
  const tracker = new ConnectionFactsTracker();
  tracker.fact({ kind: 'connect', us: 120 });
  tracker.fact({ kind: 'tls_handshake', us: 900 });
  tracker.fact({ kind: 'connect', us: 5 });
  const base = { protocol: 'tcp', start: 0n, end: 1n, bytes_in: 0, bytes_out: 0 } as const;
  t.same(tracker.apply({ ...base, ordinal: 0 }).connection, { exchanges: 1, connect_us: 120, tls_handshake_us: 900 });
  t.same(tracker.apply({ ...base, ordinal: 1 }).connection, { exchanges: 2 });
  tracker.fact({ kind: 'reset', by: 'server' });
  tracker.fact({ kind: 'reset', by: 'client' });
  tracker.ended('client');
  t.same(tracker.apply({ ...base, ordinal: 2 }).connection, { exchanges: 3, reset_by: 'server' }, 'the first reset; a FIN after it is no half-close');
});

void t.test('keep-alive: connect time on the first exchange only, each exchange counts the reuse', async (t) => {
  const c = connection();
  c.fact(1, { kind: 'connect', us: 250 });
  c.client(2, req('/a'));
  c.server(5, res('one'));
  c.client(10, req('/b'));
  c.server(12, res('two'));
  c.clientEnd(20);
  c.serverEnd(21);
  c.close(22, 'fin');
  t.same(c.exchanges.map(summary), [
    ['/a', undefined, { exchanges: 1, connect_us: 250 }],
    ['/b', undefined, { exchanges: 2 }],
  ]);
  t.notOk(c.exchanges.some((e) => e.queue_us !== undefined), 'no request waited');
});

void t.test('pipelining: the second and third requests queue behind the earlier responses', async (t) => {
  const c = connection();
  c.client(1, req('/1') + req('/2'));
  c.client(2, req('/3'));
  c.server(11, res('a'));
  c.server(15, res('b'));
  c.server(18, res('c'));
  c.close(30, 'fin');
  t.same(
    c.exchanges.map((e) => [e.path, e.request_end, e.queue_us]),
    [
      ['/1', 1n * MS, undefined],
      ['/2', 1n * MS, 10_000],
      ['/3', 2n * MS, 13_000],
    ],
  );
});

void t.test('a client reset after its request, mid-response: client_timeout, reset_by client', async (t) => {
  const c = connection();
  c.client(1, req('/slow'));
  c.server(3, 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
  c.fact(4, { kind: 'reset', by: 'client' });
  c.close(4, 'reset');
  t.same(c.exchanges.map((e) => [e.path, e.error, e.error_detail, e.connection?.reset_by]), [
    ['/slow', 'client_timeout', 'the client reset the connection before the whole response came', 'client'],
  ]);
});

void t.test('a server reset stays reset, even after the client half-closed', async (t) => {
  const c = connection();
  c.client(1, req('/reset'));
  c.clientEnd(2);
  c.fact(3, { kind: 'reset', by: 'server' });
  c.close(3, 'reset');
  t.same(c.exchanges.map(summary), [['/reset', 'reset', { exchanges: 1, reset_by: 'server', half_closed_by: 'client' }]]);
});

void t.test('a client that closes before any response: client_timeout, half_closed_by client', async (t) => {
  const c = connection();
  c.client(1, req('/slow'));
  c.clientEnd(1000);
  c.serverEnd(1001);
  c.close(1001, 'fin');
  t.same(c.exchanges.map((e) => [e.path, e.error, e.error_detail, e.connection?.half_closed_by]), [
    ['/slow', 'client_timeout', 'the client closed the connection before the whole response came', 'client'],
  ]);
});

void t.test('a client that gives up on a hung server: the call ends when the client gave up, not when the server woke', async (t) => {
  const c = connection();
  c.client(1, req('/hung'));
  c.clientEnd(1000);
  // The server hangs (stopped) for 25 s; the half-closed connection lasts until it wakes.
  c.serverEnd(26_000);
  c.close(26_000, 'fin');
  t.same(c.exchanges.map((e) => [e.path, e.error]), [['/hung', 'client_timeout']]);
  t.equal(c.exchanges[0].end, 1000n * MS, "the end is the client's FIN");
  t.equal(c.exchanges[0].end - c.exchanges[0].start, 999n * MS, 'its latency is the 999 ms the client waited');
});

void t.test('a client that gives up after the answer began: the call ends at its FIN too', async (t) => {
  const c = connection();
  c.client(1, req('/partial'));
  c.server(500, 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc');
  c.clientEnd(1000);
  c.server(3000, 'def');
  c.serverEnd(3001);
  c.close(3001, 'fin');
  t.same(c.exchanges.map((e) => [e.path, e.error]), [['/partial', 'client_timeout']]);
  t.equal(c.exchanges[0].end, 1000n * MS, 'cut at the FIN: the answer had begun before it');
});

void t.test('HTTP/1.0 style: request, FIN, then the whole response — no error, half_closed_by client', async (t) => {
  const c = connection();
  c.client(1, 'GET /old HTTP/1.0\r\n\r\n');
  c.clientEnd(2);
  c.server(5, 'HTTP/1.0 200 OK\r\n\r\nread to the close');
  c.serverEnd(6);
  c.close(6, 'fin');
  t.same(c.exchanges.map((e) => [e.path, e.error, e.connection?.half_closed_by, e.response?.body.length]), [['/old', undefined, 'client', 17]]);
});

void t.test('the server closing first leaves the call closed, not a client timeout', async (t) => {
  const c = connection();
  c.client(1, req('/a'));
  c.server(2, res('x'));
  c.client(3, req('/b'));
  c.serverEnd(4);
  c.clientEnd(5);
  c.close(5, 'fin');
  t.same(c.exchanges.map(summary), [
    ['/a', undefined, { exchanges: 1 }],
    ['/b', 'unpaired', { exchanges: 2, half_closed_by: 'server' }],
  ]);
});

void t.test('a client reset mid-upload is a reset: it never finished its request', async (t) => {
  const c = connection();
  c.client(1, 'POST /up HTTP/1.1\r\ncontent-length: 100\r\n\r\nabc');
  c.fact(2, { kind: 'reset', by: 'client' });
  c.close(2, 'reset');
  t.same(c.exchanges.map((e) => [e.path, e.error, e.connection?.reset_by]), [['/up', 'reset', 'client']]);
});

void t.test('a client giving up on pipelined calls: every sent, unanswered request is client_timeout', async (t) => {
  const c = connection();
  c.client(1, req('/1') + req('/2') + req('/3'));
  c.server(2, res('a'));
  c.clientEnd(50);
  c.serverEnd(51);
  c.close(51, 'fin');
  t.same(c.exchanges.map((e) => [e.path, e.error]), [
    ['/1', undefined],
    ['/2', 'client_timeout'],
    ['/3', 'client_timeout'],
  ]);
  t.equal(c.exchanges[0].connection?.half_closed_by, undefined, 'the answered call was not affected by the close');
});

void t.test('opaque TCP: the connection record carries every fact', async (t) => {
  const c = connection();
  c.fact(0, { kind: 'connect', us: 80 });
  c.fact(1, { kind: 'tls_handshake', us: 1500 });
  c.client(2, '\x00\x01binary');
  c.server(3, 'reply');
  c.serverEnd(4);
  c.fact(5, { kind: 'reset', by: 'client' });
  c.close(5, 'reset');
  t.same(c.exchanges.map((e) => [e.protocol, e.error, e.connection]), [
    ['tcp', 'reset', { exchanges: 1, connect_us: 80, tls_handshake_us: 1500, reset_by: 'client', half_closed_by: 'server' }],
  ]);
});

void t.test('facts cross the op stream unchanged', async (t) => {
  const facts: ForwardingFact[] = [
    { kind: 'connect', us: 1234 },
    { kind: 'tls_handshake', us: 0 },
    { kind: 'reset', by: 'client' },
    { kind: 'reset', by: 'server' },
  ];
  const w = new OpWriter(64);
  for (const f of facts) w.fact(7, 1.5, f);
  const seen: Array<[number, number, ForwardingFact | undefined]> = [];
  readOps(w.take(), { op: (op, capture, _time, payload) => seen.push([op, capture, payloadFact(payload)]) });
  t.same(seen, facts.map((f) => [OP_FACT, 7, f]));
  t.equal(payloadFact(new Uint8Array([FACT_KINDS.length, 0, 0, 0, 0, 0, 0, 0, 0])), undefined, 'an unknown kind is ignored');
  t.equal(payloadFact(new Uint8Array(3)), undefined, 'a short payload is ignored');
});
