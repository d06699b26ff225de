import t, { type Test } from 'tap';
import zlib from 'node:zlib';
import { allCuts, plain, runSession, timeOf, type RunResult, type Step } from '../http1/harness.ts';
import type { CaptureContext, Exchange } from '../../../sidecar/capture/session.ts';
import { createH2cUpgradeSession, createHttp2Session, type Http2SessionOptions } from '../../../sidecar/http2/session.ts';
import type { HeaderField } from '../../../sidecar/http2/hpack.ts';
import { data, goaway, headers, ping, PREFACE, priority, pushPromise, rstStream, settings, settingsAck, TestHpackEncoder, windowUpdate, frame } from './h2-wire.ts';

const make =
  (options: Http2SessionOptions = {}) =>
  (ctx: CaptureContext) =>
    createHttp2Session(ctx, options);

function run(steps: Step[], maxBodyBytes = 64 * 1024, options: Http2SessionOptions = {}): RunResult {
  return runSession(steps, new Map(), maxBodyBytes, {}, make(options));
}

/** Runs the script whole, then cut every way; all runs must give the same exchanges and events. */
function invariant(t: Test, steps: Step[], maxBodyBytes = 64 * 1024, options: Http2SessionOptions = {}): RunResult {
  const whole = run(steps, maxBodyBytes, options);
  const expected = JSON.stringify(plain(whole));
  let runs = 0;
  let bad = 0;
  for (const { label, cuts } of allCuts(steps)) {
    runs++;
    const got = runSession(steps, cuts, maxBodyBytes, {}, make(options));
    if (JSON.stringify(plain(got)) !== JSON.stringify(JSON.parse(expected))) {
      bad++;
      if (bad <= 2) t.same(plain(got), plain(whole), `same result when ${label}`);
    }
  }
  t.equal(bad, 0, `identical result for all ${runs} ways to cut the input`);
  return whole;
}

const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('latin1');

/** One HPACK encoder per direction, as on a real connection. */
function conn(): { req: (f: HeaderField[]) => Buffer; res: (f: HeaderField[]) => Buffer } {
  const c = new TestHpackEncoder();
  const s = new TestHpackEncoder();
  return { req: (f) => c.encode(f, { huffman: true }), res: (f) => s.encode(f) };
}

const get = (path: string, extra: HeaderField[] = []): HeaderField[] => [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', path],
  [':authority', 'shop.svc:8080'],
  ...extra,
];
const post = (path: string, extra: HeaderField[] = []): HeaderField[] => [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', path],
  [':authority', 'shop.svc:8080'],
  ...extra,
];
const status = (code: number, extra: HeaderField[] = []): HeaderField[] => [[':status', String(code)], ...extra];

const CLIENT_START = Buffer.concat([PREFACE, settings([[4, 65535]])]);
const SERVER_START = Buffer.concat([settings([[3, 100]]), settingsAck()]);

void t.test('GET: one exchange with timing, headers and frame byte counts', async (t) => {
  const h = conn();
  const reqHeaders = headers(1, h.req(get('/a', [['accept', 'application/json'], ['user-agent', 'test']])), { endStream: true });
  const resHeaders = headers(1, h.res(status(200, [['content-type', 'application/json']])));
  const resData = data(1, '{"ok":true}', { endStream: true });
  const { exchanges, events } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, reqHeaders]) },
    { s: Buffer.concat([SERVER_START, resHeaders, resData]) },
    { c: settingsAck() },
    { close: 'fin' },
  ]);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  const [a] = exchanges;
  t.match(a, {
    protocol: 'http2',
    ordinal: 0,
    method: 'GET',
    path: '/a',
    authority: 'shop.svc:8080',
    status_code: 200,
    start: timeOf(0),
    request_end: timeOf(0),
    response_start: timeOf(1),
    end: timeOf(1),
    bytes_out: reqHeaders.length,
    bytes_in: resHeaders.length + resData.length,
  });
  t.same(a.request?.headers, { accept: 'application/json', 'user-agent': 'test' });
  t.same(a.response?.headers, { 'content-type': 'application/json' });
  t.equal(a.response?.content_type, 'application/json');
  t.equal(text(a.response?.body), '{"ok":true}');
  t.equal(a.response?.body_size, 11);
  t.equal(a.response?.truncated, false);
  t.equal(a.request?.body_size, 0);
  t.notOk('error' in a);
  t.notOk('notes' in a);
});

