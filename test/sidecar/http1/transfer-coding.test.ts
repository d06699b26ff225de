/**
 * Transfer codings other than `chunked` (RFC 9112 §6.1, §7): `Transfer-Encoding: gzip, chunked`
 * compresses the body before it is chunked. The parser frames by the final `chunked` (framing
 * unchanged); the capture removes the codings before it (and a close-delimited response's
 * codings), in reverse order of application, then the content codings, so the body is stored
 * decoded and masked as any decoded body is. A coding it cannot remove, or one that fails, leaves
 * the body out of the record with a note: a compressed body is never stored as it came.
 */
import t, { type Test } from 'tap';
import zlib from 'node:zlib';
import { decodeCallRecordMessage } from '../../../record/record-reader.ts';
import type { HttpMessage } from '../../../record/record.ts';
import { decodeTransferCodings, isDecodable } from '../../../sidecar/capture/decode-body.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { throughEngine } from '../mask/through-engine.ts';
import { runSession, sameAtEveryCut, type Step } from './harness.ts';

const SECRET = 'hunter2-te-secret';
const JSON_BODY = `{"password":"${SECRET}","ok":1}`;
const MASKED_BODY = '{"password":"****","ok":1}';

const text = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('latin1');

/** `data` in chunked framing, cut into chunks of `size` bytes. */
function chunked(data: Buffer, size = 7): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) {
    const c = data.subarray(at, at + size);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`, 'latin1'), c, Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
  return Buffer.concat(parts);
}

const head = (lines: string): Buffer => Buffer.from(`${lines}\r\n\r\n`, 'latin1');

function postWith(transferEncoding: string, body: Buffer, extra = ''): Buffer {
  return Buffer.concat([head(`POST /login HTTP/1.1\r\nHost: api.shop\r\nContent-Type: application/json${extra}\r\nTransfer-Encoding: ${transferEncoding}`), body]);
}

const OK_EMPTY = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';

/** Runs the script whole and at every cut (all must agree); the one exchange. */
function captureEveryCut(t: Test, steps: Step[], maxBodyBytes = 64 * 1024): Exchange {
  const r = sameAtEveryCut(t, steps, (cuts) => runSession(steps, cuts, maxBodyBytes));
  t.equal(r.exchanges.length, 1, 'one exchange');
  return r.exchanges[0];
}

/** The exchange through the default masking, as the record path runs it. */
const masked = (ex: Exchange) => maskRecord({ ...ex, redacted: ex.redacted ?? [], sensitive: ex.sensitive ?? [] });

/** No trace of the secret: not in clear, and not in a gzip/deflate stream that would give it back. */
function noSecret(t: Test, body: Uint8Array | undefined, what: string): void {
  const b = Buffer.from(body ?? []);
  t.notOk(b.includes(SECRET), `${what}: the secret is not in the body`);
  for (const inflate of [zlib.gunzipSync, zlib.inflateSync, zlib.inflateRawSync]) {
    try {
      t.notOk(inflate(b).includes(SECRET), `${what}: nor in the body once inflated`);
    } catch {
      // Not such a stream: nothing to give back.
    }
  }
}

void t.test('request Transfer-Encoding: gzip, chunked: stored decoded, then masked', async (t) => {
  const gz = zlib.gzipSync(JSON_BODY);
  const ex = captureEveryCut(t, [{ c: postWith('gzip, chunked', chunked(gz)) }, { s: OK_EMPTY }, { close: 'fin' }]);
  t.equal(text(ex.request), JSON_BODY, 'the body is the JSON the client compressed');
  t.equal(ex.request?.truncated, false);
  t.equal(ex.request?.body_size, gz.length, 'body_size: the bytes the chunks carried');
  t.equal(ex.request?.headers['transfer-encoding'], 'gzip, chunked', 'headers as sent');
  t.equal(ex.notes, undefined, 'no note');
  const r = masked(ex);
  t.equal(text(r.request), MASKED_BODY, 'the password is masked');
  t.same(r.redacted, ['request.body.$.password']);
  noSecret(t, r.request?.body, 'masked record');
});

void t.test('response Transfer-Encoding: gzip, chunked, and the other transfer codings', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['gzip, chunked', zlib.gzipSync(JSON_BODY)],
    ['x-gzip, chunked', zlib.gzipSync(JSON_BODY)],
    ['deflate, chunked', zlib.deflateSync(JSON_BODY)],
    ['deflate, chunked (raw deflate)', zlib.deflateRawSync(JSON_BODY)],
    ['GZip , Chunked', zlib.gzipSync(JSON_BODY)],
    ['deflate, gzip, chunked', zlib.gzipSync(zlib.deflateSync(JSON_BODY))],
    ['identity, gzip, chunked', zlib.gzipSync(JSON_BODY)],
  ];
  for (const [label, coded] of cases) {
    const te = label.replace(' (raw deflate)', '');
    const res = Buffer.concat([head(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: ${te}`), chunked(coded)]);
    const { exchanges } = runSession([{ c: 'GET /me HTTP/1.1\r\nHost: api.shop\r\n\r\n' }, { s: res }, { close: 'fin' }]);
    const ex = exchanges[0];
    t.equal(text(ex.response), JSON_BODY, `${label}: decoded`);
    t.equal(ex.response?.truncated, false, `${label}: whole`);
    t.equal(ex.notes, undefined, `${label}: no note`);
    t.equal(text(masked(ex).response), MASKED_BODY, `${label}: masked`);
  }
  const gz = zlib.gzipSync(JSON_BODY);
  const res = Buffer.concat([head('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked'), chunked(gz, 5)]);
  const ex = captureEveryCut(t, [{ c: 'GET /me HTTP/1.1\r\nHost: api.shop\r\n\r\n' }, { s: res }, { close: 'fin' }]);
  t.equal(text(ex.response), JSON_BODY, 'the same at every cut');
});

