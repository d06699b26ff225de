/**
 * Record → Loki entry against golden files in test/fixtures/loki/ (`<case>.entry.json`).
 * Refresh with MESHTAP_UPDATE_GOLDEN=1; a golden without a case fails.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { CallRecord } from '../../../record/record.ts';
import { buildLokiEntry, formatLabels, LOKI_LABEL_NAMES, sanitizeLabelValue, type LokiEntry } from '../../../collector/loki/entry.ts';
import { inboundOddNames, inboundPayment502, outboundGrpcCatalog, outboundRedisExternal } from './records.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/loki');
const UPDATE = process.env.MESHTAP_UPDATE_GOLDEN === '1';

const cases: Record<string, () => CallRecord> = {
  'inbound-http-502': inboundPayment502,
  'outbound-grpc-binary': outboundGrpcCatalog,
  'outbound-redis-external': outboundRedisExternal,
  'inbound-odd-names': inboundOddNames,
};

function view(entry: LokiEntry): unknown {
  return {
    stream: entry.stream,
    labels: entry.labels,
    timestampNs: entry.timestampNs,
    metadata: Object.fromEntries(entry.metadata),
    truncated: entry.truncated,
    line: JSON.parse(entry.line),
  };
}

for (const [name, make] of Object.entries(cases)) {
  void t.test(name, async (t) => {
    const entry = buildLokiEntry(make(), { cluster: 'meshtap' });
    t.equal(JSON.stringify(JSON.parse(entry.line)), entry.line, 'the line is canonical JSON');
    t.same(Object.keys(entry.labels), [...LOKI_LABEL_NAMES], 'exactly the bounded labels');
    const text = JSON.stringify(view(entry), null, 2) + '\n';
    const file = path.join(FIXTURES, `${name}.entry.json`);
    if (UPDATE) writeFileSync(file, text);
    t.equal(text, readFileSync(file, 'utf8'), `matches ${path.basename(file)}`);
  });
}

void t.test('no stale goldens', async (t) => {
  const expected = Object.keys(cases).map((n) => `${n}.entry.json`).sort();
  const present = readdirSync(FIXTURES).filter((f) => f.endsWith('.entry.json')).sort();
  t.same(present, expected);
});

void t.test('labels: the observing side, never per-call values', async (t) => {
  const inbound = buildLokiEntry(inboundPayment502(), { cluster: 'meshtap' });
  t.same(inbound.labels, { cluster: 'meshtap', namespace: 'shop', workload: 'payment', protocol: 'http' });
  const asOutbound = buildLokiEntry({ ...inboundPayment502(), observer: 'outbound' }, { cluster: 'c1' });
  t.same(asOutbound.labels, { cluster: 'c1', namespace: 'shop', workload: 'frontend', protocol: 'http' });
  const meta = Object.fromEntries(asOutbound.metadata);
  t.equal(meta.pod, 'frontend-6d8f9c7b5-x2k4q');
  t.equal(meta.peer_workload, 'payment');
  for (const value of Object.values(inbound.labels)) {
    t.notMatch(value, /payment-5c9b|98431|c0ffee|4bf92f/, 'no pod, path, id or trace in labels');
  }
  const unknownSide = buildLokiEntry({ ...outboundRedisExternal(), src: { ip: '10.244.0.9', port: 1 } }, { cluster: 'meshtap' });
  t.same(unknownSide.labels, { cluster: 'meshtap', namespace: 'unknown', workload: 'unknown', protocol: 'redis' });
});

void t.test('label values are sanitized and escaped', async (t) => {
  t.equal(sanitizeLabelValue(' a"b\\c\nd '), 'a_b_c_d');
  t.equal(sanitizeLabelValue(''), 'unknown');
  t.equal(sanitizeLabelValue('x'.repeat(500)).length, 128);
  t.equal(formatLabels({ a: 'q"u\\o\nte' }), '{a="q\\"u\\\\o\\nte"}');
});

void t.test('timestamp is the record start in ns, metadata bounded', async (t) => {
  const r = inboundPayment502();
  r.path = '/x/' + 'y'.repeat(1000);
  const e = buildLokiEntry(r, { cluster: 'meshtap' });
  t.equal(e.timestampNs, '1767225600123456789');
  const route = Object.fromEntries(e.metadata).route;
  t.ok(route.length <= 256);
  t.ok(e.bytes >= Buffer.byteLength(e.line), 'entry bytes cover the line');
});

void t.test('a line over the limit is cut in the entry too', async (t) => {
  const r = inboundPayment502();
  r.response = { ...r.response!, body: new TextEncoder().encode('z'.repeat(10_000)) };
  const e = buildLokiEntry(r, { cluster: 'meshtap', maxLineBytes: 5000 });
  t.equal(e.truncated, true);
  t.ok(Buffer.byteLength(e.line) <= 5000);
  t.equal(JSON.parse(e.line).truncated_for_loki, true);
});

void t.test('metadata of decoded protocols: the error and the database\'s own status code', async (t) => {
  const wrongType = buildLokiEntry({ ...outboundRedisExternal(), error: 'server_error', error_detail: 'WRONGTYPE Operation against a key holding the wrong kind of value' }, { cluster: 'meshtap' });
  t.match(Object.fromEntries(wrongType.metadata), { error: 'server_error', db_status: 'WRONGTYPE' });
  const sql = buildLokiEntry(
    { ...outboundRedisExternal(), protocol: 'postgres', error: 'server_error', response: { headers: { sqlstate: '42P01' }, body: new Uint8Array(0), body_size: 0, truncated: false } },
    { cluster: 'meshtap' },
  );
  t.match(Object.fromEntries(sql.metadata), { error: 'server_error', db_status: '42P01' });
  t.equal(Object.fromEntries(buildLokiEntry(inboundPayment502(), { cluster: 'meshtap' }).metadata).db_status, undefined, 'HTTP has none');
});
