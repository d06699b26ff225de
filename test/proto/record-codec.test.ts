import assert from 'node:assert/strict';
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import {
  decodeRecord,
  loadCollectorProto,
  recordToProto,
  type CallRecordMessage,
  type RecordBatchMessage,
} from '../../record/codec.ts';
import type { CallRecord } from '../../record/record.ts';
import { fullRecord, minimalRecord } from './record-fixtures.ts';

const ship = loadCollectorProto()['meshtap.v1.Collector'] as grpc.ServiceDefinition;
const method = ship.Ship as grpc.MethodDefinition<RecordBatchMessage, RecordBatchMessage>;

/** Through the real wire: encode a batch to bytes with the loaded proto and decode it again. */
function throughWire(records: CallRecord[]): CallRecord[] {
  const bytes = method.requestSerialize({ seq: '1', sidecar: null, records: records.map(recordToProto) });
  const batch = method.requestDeserialize(bytes);
  return batch.records.map((m) => {
    const result = decodeRecord(m);
    if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
    return result.record;
  });
}

void t.test('a record with every field survives the wire exactly', async (t) => {
  const original = fullRecord(7);
  const [back] = throughWire([original]);
  t.doesNotThrow(() => assert.deepStrictEqual(back, original), 'deep strict equal (types, absent keys, bytes)');
  t.equal(typeof back.start, 'bigint');
  t.equal(back.start, original.start);
  t.equal(back.response_start, original.response_start);
  t.equal(Object.getPrototypeOf(back.request!.body), Uint8Array.prototype, 'bodies are plain Uint8Array');
  t.same([...back.response!.body], [0xff, 0x00, 0xfe, 0x80]);
  t.same(back.tls.app_tls?.alpn, ['h2', 'http/1.1']);
  t.equal(back.request?.headers['set-cookie'], 'a=1\nb=2');
  t.same(back.notes, ['expect: 100-continue', '100-continue'], 'parser notes ship');
});

void t.test('missing optionals stay missing, empty ones stay empty', async (t) => {
  const min = minimalRecord();
  const [back] = throughWire([min]);
  t.doesNotThrow(() => assert.deepStrictEqual(back, min));
  for (const key of ['request_end', 'response_start', 'method', 'status_code', 'grpc_status', 'request', 'error', 'trace_id']) {
    t.notOk(key in back, `${key} absent`);
  }
  t.notOk('labels' in back.src, 'absent labels stay absent');
  t.notOk('app_tls' in back.tls);
  t.notOk('notes' in back, 'no notes stay absent');

  const empties: CallRecord = {
    ...minimalRecord(1),
    method: '',
    status_code: 0,
    grpc_status: 0,
    request_end: 0n,
    src: { ip: '10.0.0.1', port: 1, labels: {} },
    tls: { mesh: false, app_tls: { alpn: [] } },
    request: { headers: {}, trailers: {}, body: new Uint8Array(0), body_size: 0, truncated: false },
  };
  const [back2] = throughWire([empties]);
  t.doesNotThrow(() => assert.deepStrictEqual(back2, empties));
  t.equal(back2.method, '', 'empty method kept');
  t.equal(back2.status_code, 0, 'zero status kept');
  t.equal(back2.request_end, 0n, 'zero time kept');
  t.same(back2.src.labels, {}, 'empty labels kept');
  t.same(back2.tls.app_tls, { alpn: [] }, 'empty alpn kept');
  t.equal(back2.request?.body.byteLength, 0, 'empty body');
  t.same(back2.request?.trailers, {});
});

void t.test('ns times beyond 2^53 and at the int64 limits are exact', async (t) => {
  const times = [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 1_764_000_000_999_999_999n, -1n];
  const records = times.map((start, i) => ({ ...minimalRecord(i), start, end: start, response_start: start }));
  const back = throughWire(records);
  t.same(
    back.map((r) => r.start),
    times,
  );
  t.same(
    back.map((r) => r.response_start),
    times,
  );
  t.ok(back.every((r) => typeof r.end === 'bigint'));
});

void t.test('many records in one batch keep order and content', async (t) => {
  const records = Array.from({ length: 300 }, (_, i) => (i % 2 ? fullRecord(i) : minimalRecord(i)));
  const back = throughWire(records);
  t.equal(back.length, 300);
  t.doesNotThrow(() => assert.deepStrictEqual(back, records));
});

void t.test('malformed messages are rejected with a reason, never thrown', async (t) => {
  const good = recordToProto(fullRecord(1));
  const cases: [string, Partial<CallRecordMessage> | Record<string, unknown>, string][] = [
    ['empty id', { id: '' }, 'missing_id'],
    ['bad observer', { observer: 'sideways' }, 'bad_observer'],
    ['bad protocol', { protocol: 'HTTP/1.1 ' }, 'bad_protocol'],
    ['bad time', { start: 'yesterday' }, 'bad_time'],
    ['time out of range', { end: '9223372036854775808' }, 'bad_time'],
    ['missing src', { src: null }, 'missing_endpoint'],
    ['dst without ip', { dst: { ip: '', port: 1 } }, 'missing_endpoint'],
    ['missing tls', { tls: null }, 'missing_field'],
    ['header not a string', { request: { ...good.request, headers: { a: 1 } } }, 'bad_value'],
    ['note not a string', { notes: ['ok', 7] }, 'bad_value'],
    ['link confidence above 1', { link_confidence: 1.5 }, 'bad_value'],
    ['caused-by trace id not a trace id', { caused_by_trace_id: 'ABC' }, 'bad_value'],
    ['caused-by trace id in upper case', { caused_by_trace_id: '0AF7651916CD43DD8448EB211C80319C' }, 'bad_value'],
    ['caused-by span id too long', { caused_by_span_id: 'b7ad6b71692033310' }, 'bad_value'],
  ];
  for (const [name, patch, reason] of cases) {
    const result = decodeRecord({ ...good, ...patch } as CallRecordMessage);
    t.equal(result.ok, false, name);
    if (!result.ok) t.equal(result.reason, reason, `${name}: ${result.detail}`);
  }
  t.equal(decodeRecord(null as unknown as CallRecordMessage).ok, false, 'null is a rejection too');
  t.equal(decodeRecord(good).ok, true, 'the unpatched message is fine');
});
