import t from 'tap';
import zlib from 'node:zlib';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { decodeProtobuf } from '../../../sidecar/grpc/protobuf-text.ts';
import { splitGrpcFrames } from '../../../sidecar/grpc/length-prefixed.ts';
import { decodeGrpcMessage, toGrpcExchange } from '../../../sidecar/grpc/grpc-exchange.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';

// The reference encoder: protobufjs with a schema the decoder never sees.
const root = protobuf.parse(`
syntax = "proto3";
message Item { string sku = 1; int32 qty = 2; }
message Order {
  string id = 1;
  int64 total = 2;
  bool paid = 3;
  repeated Item items = 4;
  double ratio = 5;
  fixed32 code = 6;
  bytes blob = 7;
  repeated int32 tags = 8 [packed = false];
  uint64 big = 9;
}`).root;
const Order = root.lookupType('Order');

function frame(payload: Uint8Array, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

void t.test('schema-less decoding matches what protobufjs encoded', async (t) => {
  const bytes = Order.encode(
    Order.fromObject({ id: 'order-42', total: 1999, paid: true, items: [{ sku: 'tea', qty: 2 }, { sku: 'cup', qty: 1 }], code: 7, blob: Buffer.from([0, 1, 2, 255]), tags: [5, 6], big: '18446744073709551615' }),
  ).finish();
  const m = decodeProtobuf(bytes);
  t.same(m, {
    1: 'order-42',
    2: 1999,
    3: 1,
    4: [{ 1: 'tea', 2: 2 }, { 1: 'cup', 2: 1 }],
    6: 7,
    7: 'base64:AAEC/w==',
    8: [5, 6],
    9: '18446744073709551615',
  });
});

void t.test('property: strings and ints of random orders come back under their field numbers', async () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.record({ sku: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)), qty: fc.integer({ min: 1, max: 1000 }) }), { maxLength: 4 }), (id, total, items) => {
      const bytes = Order.encode(Order.fromObject({ id, total, items })).finish();
      const m = decodeProtobuf(bytes);
      if (m === undefined) return false;
      if (m['1'] !== id || m['2'] !== total) return false;
      const got = items.length === 0 ? [] : items.length === 1 ? [m['4']] : (m['4'] as unknown[]);
      return JSON.stringify(got) === JSON.stringify(items.map((i) => ({ 1: i.sku, 2: i.qty })));
    }),
    { numRuns: 300 },
  );
});

