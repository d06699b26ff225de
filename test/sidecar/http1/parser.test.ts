import t from 'tap';
import { Http1Parser } from '../../../sidecar/http1/parser.ts';
import { bytes, parseAll, randomCuts, rng } from './harness.ts';
import type { Http1ParserOptions } from '../../../sidecar/http1/parser.ts';

interface Case {
  name: string;
  kind: 'request' | 'response';
  input: string;
  expect: string[];
  options?: Http1ParserOptions;
  finish?: boolean;
}

const head = (s: string): number => Buffer.byteLength(s, 'latin1');

const cases: Case[] = [
  {
    name: 'GET with headers in order',
    kind: 'request',
    input: 'GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-A: 1\r\nx-a: 2\r\n\r\n',
    expect: [
      'begin',
      `head GET /a?b=1 HTTP/1.1 [Host=x|Accept=*/*|X-A=1|x-a=2] none size=${head('GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-A: 1\r\nx-a: 2\r\n\r\n')}`,
      'complete 61',
    ],
  },
  {
    name: 'Content-Length body, then a second request (keep-alive)',
    kind: 'request',
    input: 'POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n',
    expect: [
      'begin',
      'head POST /p HTTP/1.1 [Content-Length=5] length:5 size=39',
      'body hello',
      'complete 44',
      'begin',
      'head GET / HTTP/1.0 [] none size=18',
      'complete 18',
    ],
  },
  {
    name: 'chunked with extensions and trailers',
    kind: 'request',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Sum: 1\r\nX-Other: b\r\n\r\n',
    expect: [
      'begin',
      'head POST / HTTP/1.1 [Transfer-Encoding=chunked] chunked size=47',
      'body hello world',
      'trailers [X-Sum=1|X-Other=b]',
      'complete 108',
    ],
  },
  {
    name: 'chunked without trailers, hex sizes',
    kind: 'response',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\na\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n',
    expect: [
      'begin',
      'head 200 OK HTTP/1.1 [Transfer-Encoding=gzip, chunked] chunked size=53',
      'body 0123456789abcdefghij',
      'complete 88',
    ],
  },
  {
    name: 'empty lines before a request are skipped and not counted',
    kind: 'request',
    input: '\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    expect: ['begin', 'head GET / HTTP/1.1 [] none size=18', 'complete 18'],
  },
  {
    name: 'bare LF line endings',
    kind: 'request',
    input: 'GET / HTTP/1.1\nHost: a\n\n',
    expect: ['begin', 'head GET / HTTP/1.1 [Host=a] none size=24', 'complete 24'],
  },
  {
    name: 'obs-fold unfolds into one space',
    kind: 'response',
    input: 'HTTP/1.1 204 No Content\r\nX-Long: a\r\n  b\r\n\tc\r\n\r\n',
    expect: ['begin', 'head 204 No Content HTTP/1.1 [X-Long=a b c] none size=47', 'complete 47'],
  },
  {
    name: 'status line without reason phrase; OWS trimmed, obs-text kept',
    kind: 'response',
    input: 'HTTP/1.1 200\r\nContent-Length:2 \r\nX-T: \xe9t\xe9\r\n\r\nok',
    expect: ['begin', 'head 200  HTTP/1.1 [Content-Length=2|X-T=\xe9t\xe9] length:2 size=45', 'body ok', 'complete 47'],
  },
  {
    name: 'response delimited by connection close',
    kind: 'response',
    input: 'HTTP/1.0 200 OK\r\n\r\nall of this until close',
    finish: true,
    expect: ['begin', 'head 200 OK HTTP/1.0 [] eof size=19', 'body all of this until close', 'complete 42', 'finish true'],
  },
  {
    name: 'response with Transfer-Encoding not ending in chunked is close-delimited',
    kind: 'response',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz',
    finish: true,
    expect: ['begin', 'head 200 OK HTTP/1.1 [Transfer-Encoding=gzip] eof size=44', 'body zzz', 'complete 47', 'finish true'],
  },
  {
    name: 'response to HEAD has no body despite Content-Length',
    kind: 'response',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
    options: { requestMethod: () => 'HEAD' },
    expect: [
      'begin',
      'head 200 OK HTTP/1.1 [Content-Length=10] none size=39',
      'complete 39',
      'begin',
      'head 404 Not Found HTTP/1.1 [Content-Length=0] none size=45',
      'complete 45',
    ],
  },
  {
    name: '204 and 304 have no body',
    kind: 'response',
    input: 'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n',
    expect: [
      'begin',
      'head 204 No Content HTTP/1.1 [Content-Length=3] none size=46',
      'complete 46',
      'begin',
      'head 304 Not Modified HTTP/1.1 [Content-Length=3] none size=48',
      'complete 48',
    ],
  },
  {
    name: '100 Continue is its own message before the final response',
    kind: 'response',
    input: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    expect: [
      'begin',
      'head 100 Continue HTTP/1.1 [] none size=25',
      'complete 25',
      'begin',
      'head 200 OK HTTP/1.1 [Content-Length=2] length:2 size=38',
      'body ok',
      'complete 40',
    ],
  },
  {
    name: '101 stops the parser; the rest is not HTTP',
    kind: 'response',
    input: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello',
    expect: [
      'begin',
      'head 101 Switching Protocols HTTP/1.1 [Upgrade=websocket|Connection=Upgrade] none size=77 upgrade=websocket',
      'complete 77',
      'stopped upgraded \x81\x05hello',
    ],
  },
  {
    name: 'a request asking for an upgrade pauses the parser after it',
    kind: 'request',
    input: 'GET /chat HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\n\r\n',
    expect: [
      'begin',
      'head GET /chat HTTP/1.1 [Connection=keep-alive, Upgrade|Upgrade=websocket] none size=75 upgrade=websocket',
      'complete 75',
      'stopped paused GET /next HTTP/1.1\r\n\r\n',
    ],
  },
  {
    name: 'Upgrade without Connection: upgrade is just a header',
    kind: 'request',
    input: 'GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\nGET /2 HTTP/1.1\r\n\r\n',
    expect: ['begin', 'head GET / HTTP/1.1 [Upgrade=h2c] none size=32', 'complete 32', 'begin', 'head GET /2 HTTP/1.1 [] none size=19', 'complete 19'],
  },
  {
    name: 'CONNECT pauses the request side',
    kind: 'request',
    input: 'CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n\x00\x01',
    expect: ['begin', 'head CONNECT db:5432 HTTP/1.1 [Host=db:5432] none size=43', 'complete 43', 'stopped paused \x00\x01'],
  },
  {
    name: 'a 2xx to CONNECT switches the response side to a tunnel',
    kind: 'response',
    input: 'HTTP/1.1 200 Connection Established\r\n\r\n\x00\x02',
    options: { requestMethod: () => 'CONNECT' },
    expect: ['begin', 'head 200 Connection Established HTTP/1.1 [] none size=39', 'complete 39', 'stopped upgraded \x00\x02'],
  },
  {
    name: 'Transfer-Encoding wins over Content-Length',
    kind: 'request',
    input: 'POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
    expect: ['begin', 'head POST / HTTP/1.1 [Content-Length=100|Transfer-Encoding=chunked] chunked size=68', 'body a', 'complete 79'],
  },
  {
    name: 'repeated identical Content-Length is accepted',
    kind: 'request',
    input: 'PUT / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab',
    expect: ['begin', 'head PUT / HTTP/1.1 [Content-Length=2, 2|Content-Length=2] length:2 size=59', 'body ab', 'complete 61'],
  },
  { name: 'conflicting Content-Length', kind: 'request', input: 'POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc', expect: ['begin', 'error SC_ERR_HTTP1_CONTENT_LENGTH', 'stopped failed'] },
  { name: 'non-numeric Content-Length', kind: 'response', input: 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_CONTENT_LENGTH'] },
  { name: 'negative Content-Length', kind: 'request', input: 'POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_CONTENT_LENGTH'] },
  {
    name: 'invalid chunk size',
    kind: 'request',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    expect: ['begin', 'head POST / HTTP/1.1 [Transfer-Encoding=chunked] chunked size=47', 'error SC_ERR_HTTP1_CHUNK_SIZE', 'stopped failed'],
  },
  {
    name: 'chunk size with trailing garbage',
    kind: 'response',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n',
    expect: ['begin', 'head 200 OK HTTP/1.1 [Transfer-Encoding=chunked] chunked size=47', 'error SC_ERR_HTTP1_CHUNK_SIZE', 'stopped failed'],
  },
  {
    name: 'chunk data longer than its size',
    kind: 'response',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n',
    expect: ['begin', 'head 200 OK HTTP/1.1 [Transfer-Encoding=chunked] chunked size=47', 'body ab', 'error SC_ERR_HTTP1_CHUNK_FRAMING', 'stopped failed'],
  },
  {
    name: 'request Transfer-Encoding must end in chunked',
    kind: 'request',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
    expect: ['begin', 'error SC_ERR_HTTP1_TRANSFER_ENCODING'],
  },
  { name: 'whitespace before the colon', kind: 'request', input: 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_HEADER'] },
  { name: 'header without colon', kind: 'request', input: 'GET / HTTP/1.1\r\nHost\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_HEADER'] },
  { name: 'NUL in a header value', kind: 'response', input: 'HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_HEADER'] },
  { name: 'bare CR inside a header line', kind: 'request', input: 'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_HEADER'] },
  { name: 'fold before any header', kind: 'request', input: 'GET / HTTP/1.1\r\n x\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_HEADER'] },
  { name: 'garbage request line', kind: 'request', input: 'HELLO\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_START_LINE', 'stopped failed'] },
  { name: 'space in the target', kind: 'request', input: 'GET /a b HTTP/1.1\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_START_LINE'] },
  { name: 'HTTP/2.0 in a request line', kind: 'request', input: 'GET / HTTP/2.0\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_START_LINE'] },
  { name: 'status code not three digits', kind: 'response', input: 'HTTP/1.1 20 OK\r\n\r\n', expect: ['begin', 'error SC_ERR_HTTP1_START_LINE'] },
  { name: 'response that is not HTTP', kind: 'response', input: '+PONG\r\n', expect: ['begin', 'error SC_ERR_HTTP1_START_LINE'] },
  {
    name: 'head over the limit',
    kind: 'request',
    input: `GET / HTTP/1.1\r\nX: ${'a'.repeat(120)}\r\n\r\n`,
    options: { maxHeadBytes: 100 },
    expect: ['begin', 'error SC_ERR_HTTP1_HEAD_TOO_LARGE', 'stopped failed'],
  },
  {
    name: 'trailer section over the limit',
    kind: 'request',
    input: `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${'b'.repeat(120)}\r\n\r\n`,
    options: { maxHeadBytes: 100 },
    expect: ['begin', 'head POST / HTTP/1.1 [Transfer-Encoding=chunked] chunked size=47', 'error SC_ERR_HTTP1_HEAD_TOO_LARGE', 'stopped failed'],
  },
  {
    name: 'chunk-size line over the limit',
    kind: 'request',
    input: `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(60)}\r\na\r\n0\r\n\r\n`,
    options: { maxChunkLineBytes: 32 },
    expect: ['begin', 'head POST / HTTP/1.1 [Transfer-Encoding=chunked] chunked size=47', 'error SC_ERR_HTTP1_CHUNK_SIZE', 'stopped failed'],
  },
  {
    name: 'end of stream inside a body',
    kind: 'response',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc',
    finish: true,
    expect: ['begin', 'head 200 OK HTTP/1.1 [Content-Length=10] length:10 size=39', 'body abc', 'finish false'],
  },
];