void t.test('POST with a body in several DATA frames and request trailers', async (t) => {
  const h = conn();
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(post('/orders', [['content-type', 'text/plain']]))), data(1, 'hello '), data(1, 'world')]) },
    { c: headers(1, h.req([['x-checksum', 'abc']]), { endStream: true }) },
    { s: Buffer.concat([SERVER_START, headers(1, h.res(status(201))), data(1, 'created', { endStream: true })]) },
    { close: 'fin' },
  ]);
  t.equal(exchanges.length, 1);
  const [a] = exchanges;
  t.match(a, { method: 'POST', path: '/orders', status_code: 201, request_end: timeOf(1), response_start: timeOf(2), end: timeOf(2) });
  t.equal(text(a.request?.body), 'hello world');
  t.equal(a.request?.body_size, 11);
  t.same(a.request?.trailers, { 'x-checksum': 'abc' });
  t.equal(text(a.response?.body), 'created');
});

void t.test('interleaved streams: ordinals by first HEADERS, emitted as they complete', async (t) => {
  const h = conn();
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(post('/one'))), headers(3, h.req(get('/three')), { endStream: true }), data(1, 'body-1')]) },
    { s: Buffer.concat([SERVER_START, headers(3, h.res(status(200))), data(3, 'thr')]) },
    { c: Buffer.concat([headers(5, h.req(get('/five')), { endStream: true }), data(1, '!', { endStream: true })]) },
    { s: Buffer.concat([headers(5, h.res(status(404))), headers(1, h.res(status(200))), data(3, 'ee', { endStream: true }), data(1, 'one'), data(5, '', { endStream: true })]) },
    { s: data(1, '', { endStream: true }) },
    { close: 'fin' },
  ]);
  t.same(
    exchanges.map((e) => [e.ordinal, e.path, e.status_code, text(e.request?.body), text(e.response?.body), e.end]),
    [
      [1, '/three', 200, '', 'three', timeOf(3)],
      [2, '/five', 404, '', '', timeOf(3)],
      [0, '/one', 200, 'body-1!', 'one', timeOf(4)],
    ],
  );
});

void t.test('gRPC: trailers with grpc-status and grpc-message; trailers-only response', async (t) => {
  const h = conn();
  const grpcReq = (path: string): HeaderField[] => post(path, [['content-type', 'application/grpc'], ['te', 'trailers']]);
  const msg = Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]);
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(grpcReq('/pkg.Svc/Get'))), data(1, msg, { endStream: true }), headers(3, h.req(grpcReq('/pkg.Svc/Missing'))), data(3, msg, { endStream: true })]) },
    {
      s: Buffer.concat([
        SERVER_START,
        headers(1, h.res(status(200, [['content-type', 'application/grpc']]))),
        data(1, msg),
        headers(1, h.res([['grpc-status', '0'], ['grpc-message', 'OK']]), { endStream: true }),
        headers(3, h.res(status(200, [['content-type', 'application/grpc'], ['grpc-status', '5'], ['grpc-message', 'not%20found']])), { endStream: true }),
      ]),
    },
    { close: 'fin' },
  ]);
  const [a, b] = exchanges;
  t.match(a, { protocol: 'grpc', path: '/pkg.Svc/Get', status_code: 200, grpc_status: 0 });
  t.same(a.response?.trailers, { 'grpc-status': '0', 'grpc-message': 'OK' });
  t.same([...(a.response?.body ?? [])], [...msg]);
  t.match(b, { protocol: 'grpc', path: '/pkg.Svc/Missing', grpc_status: 5 });
  t.same(b.response?.trailers, { 'grpc-status': '5', 'grpc-message': 'not%20found' });
  t.equal(b.response?.headers['grpc-message'], 'not%20found');
});

