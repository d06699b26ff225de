/**
 * A server that answers an HTTP/1 request in another protocol (HTTP/2 only, TLS, a banner): its
 * bytes are the outstanding request's failed answer, never a record of their own ahead of it, so
 * the client's and the server's sidecars number the call alike whichever side's bytes they saw
 * first (their records are joined by connection and ordinal).
 */
import t from 'tap';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { describeForeignAnswer } from '../../../sidecar/http1/foreign-answer.ts';
import { Http1Parser } from '../../../sidecar/http1/parser.ts';
import { createHttp1Session } from '../../../sidecar/http1/session.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import { CaptureTap } from '../../../sidecar/proxy/capture-tap.ts';
import { parseAll, runSession, sameAtEveryCut, timeOf, type Cuts, type RunResult, type Step } from './harness.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A prior-knowledge HTTP/2 server's first write: SETTINGS (MAX_CONCURRENT_STREAMS 100) and a WINDOW_UPDATE. */
const h2Preface = hex('000006 04 00 00000000 0003 00000064' + '000004 08 00 00000000 000f0001');
/** Its answer to an HTTP/1 request read as a bad preface: GOAWAY, PROTOCOL_ERROR, two bytes of debug data (length 10: a LF byte). */
const h2Goaway = hex('00000a 07 00 00000000 00000000 00000001 6832');
const request = 'POST /helloworld.Greeter/SayHello HTTP/1.1\r\nHost: greeter:50051\r\nContent-Length: 5\r\n\r\nhello';

const run =
  (steps: Step[]) =>
  (cuts: Cuts): RunResult =>
    runSession(steps, cuts);

/** What both sidecars must agree on (the times differ with who saw what first). */
const call = (e: Exchange) => ({
  ordinal: e.ordinal,
  method: e.method,
  path: e.path,
  status_code: e.status_code,
  error: e.error,
  error_detail: e.error_detail,
  bytes_out: e.bytes_out,
  bytes_in: e.bytes_in,
  request_body: Buffer.from(e.request?.body ?? []).toString('latin1'),
});

void t.test('an HTTP/2-only server: one record for the request, a parse error saying the server answered in HTTP/2', async (t) => {
  // The server sidecar: the server's preface is written as soon as it accepts, before the request reaches it.
  const serverFirst = sameAtEveryCut(t, [{ s: h2Preface }, { c: request }, { s: h2Goaway }, { close: 'fin' }], (cuts) =>
    run([{ s: h2Preface }, { c: request }, { s: h2Goaway }, { close: 'fin' }])(cuts),
  );
  // The client sidecar: the request leaves first, the preface comes back after it.
  const clientFirst = sameAtEveryCut(t, [{ c: request }, { s: h2Preface }, { s: h2Goaway }, { close: 'fin' }], (cuts) =>
    run([{ c: request }, { s: h2Preface }, { s: h2Goaway }, { close: 'fin' }])(cuts),
  );
  for (const [side, r] of [
    ['server first', serverFirst],
    ['client first', clientFirst],
  ] as const) {
    t.equal(r.exchanges.length, 1, `${side}: exactly one record`);
    t.match(call(r.exchanges[0]), {
      ordinal: 0,
      method: 'POST',
      path: '/helloworld.Greeter/SayHello',
      error: 'parse',
      error_detail: /answered in HTTP\/2.*SETTINGS frame.*where an HTTP\/1 status line was expected/,
      bytes_out: Buffer.byteLength(request, 'latin1'),
      bytes_in: h2Preface.length + h2Goaway.length,
      request_body: 'hello',
    }, side);
    t.equal(r.exchanges[0].status_code, undefined, `${side}: no status`);
    t.equal(r.exchanges[0].end, timeOf(3), `${side}: it ends with the connection`);
    t.match(r.events, [{ kind: 'parse_error', side: 'server', detail: /HTTP\/2/ }], `${side}: one parse error counted`);
    t.equal(r.events.length, 1);
  }
  t.same(call(serverFirst.exchanges[0]), call(clientFirst.exchanges[0]), 'both sidecars record the same call');
});

