import t, { type Test } from 'tap';
import zlib from 'node:zlib';
import { allCuts, plain, runSession, timeOf, type RunResult, type Step } from './harness.ts';
import type { Http1SessionOptions } from '../../../sidecar/http1/session.ts';

type T = Test;

/** Runs the script whole, then cut every way; all runs must give the same exchanges and events. */
function invariant(t: T, steps: Step[], maxBodyBytes = 64 * 1024, options: Http1SessionOptions = {}): RunResult {
  const whole = runSession(steps, new Map(), maxBodyBytes, options);
  const expected = JSON.stringify(plain(whole));
  let runs = 0;
  let bad = 0;
  for (const { label, cuts } of allCuts(steps)) {
    runs++;
    const got = runSession(steps, cuts, maxBodyBytes, options);
    if (JSON.stringify(plain(got)) !== expected) {
      bad++;
      if (bad <= 2) t.same(plain(got), plain(whole), `same result when ${label}`);
    }
  }
  t.equal(bad, 0, `identical result for all ${runs} ways to cut the input`);
  return whole;
}

const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('latin1');

void t.test('keep-alive: two exchanges in order with timing and byte counts', async (t) => {
  const req1 = 'GET /a HTTP/1.1\r\nHost: shop.svc:8080\r\nAccept: application/json\r\n\r\n';
  const res1 = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';
  const req2 = 'POST /b?x=1 HTTP/1.1\r\nHost: shop.svc:8080\r\nContent-Length: 3\r\n\r\nabc';
  const res2 = 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n';
  const { exchanges, events } = invariant(t, [{ c: req1 }, { s: res1 }, { c: req2 }, { s: res2 }, { close: 'fin' }]);
  t.equal(exchanges.length, 2);
  t.same(events, []);
  const [a, b] = exchanges;
  t.match(a, {
    protocol: 'http',
    ordinal: 0,
    method: 'GET',
    path: '/a',
    authority: 'shop.svc:8080',
    status_code: 200,
    start: timeOf(0),
    request_end: timeOf(0),
    response_start: timeOf(1),
    end: timeOf(1),
    bytes_out: req1.length,
    bytes_in: res1.length,
  });
  t.same(a.request?.headers, { host: 'shop.svc:8080', accept: 'application/json' });
  t.equal(a.response?.content_type, 'application/json');
  t.equal(text(a.response?.body), '{"ok":true}');
  t.equal(a.response?.body_size, 11);
  t.equal(a.response?.truncated, false);
  t.notOk('error' in a);
  t.match(b, { ordinal: 1, method: 'POST', path: '/b?x=1', status_code: 201, start: timeOf(2), end: timeOf(3), bytes_out: req2.length, bytes_in: res2.length });
  t.equal(text(b.request?.body), 'abc');
});

void t.test('pipelining: requests sent before any response pair in FIFO order', async (t) => {
  const reqs = ['GET /1 HTTP/1.1\r\n\r\n', 'HEAD /2 HTTP/1.1\r\n\r\n', 'GET /3 HTTP/1.1\r\n\r\n'];
  const ress = [
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none',
    'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n',
    'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n',
  ];
  const r = invariant(t, [{ c: reqs.join('') }, { s: ress.join('') }, { close: 'fin' }]);
  t.same(
    r.exchanges.map((e) => [e.ordinal, e.method, e.path, e.status_code, text(e.response?.body), e.response?.body_size, e.bytes_out, e.bytes_in]),
    [
      [0, 'GET', '/1', 200, 'one', 3, reqs[0].length, ress[0].length],
      [1, 'HEAD', '/2', 200, '', 0, reqs[1].length, ress[1].length],
      [2, 'GET', '/3', 404, 'three', 5, reqs[2].length, ress[2].length],
    ],
  );
  t.same(r.exchanges.map((e) => e.error), [undefined, undefined, undefined]);
});

