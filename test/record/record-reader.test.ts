/**
 * The hand-written batch reader must give exactly what proto-loader's deserializer gives (and
 * protobufjs's reflection `decode` + `toObject` from the same .proto) for every message, skip
 * what it does not know, and refuse malformed bytes with a `ProtoDecodeError`, never anything
 * else.
 */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import type * as grpc from '@grpc/grpc-js';
import { collectorMessageType, decodeRecord, loadCollectorProto, recordBatchEncoder, recordToProto, type RecordBatchMessage } from '../../record/codec.ts';
import { protoLoaderOptions } from '../../record/proto-loader.ts';
import { decodeRecordBatch, int64ToString, ProtoDecodeError, uint64ToString } from '../../record/record-reader.ts';
import { encodeCallRecord, encodeRecordBatch } from '../../record/record-writer.ts';
import type { CallRecord } from '../../record/record.ts';
import { fullRecord, minimalRecord, sizedRecord } from '../proto/record-fixtures.ts';

const ship = (loadCollectorProto()['meshtap.v1.Collector'] as grpc.ServiceDefinition).Ship as grpc.MethodDefinition<RecordBatchMessage, RecordBatchMessage>;
const batchType = collectorMessageType('meshtap.v1.RecordBatch');
const recordType = collectorMessageType('meshtap.v1.CallRecord');

/** What proto-loader hands over today, and protobufjs reflection with the same options. */
function references(bytes: Buffer): [unknown, unknown] {
  return [ship.requestDeserialize(bytes), batchType.toObject(batchType.decode(bytes), protoLoaderOptions(String))];
}

function sameAsReferences(bytes: Buffer): void {
  const mine = decodeRecordBatch(bytes);
  const [loader, reflection] = references(bytes);
  assert.deepStrictEqual(mine, loader);
  assert.deepStrictEqual(mine, reflection);
}

const sidecar = { pod: 'frontend-7d9f', namespace: 'shop', pod_ip: '10.244.0.5', node: 'node-a', service_account: 'frontend', sidecar_version: '0.1.0' };
const T0 = 1_764_000_000_123_456_789n;

function corpus(): [string, CallRecord][] {
  const base = minimalRecord(1);
  return [
    ['every field set', fullRecord(7)],
    ['only what is required', minimalRecord()],
    ['1 KiB body', sizedRecord(3, 1024)],
    ['a 300 KiB body', sizedRecord(4, 300 * 1024)],
    ['typical time', { ...base, start: T0, end: T0 + 1n }],
    ['times at the int64 limits', { ...base, start: -(2n ** 63n), end: 2n ** 63n - 1n, request_end: -1n, response_start: 2n ** 53n + 1n }],
    ['times around 2^53 and 2^32', { ...base, start: 2n ** 53n, end: -(2n ** 53n) - 1n, request_end: 2n ** 32n, response_start: -(2n ** 32n) }],
    ['uint64 numbers past 2^32 and at 2^53 - 1', { ...base, elapsed_us: Number.MAX_SAFE_INTEGER, bytes_in: 2 ** 40 + 3, bytes_out: 2 ** 32, queue_us: 0 }],
    ['negative grpc status, uint32 limits', { ...base, grpc_status: -(2 ** 31), status_code: 2 ** 32 - 1, ordinal: 2 ** 32 - 1 }],
    ['empty optionals present', { ...base, method: '', path: '', status_code: 0, grpc_status: 0, trace_id: '', request_end: 0n, src: { ip: 'x', port: 0, pod: '', labels: {} }, tls: { mesh: false, app_tls: { alpn: [], sni: '' } } }],
    ['empty body, empty trailers', { ...base, request: { headers: {}, trailers: {}, body: new Uint8Array(0), body_size: 0, truncated: false } }],
    ['binary body, truncated', { ...base, response: { headers: { a: 'b' }, body: new Uint8Array([0, 0xff, 0x80]), body_size: 1e12, truncated: true } }],
    ['unicode and invalid UTF-8 in strings', { ...base, path: '/é/€/😀/中', authority: 'a\uD800b', error_detail: '\uDC00'.repeat(50) }],
    ['labels with integer-like keys', { ...base, src: { ip: 'x', port: 1, labels: { b: '1', 10: 'ten', a: '', 2: 'two', '': 'empty key' } } }],
    ['connection facts', { ...base, connection: { connect_us: 2 ** 33, exchanges: 300, reset_by: 'client' } }],
    ['empty connection facts and app TLS', { ...base, connection: {}, tls: { mesh: true, app_tls: {} } }],
    ['link confidence', { ...base, link_confidence: 1 / 3 }],
    ['notes, redacted, sensitive', { ...base, notes: ['', 'x'], redacted: ['', 'a'], sensitive: ['jwt'] }],
  ];
}

