import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { buildLokiEntry } from '../../../collector/loki/entry.ts';
import { encodePush, encodePushRequest, groupStreams } from '../../../collector/loki/push-encode.ts';
import { PushRequest, parseLabels, snappyDecode } from './loki-receiver.ts';
import { inboundPayment502, outboundGrpcCatalog, outboundRedisExternal } from './records.ts';

const entries = () => {
  const a = inboundPayment502();
  const b = { ...inboundPayment502(), id: 'second', start: a.start - 1_000_000_000n, status_code: 200 };
  return [a, outboundGrpcCatalog(), b, outboundRedisExternal()].map((r) => buildLokiEntry(r, { cluster: 'meshtap' }));
};

void t.test('streams grouped by labels, oldest entry first', async (t) => {
  const streams = groupStreams(entries());
  t.same(
    streams.map((s) => s.stream),
    [
      '{cluster="meshtap", namespace="shop", workload="payment", protocol="http"}',
      '{cluster="meshtap", namespace="shop", workload="frontend", protocol="grpc"}',
      '{cluster="meshtap", namespace="shop", workload="gateway", protocol="redis"}',
    ],
  );
  t.same(streams[0].entries.map((e) => JSON.parse(e.line).id), ['second', 'c0ffee00-0000-4000-8000-000000000001']);
});

void t.test('protobuf push decodes with Loki\'s logproto.PushRequest after snappy', async (t) => {
  const batch = entries();
  const push = await encodePush(batch, 'protobuf');
  t.same(push.headers, { 'content-type': 'application/x-protobuf' });
  t.equal(push.entries, 4);
  const raw = snappyDecode(push.body);
  t.same(Buffer.from(raw), Buffer.from(encodePushRequest(groupStreams(batch))), 'snappy round trip is exact');
  t.ok(push.body.byteLength < raw.byteLength / 2, 'compressed, with back-references');
  const msg = PushRequest.toObject(PushRequest.decode(raw), { longs: String, defaults: true }) as any;
  t.equal(msg.streams.length, 3);
  const payment = msg.streams[0];
  t.same(parseLabels(payment.labels), { cluster: 'meshtap', namespace: 'shop', workload: 'payment', protocol: 'http' });
  const e = payment.entries[1];
  t.same(e.timestamp, { seconds: '1767225600', nanos: 123456789 });
  t.equal(e.line, batch[0].line);
  t.same(
    e.structuredMetadata.map((p: { name: string; value: string }) => [p.name, p.value]),
    batch[0].metadata.map(([k, v]) => [k, v]),
  );
  t.same(payment.entries[0].timestamp, { seconds: '1767225599', nanos: 123456789 });
  const redis = msg.streams[2].entries[0];
  t.same(redis.structuredMetadata.map((p: { name: string }) => p.name), ['observer', 'call_id', 'pod']);
});

void t.test('timestamps at whole seconds and at zero survive proto3 zero-omission', async (t) => {
  const r = inboundPayment502();
  const whole = buildLokiEntry({ ...r, start: 1_767_225_600_000_000_000n }, { cluster: 'meshtap' });
  const zero = buildLokiEntry({ ...r, id: 'z', start: 0n }, { cluster: 'meshtap' });
  const msg = PushRequest.toObject(PushRequest.decode(encodePushRequest(groupStreams([whole, zero]))), { longs: String, defaults: true }) as any;
  t.same(msg.streams[0].entries.map((e: any) => e.timestamp), [
    { seconds: '0', nanos: 0 },
    { seconds: '1767225600', nanos: 0 },
  ]);
});

void t.test('JSON push: gzip, labels object, [ns, line, metadata]', async (t) => {
  const batch = entries();
  const push = await encodePush(batch, 'json');
  t.same(push.headers, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  const doc = JSON.parse(gunzipSync(push.body).toString('utf8'));
  t.equal(doc.streams.length, 3);
  t.same(doc.streams[0].stream, { cluster: 'meshtap', namespace: 'shop', workload: 'payment', protocol: 'http' });
  const [ts, line, meta] = doc.streams[0].values[1];
  t.equal(ts, '1767225600123456789');
  t.equal(line, batch[0].line);
  t.same(meta, Object.fromEntries(batch[0].metadata));
  t.equal(doc.streams[2].values[0].length, 3);
});
