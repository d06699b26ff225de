/**
 * Micro-benchmark of record encoding, run alone (`node bench/record-encode.ts`, no root, not
 * part of `npm run bench`): protobufjs reflection (`recordToProto` + encode) against the
 * hand-written writer (`record/record-writer.ts`), on a typical HTTP record and on batches of
 * such records. Prints ns per record and bytes allocated per record.
 *
 * Allocation is measured by `allocation.ts`. The machine's load moves the times; compare the two
 * encoders within one run.
 */
import { collectorMessageType, recordBatchEncoder, recordToProto, type SidecarInfoMessage } from '../record/codec.ts';
import type { CallRecord } from '../record/record.ts';
import { bytesAllocatedPerUnit } from './allocation.ts';
import { encodeCallRecord, encodeRecordBatch, encodeSidecarInfo } from '../record/record-writer.ts';

const T0 = 1_764_000_000_123_456_789n;

function headers(kind: 'request' | 'response'): Record<string, string> {
  const common = {
    'content-type': 'application/json',
    'content-length': '1024',
    date: 'Tue, 25 Nov 2025 10:00:00 GMT',
    'x-request-id': '2f1c9a4e-8b7d-4c3a-9e1f-5a6b7c8d9e0f',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  };
  return kind === 'request'
    ? { ...common, host: 'payment.shop.svc.cluster.local:8080', 'user-agent': 'frontend/2.3.1 (node)', accept: 'application/json', authorization: '[masked]', 'accept-encoding': 'gzip, deflate, br' }
    : { ...common, server: 'envoy', 'cache-control': 'no-store', vary: 'accept-encoding', 'x-envoy-upstream-service-time': '12', etag: 'W/"400-abcdef"' };
}

function typicalRecord(i: number): CallRecord {
  const body = (c: number): Uint8Array => new TextEncoder().encode(`{"order":${i},"items":[` + `{"sku":"A-${c}","n":1},`.repeat(60)).slice(0, 1024);
  return {
    id: `0193a1b2-c3d4-7e5f-8a9b-${String(i).padStart(12, '0')}`,
    protocol: 'http',
    observer: 'outbound',
    connection_id: `conn-${i >> 4}`,
    ordinal: i & 15,
    start: T0 + BigInt(i),
    request_end: T0 + BigInt(i) + 120_000n,
    response_start: T0 + BigInt(i) + 2_400_000n,
    end: T0 + BigInt(i) + 2_600_000n,
    elapsed_us: 2600,
    src: {
      ip: '10.244.0.5',
      port: 40000 + (i % 1000),
      identity: 'spiffe://cluster.local/ns/shop/sa/frontend',
      pod: 'frontend-7d9f8b6c5-x2x7k',
      namespace: 'shop',
      workload: 'frontend',
      workload_kind: 'Deployment',
    },
    dst: {
      ip: '10.244.1.9',
      port: 8080,
      identity: 'spiffe://cluster.local/ns/shop/sa/payment',
      pod: 'payment-5c4d7f9b8-q9w8e',
      namespace: 'shop',
      workload: 'payment',
      workload_kind: 'Deployment',
      service: 'payment',
    },
    tls: { mesh: true },
    method: 'POST',
    path: `/v1/payments?order=${i}`,
    authority: 'payment.shop.svc.cluster.local:8080',
    status_code: 201,
    request: { headers: headers('request'), body: body(1), body_size: 1024, truncated: false, content_type: 'application/json' },
    response: { headers: headers('response'), body: body(2), body_size: 1024, truncated: false, content_type: 'application/json' },
    bytes_in: 1400,
    bytes_out: 1350,
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: '00f067aa0ba902b7',
    redacted: ['request.headers.authorization'],
    sensitive: [],
  };
}

interface Result {
  nsPerRecord: number;
  bytesPerRecord: number;
}

let sink = 0;

/** `run` encodes `perCall` records per call; times and allocations are per record. */
function measure(run: () => Uint8Array, perCall: number, calls: number): Result {
  for (let i = 0; i < calls; i++) sink += run().length; // warm-up: let the optimiser settle

  const rounds: number[] = [];
  for (let round = 0; round < 7; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink += run().length;
    rounds.push(Number(process.hrtime.bigint() - t0) / (calls * perCall));
  }
  rounds.sort((a, b) => a - b);

  return { nsPerRecord: rounds[3], bytesPerRecord: bytesAllocatedPerUnit(() => void (sink += run().length), perCall) };
}

function main(): void {
  const callRecordType = collectorMessageType('meshtap.v1.CallRecord');
  const records = Array.from({ length: 256 }, (_, i) => typicalRecord(i));
  const sidecar: SidecarInfoMessage = { pod: 'frontend-7d9f8b6c5-x2x7k', namespace: 'shop', pod_ip: '10.244.0.5', node: 'node-a', service_account: 'frontend', sidecar_version: '0.1.0' };
  const sidecarBytes = encodeSidecarInfo(sidecar);
  const batchEncoder = recordBatchEncoder();
  const BATCH = 64;

  // The two must agree before their speed means anything.
  const a = Buffer.from(callRecordType.encode(recordToProto(records[0])).finish());
  if (!a.equals(encodeCallRecord(records[0]))) throw new Error('the writer and protobufjs disagree on the benchmark record');

  let next = 0;
  const pick = (): CallRecord => records[next++ & 255];
  const batchOf = (): CallRecord[] => Array.from({ length: BATCH }, pick);
  const batches = Array.from({ length: 16 }, batchOf);
  let b = 0;

  const cases: [string, () => Uint8Array, number, number][] = [
    ['protobufjs: recordToProto + CallRecord.encode', () => callRecordType.encode(recordToProto(pick())).finish(), 1, 20_000],
    ['writer: encodeCallRecord', () => encodeCallRecord(pick()), 1, 20_000],
    [`protobufjs: recordBatchEncoder, ${BATCH} records`, () => batchEncoder({ seq: 1, sidecar, records: batches[b++ & 15].map(recordToProto) }), BATCH, 300],
    [`writer: encodeCallRecord each + encodeRecordBatch, ${BATCH} records`, () => encodeRecordBatch(1, sidecarBytes, batches[b++ & 15].map(encodeCallRecord)), BATCH, 300],
  ];

  console.log(`record: ${a.length} bytes encoded (1 KiB request and response bodies, ${Object.keys(records[0].request!.headers).length} + ${Object.keys(records[0].response!.headers).length} headers)`);
  console.log(`${'encoder'.padEnd(70)} ${'ns/record'.padStart(10)} ${'bytes allocated/record'.padStart(24)}`);
  for (const [name, run, perCall, calls] of cases) {
    const r = measure(run, perCall, calls);
    console.log(`${name.padEnd(70)} ${r.nsPerRecord.toFixed(0).padStart(10)} ${r.bytesPerRecord.toFixed(0).padStart(24)}`);
  }
  if (sink === 0) console.log('');
}

main();
