/**
 * The sidecar's hand-written side of the CA and membership contracts against the official
 * `.proto` (proto-loader's service definitions, which the CA and the controller serve with):
 * what the sidecar writes decodes in protobufjs to what it meant, what the servers write
 * decodes by hand to what proto-loader's deserializer gives, the methods are the services',
 * and malformed bytes throw instead of being half-read.
 */
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { loadCaServiceDefinition } from '../../record/ca-proto.ts';
import { CA_CLIENT_SERVICE, decodeSignResponse, encodeSignRequest } from '../../record/ca-wire.ts';
import { loadMembershipServiceDefinition, type MembershipSnapshotMessage } from '../../record/membership-proto.ts';
import { decodeMembershipSnapshot, encodeWatchRequest, MEMBERSHIP_CLIENT_SERVICE } from '../../record/membership-wire.ts';
import { ProtoDecodeError } from '../../record/proto-reader.ts';

const ca = loadCaServiceDefinition().Sign;
const watch = loadMembershipServiceDefinition().Watch;
const u32 = fc.nat({ max: 2 ** 32 - 1 });
/** int64 values as protobufjs takes them with `longs: String`. */
const int64Text = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
/** 64-bit values a JS number holds exactly (what the membership contract carries). */
const safe = fc.nat({ max: Number.MAX_SAFE_INTEGER });

/** Runs `check` on `runs` generated messages, and asserts that it did run that often. */
function everyMessage<T>(t: Test, arbitrary: fc.Arbitrary<T>, runs: number, check: (m: T) => void): void {
  let n = 0;
  fc.assert(
    fc.property(arbitrary, (m) => {
      check(m);
      n++;
    }),
    { numRuns: runs },
  );
  t.equal(n, runs);
}

void t.test('SignRequest: written by hand, read by protobufjs', async (t) => {
  everyMessage(t, fc.record({ csr_pem: fc.string({ unit: 'binary' }), validity_seconds: u32 }), 200, (m) => {
    t.same(ca.requestDeserialize(encodeSignRequest(m)), m);
  });
});

void t.test('SignResponse: written by protobufjs, read by hand as proto-loader reads it', async (t) => {
  const response = fc.record({
    cert_chain_pem: fc.string(),
    trust_bundle_pem: fc.string(),
    not_before_unix_ms: int64Text,
    not_after_unix_ms: int64Text,
    spiffe_id: fc.string(),
    serial_number: fc.string(),
  }, { requiredKeys: [] });
  everyMessage(t, response, 300, (m) => {
    const bytes = ca.responseSerialize(m);
    t.same(decodeSignResponse(bytes), ca.responseDeserialize(bytes));
  });
  const exact = decodeSignResponse(ca.responseSerialize({ not_before_unix_ms: '-9223372036854775808', not_after_unix_ms: '9223372036854775807' }));
  t.same([exact.not_before_unix_ms, exact.not_after_unix_ms], ['-9223372036854775808', '9223372036854775807'], 'int64 exact at both ends');
});

const workload = fc.record({ ip: fc.string(), namespace: fc.string(), pod: fc.string(), service_account: fc.string(), identity: fc.string(), strict: fc.boolean() }, { requiredKeys: [] });
const service = fc.record({
  namespace: fc.string(),
  name: fc.string(),
  vip: fc.string(),
  ports: fc.array(fc.record({ port: u32, target_port: u32, protocol: fc.constantFrom('TCP', 'UDP', ''), name: fc.string() }, { requiredKeys: [] }), { maxLength: 3 }),
  endpoints: fc.array(fc.record({ ip: fc.string(), port: u32 }, { requiredKeys: [] }), { maxLength: 3 }),
}, { requiredKeys: [] });
const snapshot = fc.record({
  version: safe,
  trust_domain: fc.string(),
  generated_unix_ms: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  workloads: fc.array(workload, { maxLength: 4 }),
  services: fc.array(service, { maxLength: 3 }),
}, { requiredKeys: [] });

void t.test('MembershipSnapshot: written by protobufjs (as the controller does), read by hand as proto-loader reads it', async (t) => {
  everyMessage(t, snapshot, 300, (m) => {
    const bytes = watch.responseSerialize(m);
    t.same(decodeMembershipSnapshot(bytes), watch.responseDeserialize(bytes));
  });
  const full: MembershipSnapshotMessage = {
    version: 2 ** 53 - 1,
    trust_domain: 'cluster.local',
    generated_unix_ms: -1,
    workloads: [{ ip: '10.0.0.1', namespace: 'shop', pod: 'web-1', service_account: 'web', identity: 'spiffe://cluster.local/ns/shop/sa/web', strict: true }],
    services: [{ namespace: 'shop', name: 'web', vip: '10.96.0.10', ports: [{ port: 80, target_port: 8080, protocol: 'TCP', name: 'http' }], endpoints: [{ ip: '10.0.0.1', port: 8080 }] }],
  };
  t.same(decodeMembershipSnapshot(watch.responseSerialize(full)), full, 'every field, a negative int64 and 2^53 - 1 exact');
});

void t.test('WatchRequest: written by hand, read by protobufjs', async (t) => {
  for (const known_version of [0, 1, 127, 128, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    t.same(watch.requestDeserialize(encodeWatchRequest({ known_version })), { known_version }, String(known_version));
  }
});

void t.test('unknown fields are skipped; a known number with another wire type is skipped too', async (t) => {
  // field 9 (varint 7), then field 1 as a varint instead of a string, then field 5 (spiffe_id).
  const bytes = Buffer.from([0x48, 0x07, 0x08, 0x01, 0x2a, 0x01, 0x78]);
  // (protobufjs reads a field by its number whatever the wire type, and fails on these bytes;
  // the official C++ and Java parsers skip it, as here.)
  t.same(decodeSignResponse(bytes), { ...decodeSignResponse(Buffer.alloc(0)), spiffe_id: 'x' });
  const unknownOnly = Buffer.from([0x48, 0x07, 0x52, 0x02, 0x01, 0x02]);
  t.same(decodeMembershipSnapshot(unknownOnly), watch.responseDeserialize(unknownOnly), 'unknown varint and length fields: as protobufjs reads them');
});

/** The error `decode` throws for `bytes`, or undefined. */
function failure(decode: (b: Buffer) => unknown, bytes: number[]): unknown {
  try {
    decode(Buffer.from(bytes));
  } catch (err) {
    return err;
  }
  return undefined;
}

void t.test('the clients call the methods the .proto defines; malformed bytes throw', async (t) => {
  for (const [mine, theirs] of [[CA_CLIENT_SERVICE.Sign, ca], [MEMBERSHIP_CLIENT_SERVICE.Watch, watch]] as const) {
    t.same([mine.path, mine.requestStream, mine.responseStream], [theirs.path, theirs.requestStream, theirs.responseStream], mine.path);
    t.notOk('requestDeserialize' in mine || 'responseSerialize' in mine, 'client side only');
  }
  for (const bytes of [[0x0a, 0x05, 0x61], [0x18], [0x22, 0x03, 0x0a, 0x05, 0x61], [0x00, 0x01], [0x0f]]) {
    t.ok(failure(decodeMembershipSnapshot, bytes) instanceof ProtoDecodeError, `membership ${Buffer.from(bytes).toString('hex')}`);
  }
  for (const bytes of [[0x0a, 0x05, 0x61], [0x18, 0xff], [0x00]]) {
    t.ok(failure(decodeSignResponse, bytes) instanceof ProtoDecodeError, `sign response ${Buffer.from(bytes).toString('hex')}`);
  }
});