void t.test('a server that answers with no HTTP at all, without a line end: a parse error, not a call closed unanswered', async (t) => {
  const banner = 'SSH-2.0-OpenSSH_9.6';
  const r = sameAtEveryCut(t, [{ c: 'GET /health HTTP/1.1\r\n\r\n' }, { s: banner }, { close: 'fin' }], run([{ c: 'GET /health HTTP/1.1\r\n\r\n' }, { s: banner }, { close: 'fin' }]));
  t.equal(r.exchanges.length, 1);
  t.match(r.exchanges[0], {
    ordinal: 0,
    path: '/health',
    error: 'parse',
    error_detail: /not HTTP\/1.*status line.*53 53 48 2d 32 2e 30.*"SSH-2\.0-OpenSSH_9\.6"/,
    bytes_in: banner.length,
  });
});

void t.test('a banner the server sends before the request crossed the proxy is the request\'s answer, not a record ahead of it', async (t) => {
  const steps: Step[] = [{ s: 'SSH-2.0-OpenSSH_9.6\r\n' }, { c: 'GET /health HTTP/1.1\r\n\r\n' }, { close: 'reset' }];
  const r = sameAtEveryCut(t, steps, run(steps));
  t.same(r.exchanges.map((e) => [e.ordinal, e.path, e.error]), [[0, '/health', 'parse']]);
  t.equal(r.exchanges[0].bytes_in, 21);
});