void t.test('two layers: Transfer-Encoding: gzip, chunked over Content-Encoding: gzip', async (t) => {
  const twice = zlib.gzipSync(zlib.gzipSync(JSON_BODY));
  const ex = captureEveryCut(t, [{ c: postWith('gzip, chunked', chunked(twice), '\r\nContent-Encoding: gzip') }, { s: OK_EMPTY }, { close: 'fin' }]);
  t.equal(text(ex.request), JSON_BODY, 'both codings removed');
  t.equal(ex.request?.content_encoding, 'gzip', 'content_encoding as sent');
  t.equal(ex.request?.truncated, false);
  t.equal(ex.notes, undefined);
  const r = masked(ex);
  t.equal(text(r.request), MASKED_BODY);
  t.same(r.redacted, ['request.body.$.password']);

  // The transfer coding removed, the content coding not removable: the content-coding path's note, and masking leaves it out.
  const inner = Buffer.from(`not-compress ${JSON_BODY}`);
  const odd = runSession([{ c: postWith('gzip, chunked', chunked(zlib.gzipSync(inner)), '\r\nContent-Encoding: compress') }, { s: OK_EMPTY }, { close: 'fin' }]).exchanges[0];
  t.equal(text(odd.request), inner.toString('latin1'), 'the transfer coding is removed; the content coding stays as for any body');
  t.match(odd.notes, [/^request\.body: unsupported content-encoding compress$/]);
  const r2 = masked(odd);
  t.equal(r2.request?.body.length, 0, 'masking leaves the content-encoded body out');
  t.ok(r2.redacted.includes('request.body'));
});