void t.test('RST_STREAM: the stream becomes a reset record (client_timeout when the client cancels after its request), the others go on', async (t) => {
  const h = conn();
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(get('/slow')), { endStream: true }), headers(3, h.req(post('/upload'))), data(3, 'part')]) },
    { s: Buffer.concat([SERVER_START, headers(1, h.res(status(200))), data(1, 'partial')]) },
    { c: rstStream(1, 8) },
    { s: Buffer.concat([rstStream(3, 7), rstStream(1, 8)]) },
    { c: Buffer.concat([headers(5, h.req(get('/after')), { endStream: true })]) },
    { s: Buffer.concat([headers(5, h.res(status(204)), { endStream: true })]) },
    { close: 'fin' },
  ]);
  t.same(
    exchanges.map((e) => [e.ordinal, e.path, e.error, e.error_detail, e.notes, e.end]),
    [
      [0, '/slow', 'client_timeout', 'RST_STREAM CANCEL', ['reset by the client'], timeOf(2)],
      [1, '/upload', 'reset', 'RST_STREAM REFUSED_STREAM', ['reset by the server'], timeOf(3)],
      [2, '/after', undefined, undefined, undefined, timeOf(5)],
    ],
  );
  t.equal(text(exchanges[0].response?.body), 'partial');
  t.equal(exchanges[0].bytes_out > 0 && exchanges[0].bytes_in > 0, true);
});

void t.test('RST_STREAM CANCEL from the client mid-upload stays reset: it gave up before sending its request', async (t) => {
  const h = conn();
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(post('/upload'))), data(1, 'part')]) },
    { s: SERVER_START },
    { c: rstStream(1, 8) },
    { close: 'fin' },
  ]);
  t.same(exchanges.map((e) => [e.path, e.error, e.error_detail]), [['/upload', 'reset', 'RST_STREAM CANCEL']]);
});

void t.test('RST_STREAM NO_ERROR after a full response: not an error', async (t) => {
  const h = conn();
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(post('/big'))), data(1, 'xxxx')]) },
    { s: Buffer.concat([SERVER_START, headers(1, h.res(status(413)), { endStream: true }), rstStream(1, 0)]) },
    { close: 'fin' },
  ]);
  t.equal(exchanges.length, 1);
  t.notOk('error' in exchanges[0]);
  t.match(exchanges[0].notes, [/request cut short by the server/]);
});

void t.test('GOAWAY: streams above last-stream-id are reset, the others complete', async (t) => {
  const h = conn();
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, ...[1, 3, 5].map((id) => headers(id, h.req(get(`/s${id}`)), { endStream: true }))]) },
    { s: Buffer.concat([SERVER_START, goaway(3, 0)]) },
    { s: Buffer.concat([headers(1, h.res(status(200)), { endStream: true }), headers(3, h.res(status(200)), { endStream: true })]) },
    { c: headers(7, h.req(get('/late')), { endStream: true }) },
    { close: 'fin' },
  ]);
  t.same(
    exchanges.map((e) => [e.path, e.error, e.error_detail]),
    [
      ['/s5', 'reset', 'GOAWAY NO_ERROR (last stream 3)'],
      ['/s1', undefined, undefined],
      ['/s3', undefined, undefined],
      ['/late', 'reset', 'GOAWAY received before the stream (last stream 3)'],
    ],
  );
});

void t.test('padding, priority, PING, WINDOW_UPDATE and PRIORITY frames', async (t) => {
  const h = conn();
  const req = headers(1, h.req(post('/p')), { pad: 7, priority: true });
  const body = data(1, 'padded body', { pad: 5, endStream: true });
  const wu = windowUpdate(1, 100);
  const pr = priority(1);
  const { exchanges, events } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, ping(), req, wu, pr, body, windowUpdate(0, 5)]) },
    { s: Buffer.concat([SERVER_START, ping(true), headers(1, h.res(status(200)), { pad: 2 }), data(1, 'ok', { pad: 200, endStream: true })]) },
    { close: 'fin' },
  ]);
  t.same(events, []);
  t.equal(text(exchanges[0].request?.body), 'padded body');
  t.equal(exchanges[0].request?.body_size, 11, 'true DATA bytes without padding');
  t.equal(text(exchanges[0].response?.body), 'ok');
  t.equal(exchanges[0].bytes_out, req.length + wu.length + pr.length + body.length, 'stream frames counted, connection frames not');
});