void t.test('pipelining with client and server data interleaved', async (t) => {
  const r = invariant(t, [
    { c: 'GET /1 HTTP/1.1\r\n\r\nGET /2 HT' },
    { s: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n' },
    { c: 'TP/1.1\r\n\r\nPOST /3 HTTP/1.1\r\nContent-Length: 4\r\n\r\nda' },
    { s: 'o1HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no2HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n' },
    { c: 'ta' },
    { close: 'fin' },
  ]);
  t.same(
    r.exchanges.map((e) => [e.path, e.status_code, e.start, e.request_end, e.response_start, e.end]),
    [
      ['/1', 200, timeOf(0), timeOf(0), timeOf(1), timeOf(3)],
      ['/2', 200, timeOf(0), timeOf(2), timeOf(3), timeOf(3)],
      ['/3', 413, timeOf(2), timeOf(4), timeOf(3), timeOf(4)],
    ],
  );
  t.same(r.exchanges[2].notes, ['response completed before the request']);
});

void t.test('204 and 304 carry no body; the next response follows at once', async (t) => {
  const r = invariant(t, [
    { c: 'DELETE /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\nIf-None-Match: "e"\r\n\r\nGET /z HTTP/1.1\r\n\r\n' },
    { s: 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: "e"\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz' },
    { close: 'fin' },
  ]);
  t.same(r.exchanges.map((e) => [e.status_code, text(e.response?.body)]), [[204, ''], [304, ''], [200, 'z']]);
});

void t.test('Expect: 100-continue: the interim response does not end the exchange', async (t) => {
  const head = 'PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n';
  const cont = 'HTTP/1.1 100 Continue\r\n\r\n';
  const fin = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const r = invariant(t, [{ c: head }, { s: cont }, { c: 'data' }, { s: fin }, { close: 'fin' }]);
  t.equal(r.exchanges.length, 1);
  const e = r.exchanges[0];
  t.match(e, { status_code: 200, start: timeOf(0), request_end: timeOf(2), response_start: timeOf(3), end: timeOf(3) });
  t.equal(e.bytes_in, cont.length + fin.length, 'interim bytes are counted');
  t.equal(e.bytes_out, head.length + 4);
  t.same(e.notes, ['expect: 100-continue', '100-continue']);
  t.equal(text(e.request?.body), 'data');
});

void t.test('websocket upgrade: the 101 exchange, an upgraded event, one ws exchange at close', async (t) => {
  const req = 'GET /chat HTTP/1.1\r\nHost: ws.svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n';
  const res = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
  const r = invariant(t, [
    { c: req + '\x81\x02hi' },
    { s: res + '\x81\x03hey' },
    { c: '\x88\x00' },
    { s: 'GET / HTTP/1.1\r\n\r\n' },
    { close: 'fin' },
  ]);
  t.equal(r.exchanges.length, 2);
  t.match(r.exchanges[0], { protocol: 'http', ordinal: 0, status_code: 101, bytes_out: req.length, bytes_in: res.length, end: timeOf(1) });
  t.same(r.events, [{ kind: 'upgraded', protocol: 'websocket' }]);
  t.same(r.exchanges[1], {
    protocol: 'ws',
    ordinal: 1,
    start: timeOf(1),
    end: timeOf(4),
    bytes_out: 4 + 2,
    bytes_in: 5 + 18,
    close_reason: 'fin',
  });
});

void t.test('a refused upgrade keeps parsing HTTP, including what the client sent meanwhile', async (t) => {
  const r = invariant(t, [
    { c: 'GET /a HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nGET /b HTTP/1.1\r\n\r\n' },
    { s: 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb' },
    { close: 'fin' },
  ]);
  t.same(r.exchanges.map((e) => [e.protocol, e.path, text(e.response?.body), e.start]), [
    ['http', '/a', 'a', timeOf(0)],
    ['http', '/b', 'b', timeOf(0)],
  ]);
  t.same(r.events, []);
});

void t.test('CONNECT tunnel: the CONNECT exchange then one tcp exchange', async (t) => {
  const r = invariant(t, [
    { c: 'CONNECT db.svc:5432 HTTP/1.1\r\nHost: db.svc:5432\r\n\r\n' },
    { s: 'HTTP/1.1 200 Connection established\r\n\r\n' },
    { c: '\x00\x00\x00\x08\x04\xd2\x16\x2f' },
    { s: 'N' },
    { close: 'reset' },
  ]);
  t.match(r.exchanges[0], { method: 'CONNECT', authority: 'db.svc:5432', status_code: 200 });
  t.same(r.exchanges[1], { protocol: 'tcp', ordinal: 1, start: timeOf(1), end: timeOf(4), bytes_out: 8, bytes_in: 1, close_reason: 'reset', error: 'reset' });
  t.same(r.events, [{ kind: 'upgraded', protocol: 'connect' }]);
});

void t.test('chunked response with trailers', async (t) => {
  const res = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\ngrpc-status: 0\r\nX-Sum: 9\r\n\r\n';
  const r = invariant(t, [{ c: 'POST /rpc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n' }, { s: res }, { close: 'fin' }]);
  const e = r.exchanges[0];
  t.equal(text(e.request?.body), 'hi');
  t.equal(text(e.response?.body), 'abcdefg');
  t.equal(e.response?.body_size, 7);
  t.same(e.response?.trailers, { 'grpc-status': '0', 'x-sum': '9' });
  t.equal(e.bytes_in, res.length);
});

void t.test('response delimited by the server closing', async (t) => {
  const r = invariant(t, [{ c: 'GET / HTTP/1.0\r\n\r\n' }, { s: 'HTTP/1.0 200 OK\r\n\r\nuntil ' }, { s: 'the end' }, { send: true }, { close: 'fin' }]);
  t.equal(r.exchanges.length, 1);
  t.match(r.exchanges[0], { status_code: 200, end: timeOf(3), response: { body_size: 13 } });
  t.equal(text(r.exchanges[0].response?.body), 'until the end');
  t.notOk(r.exchanges[0].error);
  const noFin = runSession([{ c: 'GET / HTTP/1.0\r\n\r\n' }, { s: 'HTTP/1.0 200 OK\r\n\r\nabc' }, { close: 'fin' }]);
  t.match(noFin.exchanges[0], { status_code: 200, end: timeOf(2) });
  t.notOk(noFin.exchanges[0].error, 'a close without a separate FIN also ends it');
});

void t.test('content-encoding: bodies decoded for display, wire size kept', async (t) => {
  const json = JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}` })) });
  for (const [enc, data] of [
    ['gzip', zlib.gzipSync(json)],
    ['deflate', zlib.deflateSync(json)],
    ['br', zlib.brotliCompressSync(json)],
  ] as const) {
    const res = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: ${enc}\r\nContent-Length: ${data.length}\r\n\r\n`), data]);
    const r = runSession([{ c: 'GET / HTTP/1.1\r\n\r\n' }, { s: res }, { close: 'fin' }]);
    const m = r.exchanges[0].response;
    t.equal(text(m?.body), json, `${enc} decoded`);
    t.equal(m?.body_size, data.length, `${enc} body_size is the wire size`);
    t.equal(m?.content_encoding, enc);
    t.equal(m?.truncated, false);
  }
  const gz = zlib.gzipSync(json);
  const small = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`), gz]);
  invariant(t, [{ c: 'GET / HTTP/1.1\r\n\r\n' }, { s: small }, { close: 'fin' }]);
  const bad = runSession([{ c: 'GET / HTTP/1.1\r\n\r\n' }, { s: 'HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nnotgz' }, { close: 'fin' }]);
  t.equal(text(bad.exchanges[0].response?.body), 'notgz', 'undecodable body kept raw');
  t.match(bad.exchanges[0].notes, [/^response\.body: gzip decode failed/]);
});

void t.test('bodies captured up to the limit, true size kept', async (t) => {
  const body = 'x'.repeat(50);
  const r = invariant(
    t,
    [{ c: `POST / HTTP/1.1\r\nContent-Length: 50\r\n\r\n${body}` }, { s: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n19\r\n${'y'.repeat(25)}\r\n19\r\n${'z'.repeat(25)}\r\n0\r\n\r\n` }, { close: 'fin' }],
    16,
  );
  const e = r.exchanges[0];
  t.same([text(e.request?.body), e.request?.body_size, e.request?.truncated], ['x'.repeat(16), 50, true]);
  t.same([text(e.response?.body), e.response?.body_size, e.response?.truncated], ['y'.repeat(16), 50, true]);
  t.same(r.events, [{ kind: 'body_truncated' }, { kind: 'body_truncated' }]);
});

