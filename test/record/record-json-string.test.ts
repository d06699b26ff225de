/**
 * `recordJsonString` must write exactly `JSON.stringify(recordToJson(r))`: the stored `record`
 * column and the Loki line are that text, and the API serves what is parsed back from it.
 */
import t from 'tap';
import fc from 'fast-check';
import { recordJsonString, recordToJson } from '../../record/record-json.ts';
import type { CallRecord } from '../../record/record.ts';
import { fullRecord, minimalRecord, sizedRecord } from '../proto/record-fixtures.ts';

const reference = (r: CallRecord): string => JSON.stringify(recordToJson(r));

function differs(r: CallRecord): string | undefined {
  const mine = recordJsonString(r);
  const theirs = reference(r);
  if (mine === theirs) return undefined;
  let i = 0;
  while (mine[i] === theirs[i]) i++;
  return `first difference at ${i}: ${JSON.stringify(mine.slice(i - 20, i + 40))} instead of ${JSON.stringify(theirs.slice(i - 20, i + 40))}`;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

void t.test('fixed records: the same text as JSON.stringify(recordToJson(r))', async (t) => {
  const base = minimalRecord(1);
  // Collector-set fields are appended after the record's own keys, in the order ingest sets them.
  const marked = Object.assign(fullRecord(2), { attempt: 2, first_attempt_id: 'rec-1', retry_after_honoured: true });
  const cases: [string, CallRecord][] = [
    ['every field', fullRecord(1)],
    ['only what is required', base],
    ['collector-set fields after the others', marked],
    ['a 10 KiB body', sizedRecord(3, 10 * 1024)],
    ['escapes in strings and bodies', { ...base, path: '/"q"\\n\n\t\r\b\f\u0000\u001f\u007f\u2028\u2029', request: { headers: { 'x-"q"': 'a\\b', '': '\u0001' }, body: utf8('{"a":"\\"x\\"\n"}'), body_size: 9, truncated: false } }],
    ['unicode', { ...base, path: '/é/€/😀/中', error_detail: 'déjà vu', response: { headers: {}, body: utf8('😀 ünïcödé 中文'), body_size: 3, truncated: true } }],
    ['lone surrogates', { ...base, path: 'a\uD800b', authority: '\uDC00', error_detail: '😀\uD83D' }],
    ['a byte-order mark and a NUL in a body', { ...base, request: { headers: {}, body: new Uint8Array([0xef, 0xbb, 0xbf, 0x00, 0x41]), body_size: 5, truncated: false } }],
    ['invalid UTF-8 bodies are base64', { ...base, request: { headers: {}, body: new Uint8Array([0xff, 0xfe, 0x80]), body_size: 3, truncated: false }, response: { headers: {}, body: new Uint8Array([0xc3]), body_size: 1, truncated: false } }],
    ['an empty body', { ...base, request: { headers: {}, body: new Uint8Array(0), body_size: 0, truncated: false } }],
    ['body first in the message object', { ...base, request: { body: utf8('x'), headers: { a: 'b' }, truncated: false, body_size: 1, trailers: {}, content_type: 'text/plain' } }],
    ['undefined optionals', { ...base, method: undefined, request: { headers: {}, body: utf8('x'), body_size: 1, truncated: false, content_type: undefined }, src: { ip: 'x', port: 1, pod: undefined } }],
    ['numbers JSON cannot hold, negative zero, fractions', { ...base, elapsed_us: Number.NaN, bytes_in: Infinity, bytes_out: -Infinity, ordinal: -0, link_confidence: 1 / 3, queue_us: 1e21, status_code: 5e-7 }],
    ['huge and negative times', { ...base, start: -(2n ** 63n), end: 2n ** 63n - 1n, request_end: -1n, response_start: 0n }],
    ['integer-like keys in maps', { ...base, src: { ip: 'x', port: 1, labels: { b: '1', 10: 'ten', 2: 'two' } }, request: { headers: { 1: 'one', a: 'b' }, body: utf8(''), body_size: 0, truncated: false } }],
    ['null where a value was expected', { ...base, method: null as unknown as string }],
  ];
  for (const [name, r] of cases) t.equal(differs(r), undefined, name);
});

void t.test('random records: the same text as JSON.stringify(recordToJson(r))', async (t) => {
  const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), lone, fc.constantFrom('"', '\\', '\n', '\u0000', '\u2028')), maxLength: 60 }));
  const number = fc.oneof(fc.integer(), fc.double(), fc.maxSafeNat(), fc.constantFrom(-0, 1e21, Number.MAX_VALUE));
  const map = fc.dictionary(text, text, { maxKeys: 5 });
  const body = fc.oneof(fc.uint8Array({ maxLength: 200 }), text.map(utf8));
  const message = fc.record(
    { headers: map, trailers: map, body, body_size: number, truncated: fc.boolean(), content_type: text, content_encoding: text },
    { requiredKeys: ['headers', 'body', 'body_size', 'truncated'] },
  );
  const endpoint = fc.record({ ip: text, port: number, pod: text, namespace: text, workload: text, labels: map }, { requiredKeys: ['ip', 'port'] });
  const record = fc
    .record({
      base: fc.constantFrom(minimalRecord(1), fullRecord(2)),
      time: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      id: text,
      path: fc.option(text, { nil: undefined }),
      src: endpoint,
      request: fc.option(message, { nil: undefined }),
      response: fc.option(message, { nil: undefined }),
      elapsed_us: number,
      notes: fc.option(fc.array(text, { maxLength: 3 }), { nil: undefined }),
      attempt: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ base, time, attempt, ...rest }) => {
      const r = { ...base, ...rest, start: time } as CallRecord & { attempt?: number };
      if (attempt !== undefined) r.attempt = attempt;
      return r;
    });
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(record, (r) => {
        const d = differs(r);
        if (d !== undefined) throw new Error(d);
      }),
      { numRuns: 2000 },
    ),
  );
});