void t.test('response Transfer-Encoding: gzip without chunked (read to the close): decoded at the close', async (t) => {
  const gz = zlib.gzipSync(JSON_BODY);
  const res = Buffer.concat([head('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip'), gz]);
  const ex = captureEveryCut(t, [{ c: 'GET /me HTTP/1.1\r\nHost: api.shop\r\n\r\n' }, { s: res }, { send: true }, { close: 'fin' }]);
  t.equal(ex.error, undefined);
  t.equal(text(ex.response), JSON_BODY);
  t.equal(ex.response?.body_size, gz.length);
  t.equal(ex.notes, undefined);
  t.equal(text(masked(ex).response), MASKED_BODY);
  // Cut by a reset before the stream ended: the stream does not decode (as a content coding's would not), so it is left out.
  const cut = runSession([{ c: 'GET /me HTTP/1.1\r\n\r\n' }, { s: res.subarray(0, res.length - 8) }, { close: 'reset' }]).exchanges[0];
  t.equal(cut.error, 'reset');
  t.equal(cut.response?.body.length, 0, 'left out');
  t.equal(cut.response?.truncated, true);
  t.match(cut.notes, [/^response\.body: left out: transfer-encoding gzip could not be removed \(gzip decode failed: /]);
  t.same(cut.redacted, ['response.body']);
});

void t.test('a transfer coding that cannot be removed: the body is left out with a note, never raw', async (t) => {
  const secretBody = Buffer.from(JSON_BODY);
  const cases: Array<[string, Step[], 'request' | 'response', RegExp]> = [
    ['unknown coding (compress)', [{ c: postWith('compress, chunked', chunked(secretBody)) }, { s: OK_EMPTY }, { close: 'fin' }], 'request', /transfer-encoding compress.*unsupported transfer coding compress/],
    ['not gzip at all', [{ c: postWith('gzip, chunked', chunked(secretBody)) }, { s: OK_EMPTY }, { close: 'fin' }], 'request', /transfer-encoding gzip.*decode failed/],
    [
      'corrupt gzip',
      [{ c: postWith('gzip, chunked', chunked(Buffer.concat([zlib.gzipSync(JSON_BODY).subarray(0, 14), secretBody]))) }, { s: OK_EMPTY }, { close: 'fin' }],
      'request',
      /transfer-encoding gzip.*decode failed/,
    ],
    [
      'chunked applied twice',
      [{ c: postWith('chunked, chunked', chunked(chunked(secretBody))) }, { s: OK_EMPTY }, { close: 'fin' }],
      'request',
      /transfer-encoding chunked, chunked.*unsupported transfer coding chunked/,
    ],
    [
      'response chunked then gzip (read to the close)',
      [{ c: 'GET / HTTP/1.1\r\n\r\n' }, { s: Buffer.concat([head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip'), zlib.gzipSync(chunked(secretBody))]) }, { close: 'fin' }],
      'response',
      /transfer-encoding chunked, gzip.*unsupported transfer coding chunked/,
    ],
    [
      'response with an unknown coding under a content coding',
      [{ c: 'GET / HTTP/1.1\r\n\r\n' }, { s: Buffer.concat([head('HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: x-secret, chunked'), chunked(zlib.gzipSync(JSON_BODY))]) }, { close: 'fin' }],
      'response',
      /transfer-encoding x-secret, chunked.*unsupported transfer coding x-secret/,
    ],
  ];
  for (const [label, steps, side, why] of cases) {
    const ex = captureEveryCut(t, steps);
    const msg = ex[side];
    t.equal(msg?.body.length, 0, `${label}: body left out`);
    t.equal(msg?.truncated, true, `${label}: flagged as cut`);
    t.ok((msg?.body_size ?? 0) > 0, `${label}: true size kept`);
    const note = ex.notes?.find((n) => n.startsWith(`${side}.body: left out: `));
    t.match(note, why, `${label}: a note says why`);
    t.match(note, /could not be scanned for secrets/);
    t.ok(ex.redacted?.includes(`${side}.body`), `${label}: listed in redacted`);
    for (const policy of [undefined, resolveMaskPolicy({ unscannedBodies: 'raw' })]) {
      const r = maskRecord({ ...ex, redacted: ex.redacted ?? [], sensitive: ex.sensitive ?? [] }, policy);
      noSecret(t, r[side]?.body, `${label}${policy === undefined ? '' : ' (unscannedBodies: raw)'}`);
      t.ok(r.redacted.includes(`${side}.body`), `${label}: still listed after masking`);
    }
  }
});

void t.test('an empty body with a transfer coding: nothing to decode, no note', async (t) => {
  const ex = captureEveryCut(t, [{ c: postWith('compress, chunked', Buffer.from('0\r\n\r\n')) }, { s: OK_EMPTY }, { close: 'fin' }]);
  t.equal(ex.request?.body.length, 0);
  t.equal(ex.request?.truncated, false);
  t.equal(ex.notes, undefined);
  t.equal(ex.redacted, undefined);
});

void t.test('a transfer-coded body over the limit: the decoded prefix, truncated, zip bomb bounded', async (t) => {
  const bomb = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x61));
  const res = Buffer.concat([head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked'), chunked(bomb, 4096)]);
  const ex = runSession([{ c: 'GET / HTTP/1.1\r\n\r\n' }, { s: res }, { close: 'fin' }], new Map(), 1024).exchanges[0];
  t.equal(text(ex.response), 'a'.repeat(1024));
  t.equal(ex.response?.truncated, true);
  t.equal(ex.response?.body_size, bomb.length);
  t.equal(ex.notes, undefined);
  // Captured only in part (the body limit cut the compressed stream): what its first part gives.
  const json = Buffer.from(`{"password":"${SECRET}","pad":"${'x'.repeat(4000)}"}`);
  const gz = zlib.gzipSync(json, { level: 0 });
  const partial = runSession([{ c: postWith('gzip, chunked', chunked(gz, 100)) }, { s: OK_EMPTY }, { close: 'fin' }], new Map(), 1024).exchanges[0];
  t.equal(partial.request?.truncated, true);
  t.ok(text(partial.request).startsWith('{"password":"'), 'the decoded prefix');
  t.notOk(Buffer.from(partial.request?.body ?? []).includes(Buffer.from([0x1f, 0x8b])), 'no gzip bytes');
  t.match(text(masked(partial).request), /^\{"password":"\*\*\*\*"/, 'masked like any body cut short');
});

void t.test('through the capture engine with the sidecar masking: the record shipped holds no password', async (t) => {
  const request = postWith('gzip, chunked', chunked(zlib.gzipSync(JSON_BODY)));
  const response = Buffer.concat([head('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip'), zlib.gzipSync(`{"token":"${SECRET}"}`)]);
  const shipped = throughEngine(request, response, 11);
  t.equal(shipped.length, 1, 'one record');
  const record = decodeCallRecordMessage(shipped[0]);
  t.equal(Buffer.from(record.request?.body ?? []).toString(), MASKED_BODY);
  t.equal(Buffer.from(record.response?.body ?? []).toString(), '{"token":"****"}');
  t.same([...record.redacted].sort(), ['request.body.$.password', 'response.body.$.token']);
  noSecret(t, record.request?.body, 'shipped request');
  noSecret(t, record.response?.body, 'shipped response');
  t.notOk(Buffer.from(shipped[0]).includes(SECRET), 'nowhere in the shipped bytes');
});

void t.test('decodeTransferCodings: the codings in reverse, identity skipped, what it cannot remove named', async (t) => {
  const opts = { maxOutputBytes: 1 << 20, inputComplete: true };
  const both = decodeTransferCodings(zlib.gzipSync(zlib.deflateSync('abc')), ['identity', 'deflate', 'gzip'], opts);
  t.same([Buffer.from(both.body).toString(), both.decoded, both.truncated, both.error], ['abc', true, false, undefined]);
  for (const coding of ['chunked', 'compress', 'constructor', '__proto__', 'toString']) {
    const r = decodeTransferCodings(Buffer.from('abc'), [coding], opts);
    t.same([r.decoded, r.error], [false, `unsupported transfer coding ${coding}`], `${coding}: not removable`);
    t.notOk(isDecodable(coding), `${coding}: no content coding either`);
  }
  t.match(decodeTransferCodings(Buffer.from('abc'), ['gzip'], opts), { decoded: false, error: /^gzip decode failed: / });
  t.match(decodeTransferCodings(Buffer.alloc(0), ['compress'], opts), { decoded: false, error: undefined }, 'nothing to decode');
});
