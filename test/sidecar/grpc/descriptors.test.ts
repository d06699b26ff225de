import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { addDescriptorSet, emptySchema } from '../../../sidecar/grpc/descriptors.ts';
import { decodeWithSchema } from '../../../sidecar/grpc/typed-decode.ts';
import { toGrpcExchange } from '../../../sidecar/grpc/grpc-exchange.ts';
import { readGrpcDescriptors } from '../../../sidecar/grpc/load-descriptors.ts';
import { resolveSidecarConfig } from '../../../sidecar/config.ts';

// The reference: protobufjs writes the FileDescriptorSet (as protoc would) and encodes messages.
const descriptorSet = (root: protobuf.Root): Uint8Array =>
  (descriptor as unknown as { FileDescriptorSet: protobuf.Type }).FileDescriptorSet.encode((root as unknown as { toDescriptor(s: string): protobuf.Message }).toDescriptor('proto3')).finish();

const KINDS = protobuf.parse(`
syntax = "proto3";
package kinds.v1;
enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }
message Inner { string label = 1; Color color = 2; }
message All {
  double d = 1; float f = 2; int64 i64 = 3; uint64 u64 = 4; int32 i32 = 5; fixed64 fx64 = 6;
  fixed32 fx32 = 7; bool b = 8; string s = 9; Inner inner = 11; bytes raw = 12; uint32 u32 = 13;
  Color color = 14; sfixed32 sf32 = 15; sfixed64 sf64 = 16; sint32 si32 = 17; sint64 si64 = 18;
  repeated int32 packed = 19; repeated Inner many = 20; repeated string tags = 21;
  message Nested { int32 depth = 1; }
  Nested nested = 22;
}
service Kinds { rpc Echo(All) returns (All); }
`).root;
const All = KINDS.lookupType('kinds.v1.All');

void t.test('a FileDescriptorSet gives methods, messages and enums', async (t) => {
  const schema = addDescriptorSet(emptySchema(), descriptorSet(KINDS));
  t.same(schema.methods.get('/kinds.v1.Kinds/Echo'), { input: 'kinds.v1.All', output: 'kinds.v1.All' });
  t.ok(schema.messages.has('kinds.v1.All.Nested'), 'nested types are qualified by their parent');
  t.same([...schema.enums.get('kinds.v1.Color')!.entries()], [[0, 'COLOR_UNSPECIFIED'], [1, 'RED'], [2, 'GREEN']]);
  t.equal(schema.messages.get('kinds.v1.All')!.fields.get(20)!.repeated, true);
});

void t.test('typed decoding matches protobufjs on every scalar kind', async (t) => {
  const schema = addDescriptorSet(emptySchema(), descriptorSet(KINDS));
  const value = {
    d: 1.5, f: 0.25, i64: '-9007199254740993', u64: '18446744073709551615', i32: -7, fx64: '12345678901234', fx32: 4000000000, b: true, s: 'héllo',
    inner: { label: 'x', color: 2 }, raw: Buffer.from([0, 255]), u32: 4294967295, color: 1, sf32: -5, sf64: '-6', si32: -123456, si64: '-9007199254740999',
    packed: [1, -2, 300], many: [{ label: 'a' }, { label: 'b', color: 1 }], tags: ['p', 'q'], nested: { depth: 3 },
  };
  const bytes = All.encode(All.fromObject(value)).finish();
  const got = decodeWithSchema(bytes, 'kinds.v1.All', schema);
  t.same(got, {
    d: 1.5, f: 0.25, i64: '-9007199254740993', u64: '18446744073709551615', i32: -7, fx64: 12345678901234, fx32: 4000000000, b: true, s: 'héllo',
    inner: { label: 'x', color: 'GREEN' }, raw: 'base64:AP8=', u32: 4294967295, color: 'RED', sf32: -5, sf64: -6, si32: -123456, si64: '-9007199254740999',
    packed: [1, -2, 300], many: [{ label: 'a' }, { label: 'b', color: 'RED' }], tags: ['p', 'q'], nested: { depth: 3 },
  });
  t.equal(decodeWithSchema(bytes, 'kinds.v1.Nope', schema), undefined, 'an unknown type');
  t.equal(decodeWithSchema(Buffer.from([0x0a, 0x09]), 'kinds.v1.All', schema), undefined, 'bytes that do not fit');
});

void t.test('a gRPC exchange of a method the schema knows gets field and enum names', async (t) => {
  const schema = addDescriptorSet(emptySchema(), descriptorSet(KINDS));
  const msg = All.encode(All.fromObject({ s: 'order-7', color: 2 })).finish();
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]);
  const message = { headers: {}, body: framed, body_size: framed.length, truncated: false, content_type: 'application/grpc' };
  const base = { protocol: 'grpc' as const, ordinal: 0, start: 1n, end: 2n, bytes_out: 0, bytes_in: 0, method: 'POST', request: message, response: { ...message, trailers: { 'grpc-status': '0' } } };
  const named = toGrpcExchange({ ...base, path: '/kinds.v1.Kinds/Echo' }, 1024, schema);
  t.same(JSON.parse(Buffer.from(named.request!.body).toString()).messages[0].message, { s: 'order-7', color: 'GREEN' });
  t.ok(named.notes?.includes('request.body: 1 gRPC message decoded as kinds.v1.All'));
  const unknown = toGrpcExchange({ ...base, path: '/other.Svc/Call' }, 1024, schema);
  t.same(JSON.parse(Buffer.from(unknown.request!.body).toString()).messages[0].message, { 9: 'order-7', 14: 2 }, 'a method it does not know: field numbers');
});

void t.test('MESHTAP_GRPC_DESCRIPTORS: files read and checked at start, clear errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshtap-descriptors-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'kinds.pb');
  await writeFile(good, descriptorSet(KINDS));
  const shop = join(dir, 'shop.pb');
  await writeFile(shop, descriptorSet(protobuf.loadSync(fileURLToPath(new URL('../../fixtures/grpc/shop.proto', import.meta.url)))));
  t.equal(readGrpcDescriptors([good, shop]).length, 2);
  const noService = join(dir, 'types.pb');
  await writeFile(noService, descriptorSet(protobuf.parse('syntax = "proto3"; message A { int32 x = 1; }').root));
  t.throws(() => readGrpcDescriptors([join(dir, 'missing.pb')]), /cannot read .*missing\.pb: ENOENT/);
  const garbage = join(dir, 'garbage.pb');
  await writeFile(garbage, Buffer.from([0x0f, 0xff, 0xff]));
  t.throws(() => readGrpcDescriptors([garbage]), /garbage\.pb is not a FileDescriptorSet/);
  t.throws(() => readGrpcDescriptors([noService]), /defines no gRPC service/);
  const env = { POD_NAME: 'p', POD_NAMESPACE: 'n', POD_IP: '10.0.0.1', SERVICE_ACCOUNT: 'sa' };
  t.same(resolveSidecarConfig({ ...env, MESHTAP_GRPC_DESCRIPTORS: `${good}, ${shop}` }).grpcDescriptors, [good, shop]);
  t.throws(() => resolveSidecarConfig({ ...env, MESHTAP_GRPC_DESCRIPTORS: 'relative.pb' }), /MESHTAP_GRPC_DESCRIPTORS.*absolute paths/);
});