void t.test('a TLS server answering plaintext: the detail says the port speaks TLS', async (t) => {
  const alert = hex('15 0301 0002 02 46');
  const steps: Step[] = [{ c: 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' }, { s: alert }, { close: 'fin' }];
  const r = sameAtEveryCut(t, steps, run(steps));
  t.match(r.exchanges, [{ ordinal: 0, path: '/', error: 'parse', error_detail: /answered with TLS.*alert/, bytes_in: 7 }]);
});

void t.test('after calls that paired, foreign bytes go to the next request; ordinals stay consecutive', async (t) => {
  const steps: Step[] = [
    { c: 'GET /one HTTP/1.1\r\n\r\n' },
    { s: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' },
    { s: h2Preface },
    { c: 'GET /two HTTP/1.1\r\n\r\nGET /three HTTP/1.1\r\n\r\n' },
    { close: 'fin' },
  ];
  const r = sameAtEveryCut(t, steps, run(steps));
  t.same(
    r.exchanges.map((e) => [e.ordinal, e.path, e.status_code, e.error]),
    [
      [0, '/one', 200, undefined],
      [1, '/two', undefined, 'parse'],
      [2, '/three', undefined, 'unpaired'],
    ],
  );
  t.equal(r.exchanges[1].bytes_in, h2Preface.length);
  t.equal(r.exchanges[2].bytes_in, 0);
});

void t.test('foreign bytes and no request at all: one record that says what the server sent', async (t) => {
  const steps: Step[] = [{ s: h2Preface }, { close: 'fin' }];
  const r = sameAtEveryCut(t, steps, run(steps));
  t.equal(r.exchanges.length, 1);
  t.match(r.exchanges[0], { ordinal: 0, error: 'parse', error_detail: /HTTP\/2/, bytes_in: h2Preface.length, bytes_out: 0 });
  t.notOk('method' in r.exchanges[0]);
});

void t.test('a request still being sent when the server answered in HTTP/2 keeps its method and path', async (t) => {
  const steps: Step[] = [{ s: h2Preface }, { c: 'POST /upload HTTP/1.1\r\nContent-Length: 100\r\n\r\npart' }, { s: h2Goaway }, { close: 'reset' }];
  const r = sameAtEveryCut(t, steps, run(steps));
  t.match(r.exchanges, [{ ordinal: 0, method: 'POST', path: '/upload', error: 'parse', error_detail: /HTTP\/2/ }]);
  t.equal(r.exchanges.length, 1);
});

void t.test('a gap in what capture saw of the server ends the record then and there', async (t) => {
  const got: Exchange[] = [];
  const s = createHttp1Session({ maxBodyBytes: 1024, emit: (e) => got.push(e), event: () => undefined });
  s.clientData(Buffer.from('GET /a HTTP/1.1\r\n\r\n'), 1n);
  s.serverData(h2Preface, 2n);
  t.ok(s.skipServer!(100, 3n), 'what the server sends is only counted');
  t.equal(got.length, 0, 'the record waits for the connection to end');
  s.resync!(4n, 'gap');
  t.match(got, [{ ordinal: 0, path: '/a', error: 'parse', error_detail: /HTTP\/2/, bytes_in: h2Preface.length + 100, end: 4n }]);
  s.close(5n, 'fin');
  t.equal(got.length, 1, 'nothing more');
});

void t.test('the response parser stops at the first byte that cannot start an HTTP/1 status line', async (t) => {
  const cases: [string, Uint8Array, number][] = [
    ['an HTTP/2 frame', h2Preface, 0],
    ['text', Buffer.from('+PONG\r\n'), 0],
    ['another HTTP version', Buffer.from('HTTP/2.0 200 OK\r\n\r\n'), 5],
    ['after empty lines', Buffer.from('\r\n\r\nHELLO'), 5],
  ];
  for (const [name, input, at] of cases) {
    const whole = parseAll('response', [input]);
    t.same(whole, ['begin', 'error SC_ERR_HTTP1_START_LINE', 'stopped failed'], name);
    const before: (string | undefined)[] = [];
    for (let k = 1; k < input.length; k++) {
      const got = parseAll('response', [input.subarray(0, k), input.subarray(k)]);
      if (JSON.stringify(got) !== JSON.stringify(whole)) t.fail(`${name}: cut at ${k}: ${got.join(', ')}`);
    }
    const p = new Http1Parser('response', {
      onMessageBegin() {},
      onHead() {},
      onBody() {},
      onTrailers() {},
      onMessageComplete() {},
      onError: (e) => before.push(e.notHttp1 === undefined ? undefined : Buffer.from(e.notHttp1.before).toString('latin1')),
    });
    const n = p.execute(input);
    t.equal(n, at, `${name}: stopped before the byte at ${at}`);
    t.same(before, [Buffer.from(input.subarray(0, at)).toString('latin1').replace(/^[\r\n]+/, '')], `${name}: the bytes before it`);
  }
});

void t.test('a malformed HTTP/1 status line is still the plain parse error it was', async (t) => {
  const steps: Step[] = [{ c: 'GET /a HTTP/1.1\r\n\r\n' }, { s: 'HTTP/1.1 20 OK\r\n\r\n' }, { close: 'fin' }];
  const r = sameAtEveryCut(t, steps, run(steps));
  t.match(r.exchanges, [{ ordinal: 0, path: '/a', error: 'parse', error_detail: 'SC_ERR_HTTP1_START_LINE: invalid status code', bytes_in: 16 }]);
});

void t.test('through the tap and the real detectors: the server\'s SETTINGS first, the client\'s bytes choose HTTP/1, one record', async (t) => {
  const tapRun = (order: Array<['c' | 's', Uint8Array | string]>): Exchange[] => {
    const got: Exchange[] = [];
    let now = 0n;
    const tap = new CaptureTap({
      factory: createCaptureFactory(),
      clock: () => (now += 1000n),
      maxBodyBytes: 1024,
      detectTimeoutMs: 1000,
      onExchange: (e) => got.push(e),
      onEvent: () => undefined,
      onProtocol: () => undefined,
      onFault: (err) => t.fail(String(err)),
    });
    for (const [who, data] of order) {
      const chunk = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
      if (who === 'c') tap.clientData(chunk);
      else tap.serverData(chunk);
    }
    tap.close('fin');
    return got;
  };
  const serverSidecar = tapRun([['s', h2Preface], ['c', request], ['s', h2Goaway]]);
  const clientSidecar = tapRun([['c', request], ['s', h2Preface], ['s', h2Goaway]]);
  for (const [side, got] of [
    ['server sidecar', serverSidecar],
    ['client sidecar', clientSidecar],
  ] as const) {
    t.equal(got.length, 1, `${side}: one record`);
    t.match(got[0], { protocol: 'http', ordinal: 0, method: 'POST', path: '/helloworld.Greeter/SayHello', error: 'parse', error_detail: /HTTP\/2/ }, side);
  }
  t.same(call(serverSidecar[0]), call(clientSidecar[0]), 'the two records join on the same ordinal and agree');
});

void t.test('the description names what answered, from the bytes alone', async (t) => {
  t.match(describeForeignAnswer(h2Preface), /^the server answered in HTTP\/2: an HTTP\/2 SETTINGS frame came where an HTTP\/1 status line was expected/);
  t.match(describeForeignAnswer(hex('000000 04 01 00000000')), /SETTINGS frame/, 'a SETTINGS ack');
  t.match(describeForeignAnswer(h2Goaway), /answered in HTTP\/2: an HTTP\/2 GOAWAY frame/, 'GOAWAY first (the request already read as a bad preface)');
  t.match(describeForeignAnswer(hex('000006 04 00 00000001 0003 00000064')), /^the server's answer is not HTTP\/1/, 'SETTINGS on a stream is no preface');
  t.match(describeForeignAnswer(h2Preface.subarray(0, 8)), /^the server's answer is not HTTP\/1: .*\(first bytes: 00 00 06 04 00 00 00 00\)$/, 'too short to tell: the bytes');
  t.match(describeForeignAnswer(hex('16 0303 007a 02')), /answered with TLS: a TLS handshake record/);
  t.equal(
    describeForeignAnswer(Buffer.from('+PONG\r\n')),
    'the server\'s answer is not HTTP/1: no status line came where one was expected (first bytes: 2b 50 4f 4e 47 0d 0a "+PONG\\r\\n")',
  );
  t.match(describeForeignAnswer(Buffer.from('x'.repeat(32)), 100), /78 78 \u2026 "x{32}"\u2026\)$/, 'longer than shown');
  t.notMatch(describeForeignAnswer(hex('01 02 ff')), /"/, 'no text for binary bytes');
});

void t.test('a request head not read whole when the connection ends: its request line, and that its head stopped', async (t) => {
  const steps: Step[] = [{ s: h2Preface }, { c: 'GET /half?x=1 HTTP/1.1\r\nHost: a\r\nAcc' }, { close: 'fin' }];
  const r = sameAtEveryCut(t, steps, run(steps));
  t.match(r.exchanges, [{ ordinal: 0, method: 'GET', path: '/half?x=1', error: 'parse', error_detail: /HTTP\/2/, notes: ['request head incomplete'] }]);
  t.equal(r.exchanges.length, 1);
});

void t.test('a request whose head failed keeps its own error; the foreign answer\'s bytes are its bytes_in', async (t) => {
  const big = `X-Big: ${'a'.repeat(300)}\r\n`;
  const steps: Step[] = [{ c: `GET /b HTTP/1.1\r\n${big}\r\n` }, { s: h2Preface }, { s: h2Goaway }, { close: 'fin' }];
  const r = runSession(steps, new Map(), 1024, { maxHeadBytes: 256 });
  t.match(r.exchanges, [{ ordinal: 0, path: '/b', error: 'parse', error_detail: /HEAD_TOO_LARGE/, bytes_in: h2Preface.length + h2Goaway.length }]);
  t.equal(r.exchanges.length, 1);
  t.equal(r.events.length, 1, 'one parse error counted');
});

void t.test('too many requests behind a foreign answer: capture stops with the call that got it', async (t) => {
  const steps: Step[] = [{ c: 'GET /1 HTTP/1.1\r\n\r\n' }, { s: h2Preface }, { c: 'GET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\nGET /4 HTTP/1.1\r\n\r\n' }, { close: 'fin' }];
  const r = runSession(steps, new Map(), 1024, { maxPendingExchanges: 2 });
  t.same(
    r.exchanges.map((e) => [e.ordinal, e.path, e.error]),
    [
      [0, '/1', 'parse'],
      [1, '/2', 'unpaired'],
    ],
  );
  t.match(r.exchanges[0], { error_detail: /HTTP\/2/, bytes_in: h2Preface.length });
});

void t.test('a status line already begun when a request crossed: that begun answer carries the failure, ordinals stay consecutive', async (t) => {
  // The rare case the withdrawal cannot cover: the ordinal was handed out before the bytes turned out foreign.
  const r = runSession([{ s: 'HT' }, { c: 'GET /a HTTP/1.1\r\n\r\n' }, { s: 'XP' }, { close: 'fin' }]);
  t.same(
    r.exchanges.map((e) => [e.ordinal, e.path, e.error]),
    [
      [0, undefined, 'parse'],
      [1, '/a', 'unpaired'],
    ],
  );
  t.equal(r.exchanges[0].bytes_in, 4);
});