void t.test('compressed body over the limit: decoded prefix, truncated, zip bomb bounded', async (t) => {
  const bomb = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x61));
  const res = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`), bomb]);
  const r = runSession([{ c: 'GET / HTTP/1.1\r\n\r\n' }, { s: res }, { close: 'fin' }], new Map(), 1024);
  const m = r.exchanges[0].response;
  t.equal(m?.body.length, 1024);
  t.equal(text(m?.body), 'a'.repeat(1024));
  t.equal(m?.truncated, true);
  t.equal(m?.body_size, bomb.length);
});

void t.test('reset mid-body: the exchange is recorded with error reset', async (t) => {
  const r = invariant(t, [{ c: 'GET /big HTTP/1.1\r\n\r\n' }, { s: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial' }, { close: 'reset' }]);
  t.equal(r.exchanges.length, 1);
  t.match(r.exchanges[0], { error: 'reset', status_code: 200, end: timeOf(2), bytes_in: 47, response: { body_size: 7 } });
});

void t.test('unpaired at close: requests without responses', async (t) => {
  const r = invariant(t, [{ c: 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n' }, { s: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' }, { c: 'POST /3 HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc' }, { close: 'fin' }]);
  t.same(r.exchanges.map((e) => [e.path, e.error ?? null, e.end]), [
    ['/1', null, timeOf(1)],
    ['/2', 'unpaired', timeOf(3)],
    ['/3', 'closed', timeOf(3)],
  ]);
  const reset = runSession([{ c: 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n' }, { close: 'reset' }]);
  t.same(reset.exchanges.map((e) => e.error), ['reset', 'unpaired']);
  const timeout = runSession([{ c: 'GET /1 HTTP/1.1\r\n\r\n' }, { close: 'timeout' }]);
  t.same(timeout.exchanges.map((e) => e.error), ['timeout']);
  const idle = runSession([{ c: 'GET /1 HTTP/1.1\r\n\r\n' }, { s: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' }, { cend: true }, { send: true }, { close: 'fin' }]);
  t.same(idle.exchanges.map((e) => e.error), [undefined], 'nothing extra for an idle keep-alive close');
});

void t.test('garbage from the client: one parse error record, then the connection is ignored', async (t) => {
  const r = invariant(t, [
    { c: 'GET /ok HTTP/1.1\r\n\r\n' },
    { c: '\x16\x03\x01\x00\x05hello GET / HTTP/1.1\r\n\r\n' },
    { s: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' },
    { c: 'GET /later HTTP/1.1\r\n\r\n' },
    { close: 'fin' },
  ]);
  t.equal(r.exchanges.length, 2);
  t.match(r.exchanges[0], { path: '/ok', status_code: 200 }, 'the response to the request before the garbage still pairs');
  t.equal(r.exchanges[0].error, undefined);
  t.match(r.exchanges[1], { error: 'parse', error_detail: /^SC_ERR_HTTP1_START_LINE/, start: timeOf(1), end: timeOf(4) }, 'unanswered: it ends with the connection');
  t.equal(r.exchanges[1].status_code, undefined);
  t.equal(r.events.length, 1);
  t.match(r.events[0], { kind: 'parse_error', side: 'client', detail: /SC_ERR_HTTP1_START_LINE/ });
});

void t.test('garbage from the server: the exchange waiting for it gets the parse error', async (t) => {
  const r = invariant(t, [{ c: 'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n' }, { s: 'HTTP/1.1 200 OK\r\nContent-Length: zz\r\n\r\n' }, { s: 'HTTP/1.1 200 OK\r\n\r\n' }, { close: 'fin' }]);
  t.same(r.exchanges.map((e) => [e.path, e.error]), [['/a', 'parse'], ['/b', 'unpaired']]);
  t.match(r.events, [{ kind: 'parse_error', side: 'server', detail: /CONTENT_LENGTH/ }]);
});

void t.test('oversized head is a parse error', async (t) => {
  const r = runSession([{ c: `GET / HTTP/1.1\r\nX: ${'a'.repeat(300)}\r\n\r\n` }, { close: 'fin' }], new Map(), 1024, { maxHeadBytes: 256 });
  t.match(r.exchanges, [{ error: 'parse', error_detail: /HEAD_TOO_LARGE/ }]);
});

void t.test('a request whose head failed gets the response the server sent it, then capture stops', async (t) => {
  const big = `X-Big: ${'a'.repeat(300)}\r\n`;
  const answer = 'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 5\r\nConnection: close\r\n\r\nlarge';
  const r = invariant(
    t,
    [
      { c: 'GET /first HTTP/1.1\r\n\r\n' },
      { c: `POST /orders HTTP/1.1\r\n${big}\r\n` },
      { c: 'more of the request' },
      { s: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' },
      { s: answer },
      { c: 'GET /never HTTP/1.1\r\n\r\n' },
      { s: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' },
      { close: 'fin' },
    ],
    1024,
    { maxHeadBytes: 256 },
  );
  t.same(
    r.exchanges.map((e) => [e.method, e.path, e.status_code, e.error]),
    [
      ['GET', '/first', 200, undefined],
      ['POST', '/orders', 431, 'parse'],
    ],
    'the request before it pairs; the failed one has its answer; nothing after it is parsed',
  );
  const failed = r.exchanges[1];
  t.match(failed, { error_detail: /HEAD_TOO_LARGE/, start: timeOf(1), end: timeOf(4) });
  t.equal(failed.bytes_in, Buffer.byteLength(answer), 'the response\'s bytes');
  t.equal(failed.bytes_out, Buffer.byteLength(`POST /orders HTTP/1.1\r\n${big}\r\nmore of the request`), 'what the client sent until its answer');
  t.equal(Buffer.from(failed.response!.body!).toString(), 'large');
  t.match(r.events, [{ kind: 'parse_error', side: 'client', detail: /HEAD_TOO_LARGE/ }]);
});

void t.test('a failed request cut off by a reset, or by garbage from the server, keeps its own parse error', async (t) => {
  const big = `X-Big: ${'a'.repeat(300)}\r\n`;
  const reset = runSession([{ c: `GET /a HTTP/1.1\r\n${big}\r\n` }, { s: 'HTTP/1.1 431 Too' }, { close: 'reset' }], new Map(), 1024, { maxHeadBytes: 256 });
  t.match(reset.exchanges, [{ path: '/a', error: 'parse', error_detail: /HEAD_TOO_LARGE/ }]);
  t.equal(reset.exchanges[0].bytes_in, 'HTTP/1.1 431 Too'.length, 'the response bytes seen before the reset');
  const garbage = runSession([{ c: `GET /b HTTP/1.1\r\n${big}\r\n` }, { s: 'NOT HTTP AT ALL\r\n\r\n' }, { close: 'fin' }], new Map(), 1024, { maxHeadBytes: 256 });
  t.match(garbage.exchanges, [{ path: '/b', error: 'parse', error_detail: /HEAD_TOO_LARGE/ }]);
  t.equal(garbage.events.length, 1, 'one parse error counted');
});

void t.test('a head that fails after its request line keeps the method and path; one that fails on it has none', async (t) => {
  const big = `X: ${'a'.repeat(300)}\r\n`;
  const cases: [string, string, { method?: string; path?: string }][] = [
    ['too large', `POST /orders?id=7 HTTP/1.1\r\n${big}\r\n`, { method: 'POST', path: '/orders?id=7' }],
    ['absolute form', `GET http://api.example/v1/x HTTP/1.1\r\n${big}\r\n`, { method: 'GET', path: '/v1/x' }],
    ['a bad header', 'PUT /items/3 HTTP/1.1\r\nbad header\r\n\r\n', { method: 'PUT', path: '/items/3' }],
    ['the second request of a connection', `GET /first HTTP/1.1\r\n\r\nDELETE /second HTTP/1.1\r\n${big}\r\n`, { method: 'DELETE', path: '/second' }],
    ['the request line itself', 'G@T / HTTP/1.1\r\n\r\n', {}],
    ['a request line cut by the limit', `GET /${'p'.repeat(300)} HTTP/1.1\r\n\r\n`, {}],
  ];
  for (const [name, bytes, want] of cases) {
    const r = runSession([{ c: bytes }, { close: 'fin' }], new Map(), 1024, { maxHeadBytes: 256 });
    const failed = r.exchanges.find((e) => e.error === 'parse');
    t.ok(failed, `${name}: a parse error record`);
    t.same({ method: failed?.method, path: failed?.path }, { method: want.method, path: want.path }, name);
  }
});

