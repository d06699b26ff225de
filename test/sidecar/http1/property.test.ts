import t from 'tap';
import fc from 'fast-check';
import { createHttp1Session } from '../../../sidecar/http1/session.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { Http1Parser } from '../../../sidecar/http1/parser.ts';
import { octetText } from '../../../sidecar/http1/octet-text.ts';

const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&*+.^`|~'.split(''));
const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect', 'host', 'content-encoding', 'trailer']);
const headerName = fc.oneof(
  // A small pool so repeated names (and their joining rules) come up often.
  fc.constantFrom('X-A', 'x-a', 'Accept', 'Set-Cookie', 'set-cookie', 'Cookie'),
  fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 }).filter((n) => !RESERVED.has(n.toLowerCase()) && n.toLowerCase() !== '__proto__'),
);
const valueChar = fc.constantFrom(...' abcXYZ019=;,/"\t:\x80\xe9\xff\xc3\xa9'.split(''));
const headerValue = fc
  .string({ unit: valueChar, maxLength: 20 })
  .map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
const headers = fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 });
const body = fc.uint8Array({ maxLength: 300 });
const framing = fc.oneof(
  fc.constant<{ kind: 'length' }>({ kind: 'length' }),
  fc.record({ kind: fc.constant<'chunked'>('chunked'), sizes: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }), trailers: headers }),
);
const pathChar = fc.constantFrom(...'abc/XYZ09-._~%?=&'.split(''));
const path = fc.string({ unit: pathChar, maxLength: 20 }).map((p) => `/${p}`);

interface Msg {
  headers: Array<[string, string]>;
  body: Uint8Array;
  framing: { kind: 'length' } | { kind: 'chunked'; sizes: number[]; trailers: Array<[string, string]> };
}

const request = fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'), path, headers, body, framing });
const response = fc.record({ status: fc.constantFrom(200, 201, 204, 304, 404, 500, 503), headers, body, framing });

function serialize(start: string, m: Msg, bodyAllowed: boolean): Buffer {
  const lines = [start, ...m.headers.map(([n, v]) => `${n}: ${v}`)];
  const parts: Buffer[] = [];
  const b = bodyAllowed ? Buffer.from(m.body) : Buffer.alloc(0);
  if (m.framing.kind === 'chunked' && bodyAllowed) {
    lines.push('Transfer-Encoding: chunked');
    parts.push(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
    let off = 0;
    let i = 0;
    while (off < b.length) {
      const n = Math.min(m.framing.sizes[i++ % Math.max(1, m.framing.sizes.length)] ?? 16, b.length - off);
      parts.push(Buffer.from(`${n.toString(16)}\r\n`), b.subarray(off, off + n), Buffer.from('\r\n'));
      off += n;
    }
    parts.push(Buffer.from('0\r\n' + m.framing.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n', 'latin1'));
  } else {
    if (bodyAllowed) lines.push(`Content-Length: ${b.length}`);
    parts.push(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b);
  }
  return Buffer.concat(parts);
}

function record(list: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, octets] of list) {
    const k = n.toLowerCase();
    const v = octetText(octets); // as the record reads a value: UTF-8 where its octets are
    out[k] = Object.hasOwn(out, k) ? `${out[k]}${k === 'set-cookie' ? '\n' : ', '}${v}` : v;
  }
  return out;
}

function cutAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    if (p > last) out.push(buf.subarray(last, p));
    last = Math.max(last, p);
  }
  if (last < buf.length) out.push(buf.subarray(last));
  return out;
}

void t.test('random valid exchanges, cut anywhere and interleaved, pair into the right exchanges', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(request, response), { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.boolean(),
      (pairs, clientCuts, serverCuts, pipelined) => {
        const reqBytes = pairs.map(([q]) => serialize(`${q.method} ${q.path} HTTP/1.1`, q as Msg, q.method !== 'GET' && q.method !== 'HEAD'));
        const resBytes = pairs.map(([q, s]) => serialize(`HTTP/1.1 ${s.status} X`, s as Msg, !(s.status === 204 || s.status === 304 || q.method === 'HEAD')));
        const got: Exchange[] = [];
        const session = createHttp1Session({ maxBodyBytes: 128, emit: (e) => got.push(e), event: () => {} });
        let now = 1n;
        if (pipelined) {
          for (const c of cutAt(Buffer.concat(reqBytes), clientCuts)) session.clientData(c, now++);
          for (const c of cutAt(Buffer.concat(resBytes), serverCuts)) session.serverData(c, now++);
        } else {
          for (let i = 0; i < pairs.length; i++) {
            for (const c of cutAt(reqBytes[i], clientCuts)) session.clientData(c, now++);
            for (const c of cutAt(resBytes[i], serverCuts)) session.serverData(c, now++);
          }
        }
        session.close(now, 'fin');
        if (got.length !== pairs.length) return false;
        return pairs.every(([q, s], i) => {
          const e = got[i];
          const reqBody = q.method !== 'GET' && q.method !== 'HEAD' ? Buffer.from(q.body) : Buffer.alloc(0);
          const resBody = s.status === 204 || s.status === 304 || q.method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(s.body);
          const expectReqHeaders = record(q.headers);
          const expectResHeaders = record(s.headers);
          for (const [h, m, b] of [[expectReqHeaders, q, reqBody], [expectResHeaders, s, resBody]] as const) {
            if (m.framing.kind === 'chunked' && b !== undefined && (m === q ? q.method !== 'GET' && q.method !== 'HEAD' : !(s.status === 204 || s.status === 304 || q.method === 'HEAD'))) h['transfer-encoding'] = 'chunked';
            else if (m === q ? q.method !== 'GET' && q.method !== 'HEAD' : !(s.status === 204 || s.status === 304 || q.method === 'HEAD')) h['content-length'] = String(b.length);
          }
          return (
            e.error === undefined &&
            e.ordinal === i &&
            e.method === q.method &&
            e.path === q.path &&
            e.status_code === s.status &&
            e.bytes_out === reqBytes[i].length &&
            e.bytes_in === resBytes[i].length &&
            e.request?.body_size === reqBody.length &&
            e.response?.body_size === resBody.length &&
            Buffer.from(e.request?.body ?? []).equals(reqBody.subarray(0, 128)) &&
            Buffer.from(e.response?.body ?? []).equals(resBody.subarray(0, 128)) &&
            e.response?.truncated === resBody.length > 128 &&
            JSON.stringify(e.request?.headers) === JSON.stringify(expectReqHeaders) &&
            JSON.stringify(e.response?.headers) === JSON.stringify(expectResHeaders)
          );
        });
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random connections paired correctly');
});

const garbageStep = fc.oneof(
  fc.record({ c: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ s: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ c: fc.constantFrom('GET / HTTP/1.1\r\n', 'Content-Length: 3\r\n', '\r\n', 'Transfer-Encoding: chunked\r\n', 'ffffffffffffff\r\n', 'Connection: upgrade\r\nUpgrade: x\r\n') }),
  fc.record({ s: fc.constantFrom('HTTP/1.1 200 OK\r\n', 'HTTP/1.1 101 S\r\n\r\n', 'HTTP/1.1 100 C\r\n\r\n', '0\r\n\r\n', 'Content-Length: 99999999999\r\n\r\n') }),
  fc.constant({ cend: true }),
  fc.constant({ send: true }),
);

void t.test('random garbage and half-valid input never throws and every record is well formed', async (t) => {
  fc.assert(
    fc.property(fc.array(garbageStep, { maxLength: 20 }), fc.constantFrom('fin', 'reset', 'error', 'drain', 'timeout') , (steps, reason) => {
      const got: Exchange[] = [];
      const session = createHttp1Session({ maxBodyBytes: 32, emit: (e) => got.push(e), event: () => {} });
      let now = 1n;
      for (const step of steps) {
        now++;
        if ('c' in step) session.clientData(typeof step.c === 'string' ? Buffer.from(step.c) : step.c, now);
        else if ('s' in step) session.serverData(typeof step.s === 'string' ? Buffer.from(step.s) : step.s, now);
        else if ('cend' in step) session.clientEnd(now);
        else session.serverEnd(now);
      }
      session.close(now + 1n, reason);
      return got.every(
        (e, i) =>
          e.ordinal === i &&
          e.start <= e.end &&
          e.bytes_in >= 0 &&
          e.bytes_out >= 0 &&
          (e.request === undefined || e.request.body.length <= 32) &&
          (e.response === undefined || e.response.body.length <= 32),
      );
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom<'request' | 'response'>('request', 'response'), (data, kind) => {
      const p = new Http1Parser(kind, { onMessageBegin() {}, onHead() {}, onBody() {}, onTrailers() {}, onMessageComplete() {}, onError() {} });
      p.execute(data);
      p.finish();
      return true;
    }),
    { numRuns: 1000 },
  );
  t.pass('no throw');
});
