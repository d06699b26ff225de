import t from 'tap';
import zlib from 'node:zlib';
import { contentCodings, decodeBody, isDecodable, isDecodeError, looksEncoded } from '../../../sidecar/capture/decode-body.ts';

const text = 'hello world '.repeat(100);
const opts = { maxOutputBytes: 4096, inputComplete: true };

void t.test('each supported coding decodes', async (t) => {
  for (const [enc, data] of [
    ['gzip', zlib.gzipSync(text)],
    ['x-gzip', zlib.gzipSync(text)],
    ['deflate', zlib.deflateSync(text)],
    ['deflate', zlib.deflateRawSync(text)],
    ['br', zlib.brotliCompressSync(text)],
    ['GZIP', zlib.gzipSync(text)],
  ] as const) {
    const r = decodeBody(data, enc, opts);
    t.equal(Buffer.from(r.body).toString(), text, enc);
    t.same([r.decoded, r.truncated, r.error], [true, false, undefined]);
  }
});

void t.test('stacked codings are removed in reverse order', async (t) => {
  const data = zlib.brotliCompressSync(zlib.gzipSync(text));
  t.equal(Buffer.from(decodeBody(data, 'gzip, br', opts).body).toString(), text);
});

void t.test('identity, absent and unknown codings', async (t) => {
  const raw = Buffer.from('abc');
  t.same(decodeBody(raw, undefined, opts), { body: raw, truncated: false, decoded: false });
  t.same(decodeBody(raw, 'identity', opts), { body: raw, truncated: false, decoded: false });
  t.match(decodeBody(raw, 'compress', opts), { body: raw, decoded: false, error: /unsupported/ });
});

void t.test('corrupt input keeps the raw bytes and says why', async (t) => {
  const raw = Buffer.from('definitely not gzip');
  t.match(decodeBody(raw, 'gzip', opts), { body: raw, decoded: false, error: /gzip decode failed/ });
});

void t.test('a captured prefix decodes to a prefix, marked truncated', async (t) => {
  const big = Buffer.from(Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join(''));
  const gz = zlib.gzipSync(big);
  const r = decodeBody(gz.subarray(0, Math.floor(gz.length / 2)), 'gzip', { maxOutputBytes: 1 << 20, inputComplete: false });
  t.ok(r.body.length > 0);
  t.ok(big.subarray(0, r.body.length).equals(Buffer.from(r.body)), 'is a prefix');
  t.equal(r.truncated, true);
});

void t.test('output is capped (zip bomb)', async (t) => {
  const gz = decodeBody(zlib.gzipSync(Buffer.alloc(16 << 20)), 'gzip', { maxOutputBytes: 1000, inputComplete: true });
  t.same([gz.body.length, gz.truncated], [1000, true], 'gzip: exactly the cap');
  // Brotli expands one input byte into megabytes: decoded in one pass that stops at the cap, the
  // preview is still exactly the cap (bisecting the input found no prefix that fit, and gave none).
  const brBomb = zlib.brotliCompressSync(Buffer.alloc(16 << 20), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
  const br = decodeBody(brBomb, 'br', { maxOutputBytes: 1000, inputComplete: true });
  t.same([br.body.length, br.truncated, br.error], [1000, true, undefined], 'br: exactly the cap');
  t.ok(Buffer.from(br.body).equals(Buffer.alloc(1000)), 'the content\'s first bytes');
  const run = zlib.brotliCompressSync(Buffer.alloc(60_000_000, 0x61));
  t.ok(run.length < 200, `a long run compresses to a few bytes (${run.length})`);
  const bomb = decodeBody(run, 'br', { maxOutputBytes: 65536, inputComplete: true });
  t.same([bomb.body.length, bomb.truncated], [65536, true]);
  t.ok(Buffer.from(bomb.body).equals(Buffer.alloc(65536, 0x61)));
  const deflated = decodeBody(zlib.deflateRawSync(Buffer.alloc(8 << 20, 0x62)), 'deflate', { maxOutputBytes: 4096, inputComplete: true });
  t.same([deflated.body.length, deflated.truncated], [4096, true], 'raw deflate: exactly the cap');
  const members = decodeBody(Buffer.concat([zlib.gzipSync('hello '), zlib.gzipSync('world')]), 'gzip', { maxOutputBytes: 1000, inputComplete: true });
  t.same([Buffer.from(members.body).toString(), members.truncated], ['hello world', false], 'gzip members one after another: all of them');
  const fits = decodeBody(zlib.gzipSync('short'), 'gzip', { maxOutputBytes: 5, inputComplete: true });
  t.same([Buffer.from(fits.body).toString(), fits.truncated], ['short', false], 'exactly the cap is not truncated');
  const lines = Buffer.from(Array.from({ length: 5000 }, (_, i) => `row ${i}\n`).join(''));
  const brText = decodeBody(zlib.brotliCompressSync(lines), 'br', { maxOutputBytes: 1000, inputComplete: true });
  t.same([brText.body.length, brText.truncated], [1000, true], 'br of ordinary text: exactly the cap');
  t.ok(lines.subarray(0, 1000).equals(Buffer.from(brText.body)));
});

void t.test('what the masker asks: codings, decodability, decode errors, still-encoded bytes', async (t) => {
  t.same(contentCodings(' GZIP , identity,br,'), ['gzip', 'br']);
  t.same(contentCodings(undefined), []);
  t.ok(isDecodable('gzip, br') && isDecodable('identity') && isDecodable(undefined));
  t.notOk(isDecodable('gzip, compress'));
  const opts = { maxOutputBytes: 1 << 20, inputComplete: true };
  for (const [raw, enc] of [[Buffer.from('x'), 'compress'], [Buffer.from('not gzip at all'), 'gzip']] as const) {
    const r = decodeBody(raw, enc, opts);
    t.ok(r.error !== undefined && isDecodeError(r.error), `${enc}: "${r.error}" is recognised`);
  }
  t.notOk(isDecodeError('100-continue'));
  const gz = zlib.gzipSync('{"a":1}');
  t.ok(looksEncoded(gz, 'gzip'));
  t.notOk(looksEncoded(gz, 'br'), 'only the declared codings count');
  t.notOk(looksEncoded(decodeBody(gz, 'gzip', opts).body, 'gzip'), 'a decoded body does not');
  t.ok(looksEncoded(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]), 'zstd'));
});
