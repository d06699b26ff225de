import t from 'tap';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createSidecarStats } from '../../../sidecar/metrics.ts';
import type { CallRecord } from '../../../record/record.ts';
import type { ConnectionMeta } from '../../../sidecar/proxy/connection.ts';
import { createConnectionIdSource } from '../../../sidecar/proxy/connection-id.ts';
import { createRecordMasker } from '../../../sidecar/proxy/masking.ts';
import { buildCallRecord, recordId } from '../../../sidecar/proxy/record-builder.ts';
import { createRecordSink } from '../../../sidecar/proxy/record-sink.ts';

const local = { pod: 'frontend', namespace: 'shop', node: 'node-a' };
const exchange: Exchange = {
  protocol: 'http',
  ordinal: 2,
  start: 1_700_000_000_000_000_000n,
  end: 1_700_000_000_003_500_000n,
  method: 'POST',
  path: '/login',
  status_code: 200,
  request: {
    headers: { authorization: 'Basic dXNlcjpwYXNz', 'content-type': 'application/json' },
    body: Buffer.from('{"user":"ann","password":"hunter2"}'),
    body_size: 35,
    truncated: false,
  },
  bytes_out: 120,
  bytes_in: 80,
};
const meta = (observer: 'outbound' | 'inbound'): ConnectionMeta => ({
  connectionId: '0123456789abcdef',
  observer,
  mesh: false,
  client: { ip: '10.244.1.7', port: 40000 },
  dst: { ip: '10.244.2.9', port: 8080 },
});

void t.test('outbound: the local pod is the source', async (t) => {
  const record = buildCallRecord(exchange, meta('outbound'), local);
  t.match(record, {
    id: '0123456789abcdef-o2',
    observer: 'outbound',
    connection_id: '0123456789abcdef',
    ordinal: 2,
    elapsed_us: 3500,
    src: { ip: '10.244.1.7', port: 40000, pod: 'frontend', namespace: 'shop', node: 'node-a' },
    dst: { ip: '10.244.2.9', port: 8080 },
    tls: { mesh: false },
    method: 'POST',
    redacted: [],
    sensitive: [],
  });
  t.equal(record.dst.pod, undefined);
});

void t.test('inbound: the local pod is the destination; ids differ by observer', async (t) => {
  const record = buildCallRecord(exchange, meta('inbound'), { pod: 'payment', namespace: 'shop' });
  t.match(record.src, { ip: '10.244.1.7', port: 40000 });
  t.equal(record.src.pod, undefined);
  t.same(record.dst, { ip: '10.244.2.9', port: 8080, pod: 'payment', namespace: 'shop' });
  t.equal(record.id, '0123456789abcdef-i2');
  t.not(recordId(meta('inbound'), 0), recordId(meta('outbound'), 0));
});

void t.test("the parser's notes reach the record; without notes there is no notes field", async (t) => {
  const noted = buildCallRecord({ ...exchange, notes: ['expect: 100-continue', '100-continue'] }, meta('inbound'), local);
  t.same(noted.notes, ['expect: 100-continue', '100-continue']);
  t.notOk('notes' in buildCallRecord(exchange, meta('inbound'), local));
});

void t.test('the sink masks before offering and counts every outcome', async (t) => {
  const stats = createSidecarStats();
  const offered: CallRecord[] = [];
  const sink = createRecordSink({ local, stats, mask: createRecordMasker(), offer: (r) => (offered.push(r), offered.length < 2) });
  sink(exchange, meta('outbound'));
  sink(exchange, meta('outbound'));
  t.equal(stats.records.emitted, 2);
  t.equal(stats.records.offered, 1, 'a refused offer is not counted as offered (the shipper counts its drop)');
  t.notMatch(Buffer.from(offered[0].request!.body).toString(), /hunter2/, 'password masked');
  t.not(offered[0].request!.headers.authorization, 'Basic dXNlcjpwYXNz', 'authorization masked');
  t.ok(offered[0].redacted.length >= 2, `redacted: ${offered[0].redacted.join(', ')}`);
});

void t.test('without a collector records are dropped as no_collector', async (t) => {
  const stats = createSidecarStats();
  const sink = createRecordSink({ local, stats, mask: (r) => r, offer: undefined });
  sink(exchange, meta('inbound'));
  t.same(stats.records, { emitted: 1, offered: 0, dropped: { no_collector: 1 } });
});

void t.test('a masking failure drops the record instead of shipping it unmasked', async (t) => {
  const stats = createSidecarStats();
  const failures: string[] = [];
  const offered: CallRecord[] = [];
  const sink = createRecordSink({
    local,
    stats,
    mask: () => {
      throw new Error('mask bug');
    },
    offer: (r) => (offered.push(r), true),
    onFailure: (stage) => failures.push(stage),
  });
  t.doesNotThrow(() => sink(exchange, meta('outbound')));
  t.same(offered, []);
  t.same(stats.records.dropped, { mask_error: 1 });
  t.same(failures, ['mask']);
});

void t.test('connection ids: the second they were taken, then 16 random hex digits; unique, pooled randomness', async (t) => {
  let calls = 0;
  let now = 1_764_000_000_999;
  const next = createConnectionIdSource(
    (n) => {
      calls++;
      return Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + calls) & 0xff));
    },
    () => now,
  );
  const ids = Array.from({ length: 600 }, next);
  t.ok(ids.every((id) => /^[0-9a-f]{24}$/.test(id)), 'hex, 24 digits');
  t.ok(ids.every((id) => id.startsWith((1_764_000_000).toString(16))), 'the Unix second first');
  t.equal(ids[0].slice(8), '0108' + '0f16' + '1d24' + '2b32', 'then the pool\'s bytes');
  t.equal(calls, 3, 'one random draw per 256 ids');
  now += 1000;
  const later = next();
  t.ok(ids.every((id) => id < later), 'an id of a later second sorts after every earlier one');
  const real = createConnectionIdSource();
  t.equal(new Set(Array.from({ length: 10_000 }, real)).size, 10_000);
  t.match(real(), new RegExp(`^${Math.floor(Date.now() / 1000).toString(16).slice(0, 6)}`), 'the real clock');
});