for (const c of cases) {
  void t.test(c.name, async (t) => {
    const input = bytes(c.input);
    const whole = parseAll(c.kind, [input], c.options, c.finish);
    t.match(whole.slice(0, c.expect.length), c.expect, 'events of the whole input');
    t.same(whole.slice(0, c.expect.length), c.expect, 'exactly');
    let mismatches = 0;
    const check = (pieces: Buffer[], label: string): void => {
      const got = parseAll(c.kind, pieces, c.options, c.finish);
      if (JSON.stringify(got) !== JSON.stringify(whole)) {
        mismatches++;
        if (mismatches < 3) t.same(got, whole, label);
      }
    };
    for (let k = 1; k < input.length; k++) check([input.subarray(0, k), input.subarray(k)], `cut at ${k}`);
    check([...input].map((b) => Buffer.from([b])), 'byte by byte');
    const rand = rng(input.length);
    for (let r = 0; r < 10; r++) {
      const cuts = [0, ...randomCuts(input.length, 2 + Math.floor(rand() * 10), rand), input.length];
      check(cuts.slice(1).map((e, i) => input.subarray(cuts[i], e)), `random ${r}`);
    }
    t.equal(mismatches, 0, 'same events for every split');
  });
}

void t.test('default head limit is 64 KiB', async (t) => {
  const ok = `GET / HTTP/1.1\r\nX: ${'a'.repeat(60 * 1024)}\r\n\r\n`;
  t.match(parseAll('request', [bytes(ok)]), ['begin', /^head GET/, /^complete/]);
  const big = `GET / HTTP/1.1\r\nX: ${'a'.repeat(70 * 1024)}\r\n\r\n`;
  t.same(parseAll('request', [bytes(big)]), ['begin', 'error SC_ERR_HTTP1_HEAD_TOO_LARGE', 'stopped failed']);
  // Never buffers past the limit, even without a line end.
  const p = new Http1Parser('request', { onMessageBegin() {}, onHead() {}, onBody() {}, onTrailers() {}, onMessageComplete() {}, onError() {} });
  for (let i = 0; i < 100 && !p.failed; i++) p.execute(Buffer.alloc(1024, 0x61));
  t.ok(p.failed, 'an endless line fails at the limit');
});

void t.test('after an error, input is ignored', async (t) => {
  const errors: string[] = [];
  const p = new Http1Parser('request', {
    onMessageBegin() {},
    onHead() {},
    onBody() {},
    onTrailers() {},
    onMessageComplete() {},
    onError: (e) => errors.push(e.code),
  });
  p.execute(bytes('BAD\r\n'));
  t.equal(p.execute(bytes('GET / HTTP/1.1\r\n\r\n')), 0);
  t.same(errors, ['SC_ERR_HTTP1_START_LINE']);
});

void t.test('resume after a refused upgrade continues with the next request', async (t) => {
  const seen: string[] = [];
  const p = new Http1Parser('request', {
    onMessageBegin() {},
    onHead: (h) => seen.push(h.target),
    onBody() {},
    onTrailers() {},
    onMessageComplete() {},
    onError: (e) => seen.push(e.code),
  });
  const input = bytes('GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\n\r\n');
  const n = p.execute(input);
  t.ok(p.paused);
  p.resume();
  t.equal(p.execute(input.subarray(n)), input.length - n);
  t.same(seen, ['/ws', '/next']);
});