void t.test('every record shape reads as proto-loader and protobufjs read it', async (t) => {
  for (const [name, record] of corpus()) {
    t.doesNotThrow(() => sameAsReferences(recordBatchEncoder()({ seq: 5, sidecar, records: [recordToProto(record)] })), name);
    // The sidecar's own encoder writes the same bytes; read through its batch framing too.
    t.doesNotThrow(() => sameAsReferences(encodeRecordBatch(5, null, [encodeCallRecord(record)])), `${name}, hand-written batch`);
  }
  const all = corpus().map(([, r]) => recordToProto(r));
  t.doesNotThrow(() => sameAsReferences(recordBatchEncoder()({ seq: '18446744073709551615', sidecar: null, records: all })), 'all in one batch, the largest seq');
  t.doesNotThrow(() => sameAsReferences(Buffer.alloc(0)), 'an empty message');
  t.doesNotThrow(() => sameAsReferences(recordBatchEncoder()({ seq: 0, sidecar: { ...sidecar, pod: '' }, records: [] })), 'seq 0, no records');
});

void t.test('valid records decode to the same CallRecord either way', async (t) => {
  const bytes = recordBatchEncoder()({ seq: 1, sidecar, records: corpus().map(([, r]) => recordToProto(r)) });
  const mine = decodeRecordBatch(bytes).records.map(decodeRecord);
  const theirs = ship.requestDeserialize(bytes).records.map(decodeRecord);
  t.same(mine.map((r) => r.ok), theirs.map((r) => r.ok));
  t.doesNotThrow(() => assert.deepStrictEqual(mine, theirs));
  // A Buffer over the batch's memory, not a copy.
  const first = decodeRecordBatch(bytes).records[0];
  t.equal(first.request!.body.buffer, bytes.buffer, 'bodies are views of the received bytes');
});

// ---- unknown fields

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (number: number, wire: number): number[] => varint(number * 8 + wire);
/** One unknown field of each wire type, a group holding a nested group among them. */
const UNKNOWN = Buffer.from([
  ...field(99, 0), ...varint(2 ** 35),
  ...field(100, 1), 1, 2, 3, 4, 5, 6, 7, 8,
  ...field(101, 2), 3, 0x61, 0x62, 0x63,
  ...field(102, 5), 1, 2, 3, 4,
  ...field(103, 3), ...field(1, 0), 7, ...field(104, 3), ...field(2, 2), 0, ...field(104, 4), ...field(103, 4),
  ...field(2000, 0), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
]);

void t.test('unknown fields are skipped wherever they are, as protobufjs skips them', async (t) => {
  const record = fullRecord(3);
  const plain = encodeCallRecord(record);
  const withUnknown = Buffer.concat([UNKNOWN, plain, UNKNOWN]);
  const batch = Buffer.concat([UNKNOWN, encodeRecordBatch(9, null, [withUnknown]), UNKNOWN]);
  t.doesNotThrow(() => sameAsReferences(batch));
  t.same(decodeRecordBatch(batch), decodeRecordBatch(encodeRecordBatch(9, null, [plain])));
});

void t.test('a known field with another wire type is skipped as unknown', async (t) => {
  const plain = encodeCallRecord(minimalRecord(4));
  // Field 1 (id, a string) as a varint, and field 5 (ordinal, a varint) as a length-delimited value.
  const odd = Buffer.concat([plain, Buffer.from([...field(1, 0), 5, ...field(5, 2), 1, 0x41])]);
  const [decoded] = decodeRecordBatch(encodeRecordBatch(1, null, [odd])).records;
  t.equal(decoded.id, 'min-4');
  t.equal(decoded.ordinal, 0);
});

// ---- malformed bytes

function readsOrRefuses(bytes: Buffer): 'read' | 'refused' {
  try {
    decodeRecordBatch(bytes);
    return 'read';
  } catch (err) {
    if (!(err instanceof ProtoDecodeError)) throw err;
    return 'refused';
  }
}

void t.test('truncated and damaged batches are refused with a ProtoDecodeError', async (t) => {
  const bytes = recordBatchEncoder()({ seq: 7, sidecar, records: [recordToProto(fullRecord(1)), recordToProto(sizedRecord(2, 500))] });
  t.equal(readsOrRefuses(bytes), 'read');
  // Every cut inside the records field is refused (a cut after a whole field could be valid; inside one it is not).
  let refused = 0;
  for (let n = 1; n < bytes.length; n++) if (readsOrRefuses(bytes.subarray(0, n)) === 'refused') refused++;
  t.ok(refused > bytes.length * 0.9, `${refused} of ${bytes.length - 1} cuts refused`);
  for (const [name, raw] of [
    ['four 0xff', [0xff, 0xff, 0xff, 0xff]],
    ['seq then a record cut short', [0x08, 0x02, 0x1a, 0x05, 0xff]],
    ['an eleven-byte varint', [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ['field number 0', [0x00, 0x01]],
    ['wire type 6', [0x0e]],
    ['wire type 7', [0x0f]],
    ['an end-group outside a group', [0x0c]],
    ['a group never ended', [0x0b, 0x08, 0x01]],
    ['a record length past the end', [0x1a, 0x7f, 0x0a, 0x01, 0x61]],
    ['a string past its record', [0x1a, 0x03, 0x0a, 0x05, 0x61, 0x62, 0x63]],
    ['a fixed64 time cut short', [0x1a, 0x04, 0x31, 0x01, 0x02, 0x03]],
  ] as const) {
    t.equal(readsOrRefuses(Buffer.from(raw)), 'refused', name);
  }
});

void t.test('random bytes and random damage never throw anything but ProtoDecodeError', async (t) => {
  const valid = recordBatchEncoder()({ seq: 3, sidecar, records: [recordToProto(fullRecord(2)), recordToProto(minimalRecord(3))] });
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        readsOrRefuses(Buffer.from(raw));
      }),
      { numRuns: 3000 },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const damaged = Buffer.from(valid);
        for (const [at, value] of edits) damaged[at] = value;
        // What the reader reads from damaged bytes, protobufjs reads the same whenever it reads them at all
        // without a wire-type mix-up; here only the contract matters: a value or a ProtoDecodeError.
        readsOrRefuses(damaged);
      }),
      { numRuns: 3000 },
    ),
  );
});