void t.test('CONTINUATION: a header block split over many frames', async (t) => {
  const h = conn();
  const many: HeaderField[] = Array.from({ length: 20 }, (_, i) => [`x-h${i}`, `value-${i}-${'v'.repeat(i)}`]);
  const req = headers(1, h.req(get('/cont', many)), { split: 13, endStream: true });
  const res = headers(1, h.res(status(200, many)), { split: 7, endStream: true });
  const { exchanges } = invariant(t, [{ c: Buffer.concat([CLIENT_START, req]) }, { s: Buffer.concat([SERVER_START, res]) }, { close: 'fin' }]);
  t.equal(exchanges.length, 1);
  t.equal(exchanges[0].path, '/cont');
  t.equal(exchanges[0].request?.headers['x-h19'], `value-19-${'v'.repeat(19)}`);
  t.equal(Object.keys(exchanges[0].response?.headers ?? {}).length, 20);
  t.equal(exchanges[0].bytes_out, req.length, 'HEADERS and CONTINUATION frames counted');
});

void t.test('PUSH_PROMISE: a pushed stream is its own exchange', async (t) => {
  const h = conn();
  const promise = pushPromise(1, 2, h.res(get('/style.css')), 3);
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(get('/index.html')), { endStream: true })]) },
    { s: Buffer.concat([SERVER_START, promise, headers(1, h.res(status(200, [['content-type', 'text/html']]))), data(1, '<html>')]) },
    { s: Buffer.concat([headers(2, h.res(status(200, [['content-type', 'text/css']]))), data(2, 'body{}', { endStream: true }), data(1, '</html>', { endStream: true })]) },
    { close: 'fin' },
  ]);
  t.same(
    exchanges.map((e) => [e.ordinal, e.method, e.path, e.status_code, text(e.response?.body), e.notes]),
    [
      [1, 'GET', '/style.css', 200, 'body{}', ['server push']],
      [0, 'GET', '/index.html', 200, '<html></html>', undefined],
    ],
  );
  t.equal(exchanges[0].request_end, timeOf(1));
  t.equal(exchanges[0].bytes_out, 0);
  t.ok(exchanges[0].bytes_in > promise.length);
});

void t.test('a body over the limit, then a stream whose headers use the dynamic table', async (t) => {
  const h = conn();
  const custom: HeaderField[] = [['x-tenant', 'acme-corporation'], ['authorization', 'Bearer abcdef']];
  const big = 'B'.repeat(100);
  const { exchanges, events } = invariant(
    t,
    [
      { c: Buffer.concat([CLIENT_START, headers(1, h.req(post('/big', custom))), data(1, big.slice(0, 60)), data(1, big.slice(60), { endStream: true })]) },
      { s: Buffer.concat([SERVER_START, headers(1, h.res(status(200, [['x-server', 'one']]))), data(1, 'R'.repeat(50), { endStream: true })]) },
      // Same custom headers again: the encoder now sends them as dynamic table indexes.
      { c: headers(3, h.req(get('/next', custom)), { endStream: true }) },
      { s: Buffer.concat([headers(3, h.res(status(200, [['x-server', 'one']]))), data(3, 'small', { endStream: true })]) },
      { close: 'fin' },
    ],
    16,
  );
  t.equal(exchanges.length, 2);
  const [a, b] = exchanges;
  t.equal(text(a.request?.body), 'B'.repeat(16));
  t.equal(a.request?.body_size, 100);
  t.equal(a.request?.truncated, true);
  t.equal(a.response?.body_size, 50);
  t.equal(a.response?.truncated, true);
  t.same(b.request?.headers, { 'x-tenant': 'acme-corporation', authorization: 'Bearer abcdef' });
  t.same(b.response?.headers, { 'x-server': 'one' });
  t.equal(text(b.response?.body), 'small');
  t.equal(b.response?.truncated, false);
  t.same(events, [{ kind: 'body_truncated' }, { kind: 'body_truncated' }]);
});

void t.test('gzip response body decoded for display, true size kept', async (t) => {
  const h = conn();
  const json = JSON.stringify({ items: Array.from({ length: 30 }, (_, i) => ({ id: i, name: `item ${i}` })) });
  const gz = zlib.gzipSync(json);
  const { exchanges } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(get('/items', [['accept-encoding', 'gzip']])), { endStream: true })]) },
    { s: Buffer.concat([SERVER_START, headers(1, h.res(status(200, [['content-type', 'application/json'], ['content-encoding', 'gzip']]))), data(1, gz, { endStream: true })]) },
    { close: 'fin' },
  ]);
  const r = exchanges[0].response;
  t.equal(text(r?.body), json);
  t.equal(r?.body_size, gz.length);
  t.equal(r?.content_encoding, 'gzip');
  t.equal(r?.truncated, false);
});

