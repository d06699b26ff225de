import fc from 'fast-check';
import t from 'tap';
import { buildLokiLine, DEFAULT_MAX_LINE_BYTES } from '../../../collector/loki/line.ts';
import { recordToJson } from '../../../record/record-json.ts';
import { inboundPayment502, outboundGrpcCatalog, withBodies } from './records.ts';

const bytes = (s: string) => Buffer.byteLength(s);
const enc = new TextEncoder();

void t.test('the line is the collector\'s record JSON: ns times as strings, bodies as text or base64', async (t) => {
  const doc = JSON.parse(buildLokiLine(inboundPayment502()).line);
  t.equal(doc.start, '1767225600123456789');
  t.equal(doc.end, '1767225600164656789');
  t.same(doc.response.body, { text: '{"error":"upstream bank timeout"}' });
  t.same(Object.keys(doc).slice(0, 6), ['id', 'protocol', 'observer', 'connection_id', 'ordinal', 'start']);
  t.notOk('grpc_status' in doc);
  const grpc = JSON.parse(buildLokiLine(outboundGrpcCatalog()).line);
  t.same(grpc.response.body, { base64: 'AAAAAAL//g==' });
  t.same(grpc.response.trailers, { 'grpc-status': '0' });
});

void t.test('a line under the limit is the whole record', async (t) => {
  const r = buildLokiLine(inboundPayment502());
  t.equal(r.truncated, false);
  t.equal(r.bytes, bytes(r.line));
  t.equal(r.line, JSON.stringify(recordToJson(inboundPayment502())), 'exactly the API form');
  t.notMatch(r.line, /truncated_for_loki/);
});

void t.test('large bodies are cut first, keeping valid JSON under the limit', async (t) => {
  const big = 'x'.repeat(300_000);
  const record = withBodies(enc.encode(`{"blob":"${big}"}`), enc.encode('{"ok":false}'));
  const r = buildLokiLine(record);
  t.equal(r.truncated, true);
  t.ok(r.bytes <= DEFAULT_MAX_LINE_BYTES, `${r.bytes} <= limit`);
  t.ok(r.bytes > DEFAULT_MAX_LINE_BYTES - 64, 'the budget is used, not wasted');
  const doc = JSON.parse(r.line);
  t.equal(doc.truncated_for_loki, true);
  t.same(doc.response.body, { text: '{"ok":false}' }, 'the small body is whole');
  t.ok(doc.request.body.text.startsWith('{"blob":"xxx'), 'the big body keeps its start');
  t.equal(doc.request.body_size, 300_000 + 11, 'the true size stays');
  t.same(doc.request.headers, record.request!.headers, 'headers stay when bodies suffice');
});

void t.test('both bodies large: shared, multibyte text cut on a character boundary', async (t) => {
  const snowmen = '\u2603'.repeat(120_000); // 3 bytes each
  const quotes = '"\\'.repeat(100_000); // escaped to 4 bytes per pair
  const r = buildLokiLine(withBodies(enc.encode(snowmen), enc.encode(quotes)), 100_000);
  t.ok(r.bytes <= 100_000);
  const doc = JSON.parse(r.line);
  t.match(doc.request.body.text, /^\u2603+$/);
  t.match(doc.response.body.text, /^("\\)*"?$/);
  const reqBytes = bytes(JSON.stringify(doc.request.body.text));
  const resBytes = bytes(JSON.stringify(doc.response.body.text));
  t.ok(Math.abs(reqBytes - resBytes) < 16, `fair share: ${reqBytes} vs ${resBytes}`);
});

void t.test('binary bodies are cut to whole base64 groups', async (t) => {
  const bin = new Uint8Array(250_000).map((_, i) => (i * 7) & 0xff);
  bin[0] = 0xff; // never valid UTF-8
  const r = buildLokiLine(withBodies(bin, new Uint8Array([0, 1])), 50_000);
  t.ok(r.bytes <= 50_000);
  const doc = JSON.parse(r.line);
  t.equal(doc.request.body.base64.length % 4, 0);
  const decoded = Buffer.from(doc.request.body.base64, 'base64');
  t.same(decoded, Buffer.from(bin.subarray(0, decoded.length)), 'a prefix of the bytes');
});

void t.test('cutting never changes the record or its shared JSON form', async (t) => {
  const record = withBodies(enc.encode('b'.repeat(300_000)), enc.encode('{}'), { 'x-huge': 'h'.repeat(300_000) });
  record.src.labels = { app: 'frontend' };
  const before = JSON.stringify(recordToJson(record));
  t.ok(buildLokiLine(record).truncated);
  t.equal(JSON.stringify(recordToJson(record)), before);
});

void t.test('huge headers: headers go, then only the skeleton', async (t) => {
  const r = buildLokiLine(withBodies(enc.encode('{}'), enc.encode('{}'), { 'x-huge': 'h'.repeat(300_000) }));
  t.ok(r.bytes <= DEFAULT_MAX_LINE_BYTES);
  const doc = JSON.parse(r.line);
  t.same(doc.request.headers, {});
  t.same(doc.request.body, { text: '{}' });
  t.equal(doc.truncated_for_loki, true);

  const hugePath = inboundPayment502();
  hugePath.path = '/p/' + 'q'.repeat(300_000);
  const s = buildLokiLine(hugePath);
  const sk = JSON.parse(s.line);
  t.ok(s.bytes <= DEFAULT_MAX_LINE_BYTES);
  t.equal(sk.id, hugePath.id);
  t.equal(sk.path.length, 1024);
  t.equal(sk.status_code, 502);
  t.same(sk.sensitive, ['jwt']);
  t.notOk('request' in sk);
});

void t.test('property: any record, any limit → valid JSON within the limit', async (t) => {
  const arbBody = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 3000, size: 'max' }).map((s) => enc.encode(s)),
    // Characters whose JSON escapes differ in length from their UTF-8 bytes.
    fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0001', '\u007f', '\u00e9', '\u2603', '\u{1f600}'), maxLength: 3000, size: 'max' }).map((s) => enc.encode(s)),
    fc.uint8Array({ maxLength: 3000, size: 'max' }),
  );
  fc.assert(
    fc.property(arbBody, arbBody, fc.string({ maxLength: 2000, size: 'max' }), fc.integer({ min: 4096, max: 9000 }), (req, res, hv, limit) => {
      const r = buildLokiLine(withBodies(req, res, { 'x-v': hv }), limit);
      const doc = JSON.parse(r.line);
      const valid = r.bytes === bytes(r.line) && r.bytes <= limit && doc.id !== undefined && (r.truncated ? doc.truncated_for_loki === true : true);
      // When bodies were cut, what is left of the budget is less than one escaped character per body.
      const bodiesCut = r.truncated && doc.request !== undefined;
      return valid && (!bodiesCut || r.bytes >= limit - 12);
    }),
    { numRuns: 300 },
  );
  t.pass('held for every generated case');
});
