/**
 * The hand-written record writer must write exactly the bytes protobufjs writes for
 * `recordToProto(r)`, for every shape a record can take, and what it writes must decode through
 * the official `.proto` back to the same record. Batches must equal `recordBatchEncoder()`'s.
 */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import type * as grpc from '@grpc/grpc-js';
import {
  collectorMessageType,
  decodeRecord,
  loadCollectorProto,
  recordBatchEncoder,
  recordToProto,
  type RecordBatchMessage,
  type SidecarInfoMessage,
} from '../../record/codec.ts';
import { appendFlowLink, encodeCallRecord, encodeRecordBatch, encodeSidecarInfo } from '../../record/record-writer.ts';
import type { CallRecord, HttpMessage, Protocol, RecordError } from '../../record/record.ts';
import { fullRecord, minimalRecord, sizedRecord } from '../proto/record-fixtures.ts';

const callRecordType = collectorMessageType('meshtap.v1.CallRecord');
const sidecarInfoType = collectorMessageType('meshtap.v1.SidecarInfo');
const ship = loadCollectorProto()['meshtap.v1.Collector'] as grpc.ServiceDefinition;
const method = ship.Ship as grpc.MethodDefinition<RecordBatchMessage, RecordBatchMessage>;

function reference(r: CallRecord): Buffer {
  return Buffer.from(callRecordType.encode(recordToProto(r)).finish());
}

/** Undefined when the bytes are equal, else where they first differ. */
function byteDifference(actual: Uint8Array, expected: Uint8Array): string | undefined {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) return `first difference at byte ${i} of ${expected.length}: ${actual[i]} instead of ${expected[i]}`;
  }
  return actual.length === expected.length ? undefined : `${actual.length} bytes instead of ${expected.length}`;
}

function sameAsProtobufjs(r: CallRecord): string | undefined {
  return byteDifference(encodeCallRecord(r), reference(r));
}

/** Through the collector's decode path: a batch of the writer's bytes, deserialised, decoded. */
function decodeWritten(records: CallRecord[]): CallRecord[] {
  const bytes = encodeRecordBatch(1, null, records.map(encodeCallRecord));
  return method.requestDeserialize(bytes).records.map((m) => {
    const result = decodeRecord(m);
    if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
    return result.record;
  });
}

const T0 = 1_764_000_000_123_456_789n;
const kib = (n: number, fill = 0x61): Uint8Array => new Uint8Array(n * 1024).fill(fill);
const message = (extra: Partial<HttpMessage> = {}): HttpMessage => ({
  headers: { 'content-type': 'text/plain' },
  body: new TextEncoder().encode('hello'),
  body_size: 5,
  truncated: false,
  ...extra,
});