void t.test('interim 1xx skipped with a note; cookies joined; repeated fields joined', async (t) => {
  const h = conn();
  const { exchanges } = invariant(t, [
    {
      c: Buffer.concat([
        CLIENT_START,
        headers(1, h.req(post('/c', [['cookie', 'a=1'], ['cookie', 'b=2'], ['accept', 'text/html'], ['accept', 'application/json'], ['expect', '100-continue']]))),
      ]),
    },
    { s: Buffer.concat([SERVER_START, headers(1, h.res(status(100))), headers(1, h.res(status(103, [['link', '</a.css>']])))]) },
    { c: data(1, 'x', { endStream: true }) },
    { s: headers(1, h.res(status(200, [['set-cookie', 's=1'], ['set-cookie', 't=2']])), { endStream: true }) },
    { close: 'fin' },
  ]);
  const [a] = exchanges;
  t.equal(a.status_code, 200);
  t.equal(a.response_start, timeOf(3));
  t.same(a.notes, ['100-continue', 'interim 103']);
  t.equal(a.request?.headers.cookie, 'a=1; b=2');
  t.equal(a.request?.headers.accept, 'text/html, application/json');
  t.equal(a.response?.headers['set-cookie'], 's=1\nt=2');
});

void t.test('close: open streams get the close reason', async (t) => {
  for (const [reason, error] of [
    ['fin', 'closed'],
    ['reset', 'reset'],
    ['timeout', 'timeout'],
    ['capture_overflow', 'capture_overflow'],
  ] as const) {
    const h = conn();
    const { exchanges } = invariant(t, [
      { c: Buffer.concat([CLIENT_START, headers(1, h.req(get('/a')), { endStream: true }), headers(3, h.req(post('/b'))), data(3, 'x')]) },
      { s: Buffer.concat([SERVER_START, headers(3, h.res(status(200)), { endStream: true })]) },
      { close: reason },
    ]);
    t.same(
      exchanges.map((e) => [e.path, e.error, e.notes]),
      [
        ['/a', error, undefined],
        ['/b', undefined, ['request incomplete']],
      ],
      reason,
    );
  }
});

void t.test('stream cap: streams beyond it are not recorded but their headers still decode', async (t) => {
  const h = conn();
  const x: HeaderField[] = [['x-long-custom-header', 'some-value-that-is-indexed']];
  const { exchanges, events } = invariant(
    t,
    [
      { c: Buffer.concat([CLIENT_START, headers(1, h.req(get('/1')), { endStream: true }), headers(3, h.req(get('/3')), { endStream: true }), headers(5, h.req(get('/5', x)), { endStream: true })]) },
      { s: Buffer.concat([SERVER_START, headers(5, h.res(status(200)), { endStream: true }), headers(1, h.res(status(200)), { endStream: true }), headers(3, h.res(status(200)), { endStream: true })]) },
      { c: headers(7, h.req(get('/7', x)), { endStream: true }) },
      { s: headers(7, h.res(status(200)), { endStream: true }) },
      { close: 'fin' },
    ],
    1024,
    { maxOpenStreams: 2 },
  );
  t.same(events, [{ kind: 'capture_overflow', reason: 'pending_exchanges' }]);
  t.same(
    exchanges.map((e) => [e.ordinal, e.path, e.request?.headers]),
    [
      [0, '/1', {}],
      [1, '/3', {}],
      [2, '/7', { 'x-long-custom-header': 'some-value-that-is-indexed' }],
    ],
  );
});