void t.test('a response nobody asked for is recorded as unpaired', async (t) => {
  const r = invariant(t, [{ s: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n' }, { close: 'fin' }]);
  t.same(r.exchanges.map((e) => [e.status_code, e.error, 'request' in e]), [[408, 'unpaired', false]]);
});

void t.test('headers: lower-case names, repeated joined, set-cookie by newline; authority; absolute-form', async (t) => {
  const r = runSession([
    { c: 'GET http://user@api.example:81/v1/x?q=1 HTTP/1.1\r\nAccept: a\r\naccept: b\r\nX-Empty:\r\n\r\n' },
    { s: 'HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2, c\r\nContent-Length: 0\r\n\r\n' },
    { close: 'fin' },
  ]);
  const e = r.exchanges[0];
  t.equal(e.authority, 'api.example:81');
  t.equal(e.path, '/v1/x?q=1');
  t.same(e.request?.headers, { accept: 'a, b', 'x-empty': '' });
  t.same(e.response?.headers, { 'set-cookie': 'a=1; Path=/\nb=2, c', 'content-length': '0' });
  const proto = runSession([{ c: 'GET / HTTP/1.1\r\n__proto__: x\r\n\r\n' }, { close: 'fin' }]);
  t.equal(Object.getPrototypeOf(proto.exchanges[0].request?.headers), Object.prototype, 'a "__proto__" header cannot change the prototype');
  t.equal(proto.exchanges[0].request?.headers.__proto__, 'x');
});

void t.test('trace context from traceparent and b3', async (t) => {
  const run = (h: string): unknown => {
    const e = runSession([{ c: `GET / HTTP/1.1\r\n${h}\r\n\r\n` }, { close: 'fin' }]).exchanges[0];
    return [e.trace_id, e.parent_span_id];
  };
  t.same(run('traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), ['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7']);
  t.same(run('traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01'), [undefined, undefined], 'all-zero trace id is invalid');
  t.same(run('b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90'), ['80f198ee56343ba864fe8b2a57d3eff7', 'e457b5a2e4d86bd1']);
  t.same(run('X-B3-TraceId: 463ac35c9f6413ad\r\nX-B3-SpanId: a2fb4a1d1a96d312'), ['0000000000000000463ac35c9f6413ad', 'a2fb4a1d1a96d312']);
  t.same(run('b3: 1'), [undefined, undefined]);
});

void t.test('the session never throws into the proxy', async (t) => {
  const session = (await import('../../../sidecar/http1/session.ts')).createHttp1Session({
    maxBodyBytes: 10,
    emit: () => {
      throw new Error('sink down');
    },
    event: () => {
      throw new Error('metrics down');
    },
  });
  t.doesNotThrow(() => {
    session.clientData(Buffer.from('GET / HTTP/1.1\r\n\r\nBAD LINE\r\n\r\n'), 1n);
    session.serverData(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), 2n);
    session.close(3n, 'reset');
    session.clientData(Buffer.from('after close'), 4n);
  });
});

void t.test('header values and the target: UTF-8 octets read as UTF-8 at every cut, other obs-text one char per octet', async (t) => {
  const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
  const req = `GET /${utf8('café')}?q=${utf8('naïve')} HTTP/1.1\r\nHost: shop\r\nX-User: ${utf8('café ☕')}\r\nX-Legacy: \xe9t\xe9\r\nX-Plain: ascii\r\n\r\n`;
  const res = `HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Greeting: ${utf8('grüß dich')}\r\n\r\n`;
  const { exchanges } = invariant(t, [{ c: req }, { s: res }, { close: 'fin' }]);
  t.equal(exchanges.length, 1);
  const [a] = exchanges;
  t.equal(a.path, '/café?q=naïve');
  t.same(a.request?.headers, { host: 'shop', 'x-user': 'café ☕', 'x-legacy': 'été', 'x-plain': 'ascii' });
  t.same(a.response?.headers, { 'content-length': '0', 'x-greeting': 'grüß dich' });
  t.equal(a.bytes_out, Buffer.byteLength(req, 'latin1'), 'byte counts stay octets');
});

void t.test('the connection ends inside a request head: the record says what the request line asked for, and that the head stopped', async (t) => {
  const { exchanges } = invariant(t, [{ c: 'GET /half-sent?x=1 HTTP/1.1\r\nHost: shop\r\nAccept: ' }, { cend: true }, { close: 'fin' }]);
  t.equal(exchanges.length, 1);
  t.match(exchanges[0], { method: 'GET', path: '/half-sent?x=1', error: 'closed', bytes_out: 49, bytes_in: 0 });
  t.same(exchanges[0].notes, ['request head incomplete']);
  const before = invariant(t, [{ c: 'GET /half' }, { close: 'reset' }]);
  t.match(before.exchanges, [{ error: 'reset', notes: ['request head incomplete'] }], 'a request line cut short names nothing');
  t.notOk('method' in before.exchanges[0]);
});
