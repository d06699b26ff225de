/**
 * The shipper's hand-written side of `meshtap.v1.Collector.Ship` against the official `.proto`:
 * acks encoded by protobufjs decode by hand to what proto-loader's deserializer gives, the
 * method's path is the service's, and malformed acks throw instead of being half-read.
 */
import fc from 'fast-check';
import type * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { collectorMessageType, loadCollectorProto } from '../../../record/codec.ts';
import { decodeShipAck, ProtoDecodeError } from '../../../record/record-reader.ts';
import { COLLECTOR_SERVICE } from '../../../sidecar/shipper/grpc-transport.ts';

const ackType = collectorMessageType('meshtap.v1.ShipAck');
const service = loadCollectorProto()['meshtap.v1.Collector'] as grpc.ServiceDefinition;
const official = (bytes: Buffer) => service.Ship.responseDeserialize(bytes) as Record<string, unknown>;

const ack = fc.record(
  {
    seq: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    accepted: fc.nat({ max: 2 ** 32 - 1 }),
    rejected: fc.nat({ max: 2 ** 32 - 1 }),
    rejections: fc.array(fc.record({ index: fc.nat({ max: 2 ** 32 - 1 }), reason: fc.string() }), { maxLength: 4 }),
    error: fc.string(),
  },
  { requiredKeys: ['seq', 'accepted', 'rejected', 'rejections'] },
);

void t.test('acks decode by hand as proto-loader decodes them', async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(ack, (a) => {
      const bytes = Buffer.from(ackType.encode(ackType.fromObject({ ...a, seq: a.seq.toString() })).finish());
      const mine = decodeShipAck(bytes);
      const theirs = official(bytes);
      t.same(
        { seq: mine.seq, accepted: mine.accepted, rejected: mine.rejected, rejections: mine.rejections, error: mine.error ?? null },
        { seq: theirs.seq, accepted: theirs.accepted, rejected: theirs.rejected, rejections: theirs.rejections, error: theirs.error ?? null },
      );
      if ('error' in a) t.equal(mine.error, a.error, 'an error sent is an error read, even an empty one');
      else t.notOk('error' in mine, 'no error on the wire: none read');
      t.equal(mine.seq, a.seq.toString(), 'seq exact to 64 bits');
      checked++;
    }),
    { numRuns: 300 },
  );
  t.equal(checked, 300);
});

void t.test('the shipper calls the method the .proto defines; malformed acks throw', async (t) => {
  const mine = COLLECTOR_SERVICE.Ship;
  t.same([mine.path, mine.requestStream, mine.responseStream], [service.Ship.path, service.Ship.requestStream, service.Ship.responseStream], 'the same path, both ways streaming');
  t.equal(mine.responseDeserialize, decodeShipAck, 'acks read by hand');
  const failure = (bytes: number[]): unknown => {
    try {
      decodeShipAck(Buffer.from(bytes));
    } catch (err) {
      return err;
    }
    return undefined;
  };
  const pastEnd = failure([0x22, 0x05, 0x08]);
  t.ok(pastEnd instanceof ProtoDecodeError && /past the end/.test(pastEnd.message), 'a rejection running past the end');
  const truncated = failure([0x08, 0xff]);
  t.ok(truncated instanceof ProtoDecodeError && /truncated varint/.test(truncated.message), 'a truncated seq');
  t.same(decodeShipAck(Buffer.from([0x38, 0x01, 0x10, 0x02])), { seq: '0', accepted: 2, rejected: 0, rejections: [] }, 'an unknown field skipped');
});