void t.test('garbage and broken HPACK: parse_error events, never a throw', async (t) => {
  const http1 = invariant(t, [{ c: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' }, { s: 'HTTP/1.1 200 OK\r\n\r\n' }, { close: 'fin' }]);
  t.match(http1.events, [{ kind: 'parse_error', side: 'client', detail: /client preface/ }]);
  t.match(http1.exchanges, [{ protocol: 'http2', error: 'parse', error_detail: /client preface/ }]);
  const h = conn();
  const broken = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(get('/ok')))]) },
    { c: headers(3, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])) },
    { s: Buffer.concat([SERVER_START, headers(1, h.res(status(200)), { endStream: true })]) },
    { close: 'fin' },
  ]);
  t.match(broken.events, [{ kind: 'parse_error', side: 'client', detail: /HPACK/ }]);
  t.match(broken.exchanges, [{ path: '/ok', error: 'parse' }]);
  for (let seed = 1; seed <= 200; seed++) {
    const rand = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (seed * 7919 + i * 104729) % 251));
    t.doesNotThrow(() => run([{ c: Buffer.concat([PREFACE, rand(seed)]) }, { s: rand(seed + 3) }, { close: 'fin' }]));
  }
  const throwing = createHttp2Session({ maxBodyBytes: 10, emit: () => { throw new Error('sink'); }, event: () => { throw new Error('metrics'); } });
  t.doesNotThrow(() => {
    throwing.clientData(Buffer.from('nope, not HTTP/2 at all........'), 1n);
    throwing.close(2n, 'fin');
  });
});

void t.test('SETTINGS: header table size and max frame size bound the other side', async (t) => {
  const bigHeaderTable = settings([[1, 8192], [5, 32768]]);
  const big = 'D'.repeat(20000);
  // Whole runs only: cutting a 20 KB step every way would take long and prove nothing new.
  const r = run([{ c: Buffer.concat([PREFACE, bigHeaderTable]) }, { s: SERVER_START }, { c: headers(1, new TestHpackEncoder().encode(get('/x')), { endStream: true }) }, { s: Buffer.concat([headers(1, new TestHpackEncoder().encode(status(200), { sizeUpdate: 8192 })), data(1, big, { endStream: true })]) }, { close: 'fin' }], 30000);
  t.same(r.events, []);
  t.equal(r.exchanges[0].response?.body_size, 20000);
  const tooBig = run([{ c: Buffer.concat([PREFACE, settings()]) }, { s: SERVER_START }, { c: headers(1, new TestHpackEncoder().encode(get('/x')), { endStream: true }) }, { s: Buffer.concat([headers(1, new TestHpackEncoder().encode(status(200), { sizeUpdate: 8192 }))]) }, { close: 'fin' }]);
  t.match(tooBig.events, [{ kind: 'parse_error', side: 'server', detail: /above SETTINGS_HEADER_TABLE_SIZE 4096/ }]);
  const badSetting = run([{ c: Buffer.concat([PREFACE, settings([[5, 100]])]) }, { close: 'fin' }]);
  t.match(badSetting.events, [{ kind: 'parse_error', detail: /SETTINGS_MAX_FRAME_SIZE 100/ }]);
});

void t.test('skip inside DATA is absorbed; elsewhere refused; resync stops with HPACK state lost', async (t) => {
  const h = conn();
  const events: unknown[] = [];
  const out: Exchange[] = [];
  const s = createHttp2Session({ maxBodyBytes: 1000, emit: (e) => out.push(e), event: (e) => events.push(e) });
  const body = data(1, 'A'.repeat(100), { endStream: true });
  s.clientData(Buffer.concat([CLIENT_START, headers(1, h.req(post('/s')))]), 1n);
  s.clientData(body.subarray(0, 9 + 10), 2n);
  t.equal(s.skipClient?.(50, 3n), true, 'inside DATA');
  s.clientData(body.subarray(9 + 60), 4n);
  t.equal(s.skipClient?.(5, 5n), false, 'between frames');
  s.serverData(Buffer.concat([SERVER_START, headers(1, h.res(status(200)), { endStream: true })]), 6n);
  t.equal(out.length, 1);
  t.equal(out[0].request?.body_size, 100);
  t.equal(out[0].request?.truncated, true);
  t.equal(text(out[0].request?.body), 'A'.repeat(10));
  t.match(out[0].notes, ['request.body: 50 bytes not captured (capture fell behind forwarding)']);
  // A gap elsewhere: the caller resyncs; open streams become capture_overflow, then nothing more.
  s.clientData(headers(3, h.req(get('/open')), { endStream: true }), 7n);
  s.resync?.(8n, 'client gap');
  t.match(out[1], { path: '/open', error: 'capture_overflow', error_detail: /HPACK state lost/ });
  s.clientData(headers(5, h.req(get('/ignored')), { endStream: true }), 9n);
  t.equal(s.skipServer?.(10, 10n), true, 'after stopping, nothing is lost any more');
  s.close(11n, 'fin');
  t.equal(out.length, 2);
  const empty: Exchange[] = [];
  const m = createHttp2Session({ maxBodyBytes: 10, emit: (e) => empty.push(e), event: () => {} });
  m.resync?.(5n, 'gap');
  t.match(empty, [{ protocol: 'http2', error: 'capture_overflow', error_detail: /HPACK state lost/, notes: [/HPACK state lost/] }]);
});