void t.test('not protobuf: undefined, never a throw', async (t) => {
  t.equal(decodeProtobuf(Buffer.from([0x0f])), undefined, 'wire type 7');
  t.equal(decodeProtobuf(Buffer.from([0x0a, 0x05, 0x61])), undefined, 'length past the end');
  t.equal(decodeProtobuf(Buffer.from([0x80, 0x80, 0x80])), undefined, 'unterminated varint');
  t.same(decodeProtobuf(new Uint8Array(0)), {}, 'the empty message');
  // Deep nesting stays bounded.
  let deep: Uint8Array = Buffer.from([0x08, 0x01]);
  for (let i = 0; i < 200; i++) deep = Buffer.concat([Buffer.from([0x0a, ...varint(deep.length)]), deep]);
  t.doesNotThrow(() => decodeProtobuf(deep));
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

void t.test('frames: split, partial last message, bad flag', async (t) => {
  const a = frame(Buffer.from('abc'));
  const b = frame(Buffer.from('defgh'));
  const whole = splitGrpcFrames(Buffer.concat([a, b]));
  t.same(whole.frames.map((f) => [f.size, Buffer.from(f.data).toString(), f.partial]), [[3, 'abc', false], [5, 'defgh', false]]);
  const cut = splitGrpcFrames(Buffer.concat([a, b]).subarray(0, a.length + 7));
  t.same(cut.frames.map((f) => [f.size, Buffer.from(f.data).toString(), f.partial]), [[3, 'abc', false], [5, 'de', true]]);
  t.equal(splitGrpcFrames(Buffer.from([7, 0, 0, 0, 1, 1])).malformed, true);
});

const message = (body: Buffer, headers: Record<string, string> = {}, trailers?: Record<string, string>) => ({
  headers: { 'content-type': 'application/grpc', ...headers },
  ...(trailers ? { trailers } : {}),
  body,
  body_size: body.length,
  truncated: false,
  content_type: 'application/grpc',
});

function exchange(request: Buffer, response: Buffer, responseHeaders: Record<string, string> = {}, trailers?: Record<string, string>, requestHeaders: Record<string, string> = {}): Exchange {
  return {
    protocol: 'grpc',
    ordinal: 0,
    start: 1n,
    end: 2n,
    bytes_out: 0,
    bytes_in: 0,
    method: 'POST',
    path: '/shop.Inventory/Reserve',
    status_code: 200,
    request: message(request, requestHeaders),
    response: message(response, responseHeaders, trailers),
  };
}

void t.test('an exchange: messages as JSON, status and message from trailers, gzip removed', async (t) => {
  const req = Order.encode(Order.fromObject({ id: 'o-1', total: 5 })).finish();
  const res = Order.encode(Order.fromObject({ id: 'o-1', paid: true })).finish();
  const ex = toGrpcExchange(
    exchange(frame(zlib.gzipSync(req), true), Buffer.concat([frame(res), frame(res)]), { 'grpc-encoding': 'identity' }, { 'grpc-status': '5', 'grpc-message': 'order%20not%20found%3A%20o-1' }, { 'grpc-encoding': 'gzip' }),
    64 * 1024,
  );
  t.equal(ex.protocol, 'grpc');
  t.equal(ex.grpc_status, 5);
  t.equal(ex.grpc_message, 'order not found: o-1');
  const reqJson = JSON.parse(Buffer.from(ex.request!.body).toString());
  t.same(reqJson.messages, [{ size: zlib.gzipSync(req).length, compressed: true, message: { 1: 'o-1', 2: 5 } }]);
  const resJson = JSON.parse(Buffer.from(ex.response!.body).toString());
  t.equal(resJson.messages.length, 2);
  t.same(resJson.messages[1].message, { 1: 'o-1', 3: 1 });
  t.ok(ex.notes?.some((n) => n.startsWith('request.body: 1 gRPC message decoded')));
});

void t.test('trailers-only error response; an unknown compression says so', async (t) => {
  const ex = toGrpcExchange(exchange(frame(Buffer.from([1, 2, 3]), true), Buffer.alloc(0), { 'grpc-status': '14', 'grpc-message': 'unavailable' }, undefined, { 'grpc-encoding': 'snappy' }), 1024);
  t.equal(ex.grpc_status, 14);
  t.equal(ex.grpc_message, 'unavailable');
  const reqJson = JSON.parse(Buffer.from(ex.request!.body).toString());
  t.match(reqJson.messages[0].error, /snappy cannot be removed/);
  t.equal(decodeGrpcMessage('bad%zz'), 'bad%zz', 'a bad escape is kept');
});

void t.test('each message carries when its first byte arrived (streaming timelines)', async (t) => {
  const a = frame(Buffer.from([0x08, 0x01]));
  const b = frame(Buffer.from([0x08, 0x02]));
  const c = frame(Buffer.from([0x08, 0x03]));
  const ex = exchange(Buffer.alloc(0), Buffer.concat([a, b, c]), {}, { 'grpc-status': '0' });
  ex.start = 1_000_000n;
  // The first two messages came in one piece at +2 ms, the third at +7.5 ms.
  ex.body_arrivals = { response: [[0, 3_000_000n], [a.length + b.length, 8_500_000n]] };
  const out = toGrpcExchange(ex, 1024);
  const messages = (JSON.parse(Buffer.from(out.response!.body).toString()) as { messages: Array<{ at_us?: number; message: unknown }> }).messages;
  t.same(messages.map((m) => [m.at_us, m.message]), [[2000, { 1: 1 }], [2000, { 1: 2 }], [7500, { 1: 3 }]]);
  t.equal('body_arrivals' in out, true, 'the exchange keeps it; the record builder drops it');
});

void t.test('a status message echoing the request: masked in grpc_message and in the encoded trailer', async (t) => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJncnBjd2FsayJ9.Z3JwY3dhbGtzaWduYXR1cmU';
  const cases = [
    { sku: `tok ${jwt}`, secret: jwt, masked: 'tok ****', kind: 'jwt' },
    { sku: 'card 4111111111111111', secret: '4111111111111111', masked: 'card ****1111', kind: 'card' },
  ];
  const Item = root.lookupType('Item');
  for (const c of cases) {
    const req = Item.encode(Item.fromObject({ sku: c.sku, qty: 1 })).finish();
    // As a gRPC server sends it: percent-encoded (spaces and quotes too).
    const trailer = encodeURIComponent(`sku "${c.sku}" is not stocked`);
    const ex = toGrpcExchange(exchange(frame(req), Buffer.alloc(0), {}, { 'grpc-status': '5', 'grpc-message': trailer }), 64 * 1024);
    t.equal(ex.grpc_message, `sku "${c.sku}" is not stocked`, 'the exchange carries the decoded message as sent');
    const r = maskRecord({ ...ex, redacted: [] as string[], sensitive: [] as string[] });
    t.equal(r.grpc_message, `sku "${c.masked}" is not stocked`, `${c.kind}: grpc_message`);
    t.equal(r.response?.trailers?.['grpc-message'], encodeURIComponent(`sku "${c.masked}" is not stocked`), `${c.kind}: the trailer, its escapes kept`);
    t.ok(r.redacted.includes('grpc_message') && r.redacted.includes('response.trailers.grpc-message'), `${c.kind}: both in redacted`);
    t.ok(r.redacted.some((p) => p.startsWith('request.body')), `${c.kind}: the request side too`);
    t.ok(r.sensitive.includes(c.kind), `${c.kind}: in sensitive`);
    const shipped = [r.grpc_message, Buffer.from(r.request!.body).toString(), JSON.stringify(r.response?.trailers), JSON.stringify(r.response?.headers)].join('\n');
    t.notOk(shipped.includes(c.secret), `${c.kind}: nowhere in the record`);
  }
});