/** Valid records: each must equal protobufjs byte for byte and decode back to itself. */
function validCorpus(): [string, CallRecord][] {
  const base = (): CallRecord => minimalRecord(1);
  const cases: [string, CallRecord][] = [
    ['every field set', fullRecord(7)],
    ['only what is required', minimalRecord()],
    ['a 1 KiB body', sizedRecord(3, 1024)],
    ['all zero and empty', { ...base(), id: 'z', connection_id: '', ordinal: 0, start: 0n, end: 0n, elapsed_us: 0, bytes_in: 0, bytes_out: 0, src: { ip: '0', port: 0 }, dst: { ip: '0', port: 0 } }],
    [
      'empty optionals are kept, not dropped',
      {
        ...base(),
        method: '',
        path: '',
        authority: '',
        status_code: 0,
        grpc_status: 0,
        request_end: 0n,
        response_start: 0n,
        error_detail: '',
        close_reason: '',
        trace_id: '',
        span_id: '',
        parent_span_id: '',
        src: { ip: '10.0.0.1', port: 1, identity: '', pod: '', namespace: '', workload: '', workload_kind: '', service: '', node: '', labels: {} },
        tls: { mesh: false, app_tls: { alpn: [], sni: '', version: '', cipher: '', handshake_us: 0, error: '' } },
        request: { headers: {}, trailers: {}, body: new Uint8Array(0), body_size: 0, truncated: false, content_type: '', content_encoding: '' },
      },
    ],
    ['app TLS without alpn', { ...base(), tls: { mesh: true, app_tls: { sni: 'a.example', version: 'TLSv1.2' } } }],
    ['app TLS with alpn', { ...base(), tls: { mesh: false, app_tls: { alpn: ['h2', '', 'http/1.1'] } } }],
    ['app TLS empty', { ...base(), tls: { mesh: true, app_tls: {} } }],
    ['app TLS handshake past 2^32 and at 2^53 - 1', { ...base(), tls: { mesh: true, app_tls: { handshake_us: 2 ** 32 } }, elapsed_us: Number.MAX_SAFE_INTEGER, bytes_in: 2 ** 40 + 3 }],
    ['labels with integer-like keys (Object.keys puts them first)', { ...base(), src: { ip: '10.0.0.1', port: 1, labels: { b: '1', 10: 'ten', a: '', 2: 'two', '': 'empty key' } } }],
    ['empty body, no trailers', { ...base(), request: message({ body: new Uint8Array(0), body_size: 0 }) }],
    ['empty trailers', { ...base(), response: message({ trailers: {} }) }],
    ['trailers and content fields', { ...base(), response: message({ trailers: { 'grpc-status': '0', 'grpc-message': 'ok' }, content_type: 'application/grpc', content_encoding: 'identity' }) }],
    ['truncated', { ...base(), request: message({ truncated: true, body_size: 1e9 }) }],
    ['request without response', { ...base(), request: message(), error: 'timeout' }],
    ['response without request', { ...base(), response: message() }],
    ['no headers, binary body', { ...base(), response: { headers: {}, body: new Uint8Array([0, 0xff, 0x80, 0x7f]), body_size: 4, truncated: false } }],
    ['negative grpc status (ten-byte varint)', { ...base(), grpc_status: -1 }],
    ['int32 and uint32 limits', { ...base(), grpc_status: -(2 ** 31), status_code: 2 ** 32 - 1, ordinal: 2 ** 32 - 1, src: { ip: 'x', port: 65535 } }],
    ['int32 max', { ...base(), grpc_status: 2 ** 31 - 1 }],
    ['times at the int64 limits', { ...base(), start: -(2n ** 63n), end: 2n ** 63n - 1n, request_end: -1n, response_start: 2n ** 53n + 1n }],
    ['a typical time', { ...base(), start: T0, end: T0 + 1_000_000n }],
    ['notes', { ...base(), notes: ['100-continue', ''] }],
    ['connection facts, empty', { ...base(), connection: {} }],
    ['connection facts, zeros', { ...base(), connection: { connect_us: 0, tls_handshake_us: 0, exchanges: 0 } }],
    ['connection facts, each alone', { ...base(), connection: { reset_by: 'client' } }],
    ['connection exchanges past 2^7 and connect past 2^32', { ...base(), connection: { exchanges: 300, connect_us: 2 ** 33 } }],
    ['a link confidence of one third', { ...base(), link_confidence: 1 / 3 }],
    ['a link confidence of 1 and a queue of 0', { ...base(), link_confidence: 1, queue_us: 0 }],
    ['redacted and sensitive with empty strings', { ...base(), redacted: ['', 'request.body'], sensitive: ['jwt', ''] }],
    ['unicode, short', { ...base(), path: '/é/€/😀/中', authority: 'ü.example', error_detail: '😀😀' }],
    ['unicode, 40 units and more', { ...base(), path: '/' + 'é€😀中'.repeat(10), error_detail: 'x'.repeat(39) + '😀' }],
    ['a string of exactly 40 and 39 units', { ...base(), path: 'p'.repeat(40), authority: 'a'.repeat(39) }],
    ['strings past 127 bytes', { ...base(), path: '/' + 'a'.repeat(200), error_detail: 'é'.repeat(100) }],
    ['strings past 16383 bytes', { ...base(), path: '/' + 'a'.repeat(20_000), error_detail: 'é'.repeat(9000), close_reason: '😀'.repeat(5000) }],
    ['non-ASCII crossing a varint boundary only in bytes', { ...base(), path: 'é'.repeat(64), authority: '€'.repeat(43), method: '😀'.repeat(32) }],
    ['a header past 127 bytes', { ...base(), request: message({ headers: { cookie: 'c='.repeat(100), 'user-agent': 'x'.repeat(130) } }) }],
    ['many headers, tiny body', { ...base(), request: message({ headers: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-h-${i}`, `value-${i}`])) }) }],
    ['a body of 100 bytes, no headers', { ...base(), request: { headers: {}, body: new Uint8Array(100), body_size: 100, truncated: false } }],
    ['a body of 16383 bytes', { ...base(), request: { headers: {}, body: new Uint8Array(16_383 - 7), body_size: 1, truncated: false } }],
    ['1 KiB bodies both ways', { ...fullRecord(2), request: message({ body: kib(1) }), response: message({ body: kib(1, 0x62) }) }],
    ['a 3 MiB body (four-byte lengths, a grown scratch buffer)', { ...base(), response: message({ body: kib(3 * 1024) }) }],
    ['a 3 MiB string', { ...base(), error_detail: 'e'.repeat(3 * 1024 * 1024) }],
    ['endpoint with identity but short', { ...base(), dst: { ip: '1.1.1.1', port: 1, identity: 'i' } }],
    ['endpoint with every field', { ...base(), dst: { ...fullRecord(1).src, labels: { 'app.kubernetes.io/name': 'x'.repeat(300) } } }],
  ];
  const optionalKeys: (keyof CallRecord)[] = [
    'request_end',
    'response_start',
    'method',
    'path',
    'authority',
    'status_code',
    'grpc_status',
    'request',
    'response',
    'error',
    'error_detail',
    'close_reason',
    'trace_id',
    'span_id',
    'parent_span_id',
    'notes',
    'grpc_message',
    'dns_rcode',
    'connection',
    'queue_us',
    'link_confidence',
    'caused_by_trace_id',
    'caused_by_span_id',
  ];
  const full = fullRecord(9);
  for (const key of optionalKeys) {
    cases.push([`only ${key}`, { ...base(), [key]: full[key] }]);
    const without: CallRecord = { ...full };
    delete without[key];
    cases.push([`all but ${key}`, without]);
  }
  for (const key of ['identity', 'pod', 'namespace', 'workload', 'workload_kind', 'service', 'node', 'labels'] as const) {
    cases.push([`endpoint with only ${key}`, { ...base(), src: { ip: '10.0.0.1', port: 80, [key]: full.src[key] } }]);
  }
  for (const key of ['sni', 'alpn', 'version', 'cipher', 'handshake_us', 'error'] as const) {
    cases.push([`app TLS with only ${key}`, { ...base(), tls: { mesh: true, app_tls: { [key]: full.tls.app_tls![key] } } }]);
  }
  for (const key of ['trailers', 'content_type', 'content_encoding'] as const) {
    cases.push([`request with only ${key}`, { ...base(), request: { headers: {}, body: new Uint8Array(0), body_size: 0, truncated: false, [key]: full.request![key] } }]);
  }
  return cases;
}

/**
 * Records no sender should make but the writer must still encode as protobufjs does: the two
 * stay interchangeable whatever they are given. They do not decode back to themselves.
 */
function oddCorpus(): [string, CallRecord][] {
  const base = (): CallRecord => minimalRecord(2);
  return [
    ['lone surrogates, short strings', { ...base(), path: 'a\uD800b', authority: '\uDC00', method: '\uDBFF', error_detail: '😀\uD83D' }],
    ['lone surrogates in 39 and 40 units (the two paths)', { ...base(), path: '\uD800'.padEnd(39, 'x'), authority: '\uD800'.padEnd(40, 'x'), method: 'x'.padEnd(39, '\uDC00'), error_detail: 'x'.padEnd(40, '\uDC00') }],
    ['lone surrogates, long strings', { ...base(), path: 'a\uD800b'.padEnd(45, 'x'), authority: '\uDC00'.repeat(50), error_detail: '\uDE00😀'.repeat(30) }],
    ['times outside int64 wrap modulo 2^64', { ...base(), start: 2n ** 64n + 5n, end: -(2n ** 63n) - 1n, request_end: 2n ** 63n }],
    ['negative, fractional and huge uint64 numbers', { ...base(), elapsed_us: -1, bytes_in: 1.5, bytes_out: 2 ** 70, tls: { mesh: true, app_tls: { handshake_us: -(2 ** 40) } } }],
    ['a body size that is not a number', { ...base(), request: message({ body_size: Number.NaN }) }],
    ['infinite numbers', { ...base(), elapsed_us: Infinity, bytes_in: -Infinity, ordinal: Infinity, status_code: -Infinity, grpc_status: Infinity }],
    ['uint32 and int32 out of range', { ...base(), ordinal: -1, status_code: 2 ** 32 + 7, grpc_status: 2 ** 31, src: { ip: 'x', port: -5 }, dst: { ip: 'y', port: 70_000.9 } }],
    ['empty notes', { ...base(), notes: [] }],
    ['optionals present as undefined', { ...base(), method: undefined, request: undefined, notes: undefined, src: { ip: 'x', port: 1, labels: undefined, pod: undefined } }],
    ['a null-prototype header map', { ...base(), request: message({ headers: Object.assign(Object.create(null) as Record<string, string>, { b: '1', a: '2' }) }) }],
  ];
}

void t.test('every hand-made shape is byte-identical to protobufjs', async (t) => {
  for (const [name, record] of [...validCorpus(), ...oddCorpus()]) {
    t.equal(sameAsProtobufjs(record), undefined, name);
  }
});

void t.test('every valid shape decodes through the official proto back to itself', async (t) => {
  const corpus = validCorpus();
  const back = decodeWritten(corpus.map(([, r]) => r));
  corpus.forEach(([name, record], i) => {
    t.doesNotThrow(() => assert.deepStrictEqual(back[i], record), name);
  });
});

void t.test('lone surrogates come back as replacement characters, as from protobufjs', async (t) => {
  // Short strings are written with the surrogate's own three bytes (each read back as U+FFFD),
  // long ones with U+FFFD itself: the same bytes protobufjs writes, and never the original string.
  const r: CallRecord = { ...minimalRecord(), path: 'a\uD800b', authority: '\uDC00'.repeat(50) };
  const [back] = decodeWritten([r]);
  t.equal(back.path, 'a\uFFFD\uFFFD\uFFFDb');
  t.equal(back.authority, '\uFFFD'.repeat(50));
  t.equal(sameAsProtobufjs(r), undefined, 'and protobufjs writes the same');
});

void t.test('the scratch buffer is reused, never handed out', async (t) => {
  const big: CallRecord = { ...minimalRecord(), response: message({ body: kib(2 * 1024, 0x7a) }) };
  const small = fullRecord(1);
  const first = encodeCallRecord(small);
  const kept = Buffer.from(first);
  const large = encodeCallRecord(big);
  const again = encodeCallRecord(small);
  t.equal(byteDifference(first, kept), undefined, 'an earlier result is not overwritten');
  t.equal(byteDifference(again, kept), undefined, 'the same record encodes the same after a large one');
  t.equal(byteDifference(large, reference(big)), undefined);
});

void t.test('SidecarInfo and RecordBatch are byte-identical to protobufjs', async (t) => {
  const infos: SidecarInfoMessage[] = [
    { pod: 'frontend-7d9f', namespace: 'shop', pod_ip: '10.244.0.5', node: 'node-a', service_account: 'frontend', sidecar_version: '0.1.0' },
    { pod: '', namespace: '', pod_ip: '', node: '', service_account: '', sidecar_version: '' },
    { pod: 'p'.repeat(300), namespace: 'ü', pod_ip: '::1', node: '😀', service_account: 'sa', sidecar_version: 'v'.repeat(50) },
  ];
  for (const info of infos) {
    t.equal(byteDifference(encodeSidecarInfo(info), sidecarInfoType.encode(info).finish()), undefined, `sidecar ${info.pod.slice(0, 20)}`);
  }

  const records = [fullRecord(1), minimalRecord(2), sizedRecord(3, 20_000), { ...minimalRecord(4), path: 'x'.repeat(200) }];
  const encoded = records.map(encodeCallRecord);
  const batches: [string, number, SidecarInfoMessage | null, CallRecord[]][] = [
    ['typical', 1, infos[0], records],
    ['no records', 2, infos[0], []],
    ['no sidecar', 3, null, records],
    ['seq 0', 0, infos[1], records.slice(0, 1)],
    ['seq past 2^32', 2 ** 32 + 1, infos[2], records.slice(1)],
    ['seq at 2^53 - 1', Number.MAX_SAFE_INTEGER, infos[0], records.slice(2)],
    ['a record of 16383 bytes and more', 128, infos[0], [sizedRecord(5, 16_300), sizedRecord(6, 16_400), sizedRecord(7, 3 * 1024 * 1024)]],
  ];
  for (const [name, seq, info, list] of batches) {
    const pieces = list === records ? encoded : list.map(encodeCallRecord);
    const mine = encodeRecordBatch(seq, info === null ? null : encodeSidecarInfo(info), pieces);
    const theirs = recordBatchEncoder()({ seq, sidecar: info, records: list.map(recordToProto) });
    t.equal(byteDifference(mine, theirs), undefined, name);
    // The shipper hands protobufjs the seq as a decimal string; the bytes are the same.
    const fromString = recordBatchEncoder()({ seq: String(seq), sidecar: info, records: list.map(recordToProto) });
    t.equal(byteDifference(mine, fromString), undefined, `${name}, seq as a string`);
    t.ok(Buffer.isBuffer(mine), `${name}: a Buffer, ready for grpc-js`);
    const withHeadroom = encodeRecordBatch(seq, info === null ? null : encodeSidecarInfo(info), pieces, 5);
    t.equal(withHeadroom.length, mine.length + 5, `${name}: headroom in front`);
    t.equal(byteDifference(withHeadroom.subarray(5), theirs), undefined, `${name}: the same message after the headroom`);
  }
});

// ---------------------------------------------------------------------------------------------
// random records

const PROTOCOLS: Protocol[] = ['http', 'http2', 'grpc', 'ws', 'redis', 'postgres', 'dns', 'tls', 'tcp'];
const ERRORS: RecordError[] = ['reset', 'timeout', 'unpaired', 'parse', 'closed', 'upstream_unreachable'];

interface Shapes {
  text: fc.Arbitrary<string>;
  time: fc.Arbitrary<bigint>;
  uint32: fc.Arbitrary<number>;
  int32: fc.Arbitrary<number>;
  uint64: fc.Arbitrary<number>;
  map: fc.Arbitrary<Record<string, string>>;
}

/** Short strings mostly, long ones (past the 40-unit and 127-byte marks) often enough. */
function texts(unit: 'binary' | fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit, maxLength: 12 }) },
    { weight: 2, arbitrary: fc.string({ unit, minLength: 30, maxLength: 60 }) },
    { weight: 1, arbitrary: fc.string({ unit, minLength: 100, maxLength: 400 }) },
  );
}

function recordArbitrary(s: Shapes): fc.Arbitrary<CallRecord> {
  const strings = fc.array(s.text, { maxLength: 4 });
  const endpoint = fc.record(
    {
      ip: s.text.filter((v) => v !== ''),
      port: s.uint32,
      identity: s.text,
      pod: s.text,
      namespace: s.text,
      workload: s.text,
      workload_kind: s.text,
      service: s.text,
      node: s.text,
      labels: s.map,
    },
    { requiredKeys: ['ip', 'port'], noNullPrototype: true },
  );
  const appTls = fc.record({ sni: s.text, alpn: strings, version: s.text, cipher: s.text, handshake_us: s.uint64, error: s.text }, { requiredKeys: [], noNullPrototype: true });
  const http = fc.record(
    {
      headers: s.map,
      trailers: s.map,
      body: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 100, maxLength: 3000 })),
      body_size: s.uint64,
      truncated: fc.boolean(),
      content_type: s.text,
      content_encoding: s.text,
    },
    { requiredKeys: ['headers', 'body', 'body_size', 'truncated'], noNullPrototype: true },
  );
  return fc.record(
    {
      id: fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
      protocol: fc.constantFrom(...PROTOCOLS),
      observer: fc.constantFrom('outbound' as const, 'inbound' as const),
      connection_id: s.text,
      ordinal: s.uint32,
      start: s.time,
      request_end: s.time,
      response_start: s.time,
      end: s.time,
      elapsed_us: s.uint64,
      src: endpoint,
      dst: endpoint,
      tls: fc.record({ mesh: fc.boolean(), app_tls: appTls }, { requiredKeys: ['mesh'], noNullPrototype: true }),
      method: s.text,
      path: s.text,
      authority: s.text,
      status_code: s.uint32,
      grpc_status: s.int32,
      request: http,
      response: http,
      bytes_in: s.uint64,
      bytes_out: s.uint64,
      error: fc.constantFrom(...ERRORS),
      error_detail: s.text,
      close_reason: s.text,
      trace_id: s.text,
      span_id: s.text,
      parent_span_id: s.text,
      redacted: strings,
      sensitive: strings,
      notes: fc.array(s.text, { minLength: 1, maxLength: 3 }),
      grpc_message: s.text,
      dns_rcode: s.text,
      connection: fc.record(
        {
          connect_us: s.uint64,
          tls_handshake_us: s.uint64,
          reset_by: fc.constantFrom('client' as const, 'server' as const),
          half_closed_by: fc.constantFrom('client' as const, 'server' as const),
          exchanges: s.uint32,
        },
        { requiredKeys: [], noNullPrototype: true },
      ),
      queue_us: s.uint64,
      link_confidence: fc.double({ min: Number.MIN_VALUE, max: 1, noNaN: true }),
      caused_by_trace_id: fc.stringMatching(/^[0-9a-f]{32}$/),
      caused_by_span_id: fc.stringMatching(/^[0-9a-f]{16}$/),
    },
    {
      requiredKeys: ['id', 'protocol', 'observer', 'connection_id', 'ordinal', 'start', 'end', 'elapsed_us', 'src', 'dst', 'tls', 'bytes_in', 'bytes_out', 'redacted', 'sensitive'],
      // Plain objects, as the decoder builds them.
      noNullPrototype: true,
    },
  );
}

/** Records a sidecar can send: well-formed strings, values in range. They round-trip. */
const validShapes: Shapes = (() => {
  const text = texts('binary');
  return {
    text,
    time: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    uint32: fc.nat({ max: 0xffffffff }),
    int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    uint64: fc.oneof(fc.nat({ max: 200 }), fc.nat(), fc.maxSafeNat()),
    // Plain objects (the decoder builds plain objects), and no key that would set a prototype.
    map: fc.dictionary(
      text.filter((k) => k !== '__proto__'),
      text,
      { maxKeys: 6, noNullPrototype: true },
    ),
  };
})();

/** Anything the types let through, including what a sidecar never sends. Bytes only. */
const wildShapes: Shapes = (() => {
  const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  const unit = fc.oneof({ weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: loneSurrogate });
  const text = texts(unit);
  const number = fc.oneof(fc.integer(), fc.double(), fc.maxSafeInteger(), fc.constantFrom(2 ** 64, -(2 ** 64), 2 ** 32, -(2 ** 32)));
  return {
    text,
    time: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    uint32: number,
    int32: number,
    uint64: number,
    map: fc.dictionary(text, text, { maxKeys: 6 }),
  };
})();

void t.test('random valid records: identical bytes, and back to the same record', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(recordArbitrary(validShapes), (r) => {
        const difference = sameAsProtobufjs(r);
        if (difference !== undefined) throw new Error(difference);
        assert.deepStrictEqual(decodeWritten([r])[0], r);
      }),
      { numRuns: 600 },
    ),
  );
});

void t.test('random records of any shape: identical bytes', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(recordArbitrary(wildShapes), (r) => {
        const difference = sameAsProtobufjs(r);
        if (difference !== undefined) throw new Error(difference);
      }),
      { numRuns: 600 },
    ),
  );
});

void t.test('random batches: identical to recordBatchEncoder', async (t) => {
  const info = fc.record({ pod: validShapes.text, namespace: validShapes.text, pod_ip: validShapes.text, node: validShapes.text, service_account: validShapes.text, sidecar_version: validShapes.text });
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.option(info), fc.array(recordArbitrary(validShapes), { maxLength: 5 }), (seq, sidecar, records) => {
        const mine = encodeRecordBatch(seq, sidecar === null ? null : encodeSidecarInfo(sidecar), records.map(encodeCallRecord));
        const theirs = recordBatchEncoder()({ seq, sidecar, records: records.map(recordToProto) });
        const difference = byteDifference(mine, theirs);
        if (difference !== undefined) throw new Error(difference);
      }),
      { numRuns: 200 },
    ),
  );
});

void t.test('a flow link appended to an encoded record reads, with the official proto, as the record with the link set', async (t) => {
  const link = { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', parent_span_id: '00f067aa0ba902b7', link_confidence: 1 / 3 };
  for (const r of [minimalRecord(4), { ...fullRecord(5), trace_id: undefined, parent_span_id: undefined, link_confidence: undefined }]) {
    const appended = appendFlowLink(encodeCallRecord(r), link);
    const official = callRecordType.decode(appended) as unknown as { trace_id: string; parent_span_id: string; link_confidence: number };
    t.same([official.trace_id, official.parent_span_id, official.link_confidence], [link.trace_id, link.parent_span_id, link.link_confidence], `${r.id}: protobufjs`);
    t.equal(byteDifference(appended, Buffer.concat([reference(r), Buffer.from(appendFlowLink(new Uint8Array(0), link))])), undefined, `${r.id}: the record's bytes, then the link's`);
    const back = method.requestDeserialize(encodeRecordBatch(1, null, [appended])).records.map((m) => decodeRecord(m));
    t.ok(back[0].ok);
    if (back[0].ok) t.same({ trace_id: back[0].record.trace_id, parent_span_id: back[0].record.parent_span_id, link_confidence: back[0].record.link_confidence }, link, `${r.id}: the collector's decode`);
  }
});
