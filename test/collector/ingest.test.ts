/** The gRPC ingest server with hand-made (and broken) batches from a raw client. */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { loadCollectorProto, recordToProto, type RecordBatchMessage, type ShipAckMessage } from '../../record/codec.ts';
import { fullRecord } from '../proto/record-fixtures.ts';
import { metricValue, startTestCollector, waitFor } from './helpers.ts';

type AnyCall = grpc.ClientDuplexStream<unknown, ShipAckMessage>;
const definition = loadCollectorProto()['meshtap.v1.Collector'] as grpc.ServiceDefinition;
const method = definition.Ship as grpc.MethodDefinition<RecordBatchMessage, ShipAckMessage>;

/** A client that sends raw bytes as the request message, so it can send anything. */
const RawClient = grpc.makeGenericClientConstructor(
  { Ship: { ...method, requestSerialize: (b: Buffer) => b } } as unknown as grpc.ServiceDefinition,
  'Collector',
) as unknown as new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & { Ship(): AnyCall };

function openRaw(port: number) {
  const client = new RawClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = client.Ship();
  const acks: ShipAckMessage[] = [];
  call.on('data', (a: ShipAckMessage) => acks.push(a));
  call.on('error', () => {});
  return { client, call, acks };
}

const sidecar = { pod: 'p', namespace: 'ns', pod_ip: '10.0.0.1', node: 'n', service_account: 'sa', sidecar_version: 'v' };

void t.test('malformed records are rejected and counted; the stream and server keep going', async (t) => {
  const collector = await startTestCollector();
  t.teardown(() => collector.close({ force: true }));
  const { client, call, acks } = openRaw(collector.grpcPort);
  t.teardown(() => client.close());

  const good = recordToProto(fullRecord(1));
  const batch: RecordBatchMessage = {
    seq: '1',
    sidecar,
    records: [good, { ...recordToProto(fullRecord(2)), id: '' }, { ...recordToProto(fullRecord(3)), observer: 'sideways' }, { ...recordToProto(fullRecord(4)), src: null }],
  };
  call.write(method.requestSerialize(batch));
  await waitFor('first ack', () => acks.length === 1);
  t.equal(String(acks[0].seq), '1');
  t.equal(acks[0].accepted, 1);
  t.equal(acks[0].rejected, 3);
  t.same(acks[0].rejections, [
    { index: 1, reason: 'missing_id' },
    { index: 2, reason: 'bad_observer' },
    { index: 3, reason: 'missing_endpoint' },
  ]);
  t.notOk(acks[0].error);

  // bytes that are no RecordBatch at all
  call.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  await waitFor('error ack', () => acks.length === 2);
  t.match(acks[1].error, /undecodable/);
  t.equal(acks[1].accepted, 0);

  // a batch whose seq reads but whose records do not: the error ack names that seq
  call.write(Buffer.from([0x08, 0x02, 0x1a, 0x05, 0xff]));
  await waitFor('error ack for seq 2', () => acks.length === 3);
  t.equal(String(acks[2].seq), '2', 'the error ack carries the batch\'s seq');
  t.match(acks[2].error, /undecodable/);

  // the same stream still works
  call.write(method.requestSerialize({ seq: '3', sidecar, records: [recordToProto(fullRecord(5))] }));
  await waitFor('fourth ack', () => acks.length === 4);
  t.equal(acks[3].accepted, 1);

  t.equal(await metricValue(collector, 'meshtap_collector_records_rejected_total', { reason: 'missing_id' }), 1);
  t.equal(await metricValue(collector, 'meshtap_collector_records_rejected_total', { reason: 'bad_observer' }), 1);
  t.equal(await metricValue(collector, 'meshtap_collector_records_rejected_total', { reason: 'missing_endpoint' }), 1);
  t.equal(await metricValue(collector, 'meshtap_collector_batches_rejected_total', { reason: 'undecodable' }), 2);
  t.equal(await metricValue(collector, 'meshtap_collector_records_received_total'), 5);
  t.equal(await metricValue(collector, 'meshtap_collector_records_stored_total'), 2);
  t.equal(await metricValue(collector, 'meshtap_collector_grpc_streams_active'), 1);
  t.same((await collector.store.list({ limit: 10 })).map((r) => r.id), ['rec-5', 'rec-1']);

  // a second client on a new stream is served too
  const second = openRaw(collector.grpcPort);
  t.teardown(() => second.client.close());
  second.call.write(method.requestSerialize({ seq: '1', sidecar: null, records: [recordToProto(fullRecord(6))] }));
  await waitFor('ack on a new stream', () => second.acks.length === 1);
  t.equal(second.acks[0].accepted, 1);

  call.end();
  second.call.end();
  await waitFor('streams closed', async () => (await metricValue(collector, 'meshtap_collector_grpc_streams_active')) === 0);
});

void t.test('a store failure is an error ack, not a crash', async (t) => {
  const { createMemoryStore } = await import('../../collector/memory-store.ts');
  const inner = createMemoryStore({ maxRecords: 10 });
  let fail = true;
  const collector = await startTestCollector({
    store: { ...inner, add: async (records) => (fail ? Promise.reject(new Error('disk full')) : inner.add(records)) },
  });
  t.teardown(() => collector.close({ force: true }));
  const { client, call, acks } = openRaw(collector.grpcPort);
  t.teardown(() => client.close());
  call.write(method.requestSerialize({ seq: '1', sidecar, records: [recordToProto(fullRecord(1))] }));
  await waitFor('ack', () => acks.length === 1);
  t.match(acks[0].error, /disk full/);
  t.equal(await metricValue(collector, 'meshtap_collector_batches_rejected_total', { reason: 'store_failed' }), 1);
  fail = false;
  call.write(method.requestSerialize({ seq: '2', sidecar, records: [recordToProto(fullRecord(1))] }));
  await waitFor('second ack', () => acks.length === 2);
  t.equal(acks[1].accepted, 1);
  call.end();
});

void t.test('graceful close ends streams after their acks', async (t) => {
  const collector = await startTestCollector();
  const { client, call, acks } = openRaw(collector.grpcPort);
  t.teardown(() => client.close());
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.write(method.requestSerialize({ seq: '1', sidecar, records: [recordToProto(fullRecord(1))] }));
  await waitFor('ack', () => acks.length === 1);
  await collector.close({ graceMs: 2000 });
  t.equal((await status).code, grpc.status.OK, 'the stream ended cleanly');
});