// ---- random messages

const text = fc.oneof({ weight: 5, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 40, maxLength: 300 }) });
const uint64 = fc.oneof(fc.nat({ max: 300 }), fc.maxSafeNat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String));
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
const map = fc.dictionary(text.filter((k) => k !== '__proto__'), text, { maxKeys: 5 });
const endpoint = fc.record(
  { ip: text, port: fc.nat({ max: 0xffffffff }), identity: text, pod: text, namespace: text, workload: text, workload_kind: text, service: text, node: text, labels: fc.record({ entries: map }) },
  { requiredKeys: [] },
);
const httpMessage = fc.record(
  { headers: map, trailers: fc.record({ entries: map }), body: fc.uint8Array({ maxLength: 200 }), body_size: uint64, truncated: fc.boolean(), content_type: text, content_encoding: text },
  { requiredKeys: [] },
);
const message: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    id: text,
    protocol: text,
    observer: fc.constantFrom('outbound', 'inbound', ''),
    connection_id: text,
    ordinal: fc.nat({ max: 0xffffffff }),
    start: int64,
    request_end: int64,
    response_start: int64,
    end: int64,
    elapsed_us: uint64,
    src: endpoint,
    dst: endpoint,
    tls: fc.record({ mesh: fc.boolean(), app_tls: fc.record({ sni: text, alpn: fc.record({ values: fc.array(text, { maxLength: 3 }) }), version: text, cipher: text, handshake_us: uint64, error: text }, { requiredKeys: [] }) }, { requiredKeys: [] }),
    method: text,
    path: text,
    authority: text,
    status_code: fc.nat({ max: 0xffffffff }),
    grpc_status: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    request: httpMessage,
    response: httpMessage,
    bytes_in: uint64,
    bytes_out: uint64,
    error: text,
    error_detail: text,
    close_reason: text,
    trace_id: text,
    span_id: text,
    parent_span_id: text,
    redacted: fc.array(text, { maxLength: 3 }),
    sensitive: fc.array(text, { maxLength: 3 }),
    notes: fc.array(text, { maxLength: 3 }),
    grpc_message: text,
    dns_rcode: text,
    connection: fc.record({ connect_us: uint64, tls_handshake_us: uint64, reset_by: text, half_closed_by: text, exchanges: fc.nat({ max: 0xffffffff }) }, { requiredKeys: [] }),
    queue_us: uint64,
    link_confidence: fc.double(),
    caused_by_trace_id: text,
    caused_by_span_id: text,
  },
  { requiredKeys: [] },
);

void t.test('random messages read as proto-loader and protobufjs read them', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(uint64, fc.option(fc.record({ pod: text, namespace: text, pod_ip: text, node: text, service_account: text, sidecar_version: text }, { requiredKeys: [] })), fc.array(message, { maxLength: 4 }), (seq, info, records) => {
        const bytes = Buffer.from(batchType.encode(batchType.fromObject({ seq, sidecar: info, records })).finish());
        sameAsReferences(bytes);
        // Each record also alone, as protobufjs encodes it.
        for (const r of records) sameAsReferences(encodeRecordBatch(1, null, [recordType.encode(recordType.fromObject(r)).finish()]));
      }),
      { numRuns: 500 },
    ),
  );
});

void t.test('64-bit integers in decimal, exactly', async (t) => {
  const split = (v: bigint): [number, number] => [Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)];
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
        const [lo, hi] = split(v);
        assert.equal(uint64ToString(lo, hi), v.toString());
        assert.equal(int64ToString(lo, hi), BigInt.asIntN(64, v).toString());
      }),
      { numRuns: 5000 },
    ),
  );
  for (const v of [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 10n ** 19n, 10n ** 14n * 9n]) {
    const [lo, hi] = split(v);
    t.equal(uint64ToString(lo, hi), v.toString(), `uint64 ${v}`);
    t.equal(int64ToString(lo, hi), BigInt.asIntN(64, v).toString(), `int64 ${BigInt.asIntN(64, v)}`);
  }
});