void t.test('h2c upgrade: stream 1 is the upgraded request, answered on stream 1', async (t) => {
  const h = conn();
  // The client's settings travel in the upgrade request: a bigger table the server then uses.
  const h2settings = settings([[1, 8192], [4, 65535]]).subarray(9).toString('base64url');
  const serverEnc = new TestHpackEncoder();
  const first = {
    method: 'GET',
    path: '/upgrade-me',
    authority: 'shop.svc',
    headers: { host: 'shop.svc', connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': h2settings },
    body: new Uint8Array(),
    start: timeOf(0),
    bytes_out: 120,
  };
  const steps: Step[] = [
    { s: Buffer.concat([settings(), headers(1, serverEnc.encode(status(200, [['content-type', 'text/plain']]), { sizeUpdate: 8192 })), data(1, 'upgraded!', { endStream: true })]) },
    { c: Buffer.concat([CLIENT_START, settingsAck(), headers(3, h.req(get('/second')), { endStream: true })]) },
    { s: Buffer.concat([settingsAck(), headers(3, serverEnc.encode(status(204)), { endStream: true })]) },
    { close: 'fin' },
  ];
  const mk = (ctx: CaptureContext) => createH2cUpgradeSession(ctx, first, { firstOrdinal: 4 });
  const whole = runSession(steps, new Map(), 1024, {}, mk);
  let bad = 0;
  for (const { cuts } of allCuts(steps)) if (JSON.stringify(plain(runSession(steps, cuts, 1024, {}, mk))) !== JSON.stringify(plain(whole))) bad++;
  t.equal(bad, 0, 'identical at every cut');
  t.same(whole.events, []);
  t.same(
    whole.exchanges.map((e) => [e.ordinal, e.method, e.path, e.authority, e.status_code, text(e.response?.body), e.notes, e.start, e.bytes_out]),
    [
      [4, 'GET', '/upgrade-me', 'shop.svc', 200, 'upgraded!', ['upgraded from HTTP/1.1 (h2c)'], timeOf(0), 120],
      [5, 'GET', '/second', 'shop.svc:8080', 204, '', undefined, timeOf(1), whole.exchanges[1].bytes_out],
    ],
  );
});

void t.test('frames for unknown or finished streams and an extension frame are ignored', async (t) => {
  const h = conn();
  const { exchanges, events } = invariant(t, [
    { c: Buffer.concat([CLIENT_START, headers(1, h.req(get('/a')), { endStream: true }), frame(0xbb, 0, 1, Buffer.from('ext'))]) },
    { s: Buffer.concat([SERVER_START, headers(1, h.res(status(200)), { endStream: true })]) },
    { c: Buffer.concat([windowUpdate(1, 10), rstStream(1, 5), data(9, 'stray')]) },
    { s: headers(2, h.res(status(200)), { endStream: true }) },
    { close: 'fin' },
  ]);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  t.notOk('error' in exchanges[0]);
});

void t.test('header values and :path: UTF-8 octets read as UTF-8, other octets one char each', async (t) => {
  const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
  const h = conn();
  const reqHeaders = headers(1, h.req(get(`/${utf8('café')}`, [['x-user', utf8('café ☕')], ['x-legacy', '\xe9t\xe9']])), { endStream: true });
  const resHeaders = headers(1, h.res(status(200, [['x-greeting', utf8('grüß dich')]])), { endStream: true });
  const { exchanges } = invariant(t, [{ c: Buffer.concat([CLIENT_START, reqHeaders]) }, { s: Buffer.concat([SERVER_START, resHeaders]) }, { close: 'fin' }]);
  t.equal(exchanges.length, 1);
  const [a] = exchanges;
  t.equal(a.path, '/café');
  t.same(a.request?.headers, { 'x-user': 'café ☕', 'x-legacy': 'été' });
  t.same(a.response?.headers, { 'x-greeting': 'grüß dich' });
});
