/**
 * gRPC ingest over mTLS: a collector started with a TLS directory from a temporary CA, and
 * shippers with the sidecar's credential provider (`createCollectorCredentials`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import t, { type Test } from 'tap';
import type { CertBundle } from '../../lib/tls/cert-bundle.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { signWorkloadCsr } from '../../certs/workload-cert.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';
import { startCollector, type RunningCollector } from '../../collector/collector.ts';
import { resolveCollectorConfig, resolveCollectorOptions } from '../../collector/config.ts';
import { createSinkLogger, type LogLevel } from '../../lib/log.ts';
import type { CurrentIdentity } from '../../sidecar/identity/workload-identity.ts';
import { createCollectorCredentials, type CollectorTransport } from '../../sidecar/shipper/collector-credentials.ts';
import { createShipper, type ShipperDeps } from '../../sidecar/shipper/create-shipper.ts';
import type { Shipper } from '../../sidecar/shipper/shipper.ts';
import { fullRecord } from '../proto/record-fixtures.ts';
import { waitFor } from './helpers.ts';

const SERVER_NAME = 'meshtap-collector.meshtap-system.svc';
const ID = 'spiffe://cluster.local/ns/shop/sa/frontend';

const dir = await mkdtemp(join(tmpdir(), 'meshtap-ingest-mtls-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const ca = createRootCa({ trustDomain: 'cluster.local' });
const otherCa = createRootCa({ trustDomain: 'cluster.local' });
// The collector's serving certificate names its Service; the shipper dials an IP and checks that name.
const tlsDir = join(dir, 'collector-tls');
await writeTlsDir(tlsDir, issueWebhookCert(ca, { service: 'meshtap-collector', namespace: 'meshtap-system' }));

function identityFrom(issuer: CertBundle, spiffeId = ID): CurrentIdentity {
  const { keyPem, csrPem } = createWorkloadCsr();
  const cert = signWorkloadCsr(issuer, csrPem, { spiffeId });
  return {
    spiffeId,
    serialNumber: cert.serialNumber,
    notAfterMs: cert.notAfter.getTime(),
    secureContext: createSecureContext({ key: keyPem, cert: cert.cert, ca: issuer.cert }),
    keyPem,
    certPem: cert.cert,
    // The client verifies the collector with the mesh's roots, whoever signed its own certificate.
    trustBundlePem: ca.cert,
  };
}

interface LogLine {
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

async function mtlsCollector(t: Test, grpcPort = 0): Promise<{ collector: RunningCollector; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const config = resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort, httpPort: 0, store: 'memory', tlsCertDir: tlsDir });
  const collector = await startCollector(config, { log: createSinkLogger((level, msg, fields) => lines.push({ level, msg, fields })) });
  t.teardown(() => collector.close({ force: true }));
  return { collector, lines };
}

const shipperOptions = (port: number) => ({
  collectorAddr: `127.0.0.1:${port}`,
  sidecar: { pod: 'frontend-1', namespace: 'shop', sidecar_version: 'test' },
  batchLingerMs: 5,
  backoffBaseMs: 20,
  backoffCapMs: 200,
  connectTimeoutMs: 2000,
  // Small, so a refused shipper fills its queue quickly and drops as collector_unavailable.
  maxQueueBytes: 64 * 1024,
  batchMaxBytes: 32 * 1024,
});

function ship(t: Test, port: number, deps: ShipperDeps): Shipper {
  const shipper = createShipper(shipperOptions(port), deps);
  t.teardown(() => shipper.close({ drainMs: 0 }));
  return shipper;
}

/** Offers `count` records; returns the slowest single offer() in ms. */
/** Offers records `from`..`from + count - 1`; how long all the offers took (ms). */
function offerMany(shipper: Shipper, from: number, count: number): number {
  const started = performance.now();
  for (let i = from; i < from + count; i++) shipper.offer(fullRecord(i));
  return performance.now() - started;
}

void t.test('config: --tls-cert-dir and MESHTAP_COLLECTOR_TLS_CERT_DIR', async (t) => {
  t.equal(resolveCollectorConfig({ 'tls-cert-dir': '/a' }, { MESHTAP_COLLECTOR_TLS_CERT_DIR: '/b' }).tlsCertDir, '/a', 'the flag wins');
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_TLS_CERT_DIR: '/b' }).tlsCertDir, '/b');
  t.equal(resolveCollectorConfig({}, {}).tlsCertDir, undefined, 'plaintext by default');
  const config = resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', tlsCertDir: join(dir, 'missing') });
  await t.rejects(startCollector(config), { code: 'COL_ERR_TLS', message: /--tls-cert-dir .*missing.*tls\.crt/ }, 'a missing directory fails the start, naming it');
});

void t.test('a shipper with a workload certificate from the CA ships over mTLS; the stream names its identity', async (t) => {
  const { collector, lines } = await mtlsCollector(t);
  t.equal(collector.ingestSecurity, 'mtls');
  const identity = identityFrom(ca);
  const changes: CollectorTransport[] = [];
  const creds = createCollectorCredentials({ mode: 'auto', collectorAddr: `127.0.0.1:${collector.grpcPort}`, serverName: SERVER_NAME, identity: () => identity, onChange: (c) => changes.push(c) });
  t.equal(creds.serverNameOverride, SERVER_NAME, 'an IP address: the service name is checked');
  t.equal((await creds.credentials())?.servername, SERVER_NAME, 'and the TLS options carry it');
  const shipper = ship(t, collector.grpcPort, { credentials: creds.credentials });
  offerMany(shipper, 0, 50);
  await waitFor('50 shipped', () => shipper.stats().shipped === 50);
  t.equal(await collector.store.count(), 50, 'the records are stored');
  t.equal(shipper.stats().droppedTotal, 0);
  const streams = lines.filter((l) => l.msg === 'ingest stream');
  t.equal(streams.length, 1, 'one stream');
  t.match(streams[0].fields, { spiffe_id: ID, serial: identity.serialNumber.toLowerCase() }, 'the collector saw the workload certificate');
  t.same(changes, [{ transport: 'mtls', spiffeId: ID, serial: identity.serialNumber }], 'the sidecar is told it ships over mTLS');

  // The HTTP API is unchanged: plain HTTP.
  const res = await fetch(`http://127.0.0.1:${collector.httpPort}/api/calls?limit=1`);
  t.equal(res.status, 200, 'the API still answers over plain HTTP');
});

void t.test('refused: plaintext, TLS without a client certificate, a certificate from another CA', async (t) => {
  const { collector, lines } = await mtlsCollector(t);
  const addr = `127.0.0.1:${collector.grpcPort}`;
  const foreign = identityFrom(otherCa);
  const cases: Record<string, ShipperDeps> = {
    // auto before any identity: plaintext, which the collector does not speak.
    'plaintext (auto without a certificate)': { credentials: createCollectorCredentials({ mode: 'auto', collectorAddr: addr, serverName: SERVER_NAME, identity: () => undefined }).credentials },
    'TLS without a client certificate': { credentials: { ca: ca.cert, servername: SERVER_NAME } },
    'a client certificate from another CA': (() => {
      const c = createCollectorCredentials({ mode: 'on', collectorAddr: addr, serverName: SERVER_NAME, identity: () => foreign });
      return { credentials: c.credentials };
    })(),
    'mode on without a certificate (no attempt at all)': (() => {
      const c = createCollectorCredentials({ mode: 'on', collectorAddr: addr, serverName: SERVER_NAME, identity: () => undefined });
      return { credentials: c.credentials };
    })(),
  };
  for (const [what, deps] of Object.entries(cases)) {
    const shipper = ship(t, collector.grpcPort, deps);
    // An offer that waited for a connection or a handshake would take seconds for the 200; a
    // bound per offer would measure the machine's pauses instead.
    const took = offerMany(shipper, 0, 200);
    t.ok(took < 2000, `${what}: offer() never blocks (200 offers in ${took.toFixed(1)} ms)`);
    await waitFor(`${what}: dropped as collector_unavailable`, () => shipper.stats().dropped.collector_unavailable > 0);
    await waitFor(`${what}: attempts failed`, () => shipper.stats().connectFailures + shipper.stats().streamBreaks >= 2);
    const stats = shipper.stats();
    t.equal(stats.shipped, 0, `${what}: nothing shipped`);
    t.equal(stats.offered, stats.shipped + stats.droppedTotal + stats.queueRecords + stats.inFlightRecords, `${what}: every record accounted for`);
    await shipper.close({ drainMs: 0 });
  }
  t.equal(await collector.store.count(), 0, 'the collector stored nothing');
  t.equal(lines.filter((l) => l.msg === 'ingest stream').length, 0, 'no stream was ever opened');
});

void t.test('rotation: after the stream breaks, the new stream presents the new certificate', async (t) => {
  const first = await mtlsCollector(t);
  const port = first.collector.grpcPort;
  let identity = identityFrom(ca);
  const firstSerial = identity.serialNumber;
  const creds = createCollectorCredentials({ mode: 'auto', collectorAddr: `127.0.0.1:${port}`, serverName: SERVER_NAME, identity: () => identity });
  const shipper = ship(t, port, { credentials: creds.credentials });
  offerMany(shipper, 0, 10);
  await waitFor('first records shipped', () => shipper.stats().shipped === 10);
  t.match(first.lines.find((l) => l.msg === 'ingest stream')?.fields, { serial: firstSerial.toLowerCase() });

  identity = identityFrom(ca);
  t.not(identity.serialNumber, firstSerial, 'a new certificate');
  // The open stream keeps its certificate: only a new connection picks the new one.
  offerMany(shipper, 10, 5);
  await waitFor('shipped on the old stream', () => shipper.stats().shipped === 15);
  t.equal(first.lines.filter((l) => l.msg === 'ingest stream').length, 1, 'still the first stream');

  await first.collector.close({ force: true });
  const second = await mtlsCollector(t, port);
  offerMany(shipper, 15, 10);
  await waitFor('records shipped to the restarted collector', async () => (await second.collector.store.count()) >= 10);
  const streams = second.lines.filter((l) => l.msg === 'ingest stream');
  t.ok(streams.length >= 1, 'a new stream');
  t.ok(
    streams.every((l) => l.fields?.serial === identity.serialNumber.toLowerCase()),
    'the new stream presented the rotated certificate',
  );
});

void t.test('a forged identity: records whose observing end is not the stream\'s workload are rejected and counted', async (t) => {
  const { collector, lines } = await mtlsCollector(t);
  const identity = identityFrom(ca);
  const creds = createCollectorCredentials({ mode: 'on', collectorAddr: `127.0.0.1:${collector.grpcPort}`, serverName: SERVER_NAME, identity: () => identity });
  const shipper = ship(t, collector.grpcPort, { credentials: creds.credentials });
  const own = fullRecord(1);
  const otherIdentity = { ...fullRecord(2), src: { ...fullRecord(2).src, identity: 'spiffe://cluster.local/ns/payments/sa/payment' } };
  const otherNamespace = { ...fullRecord(3), src: { ...fullRecord(3).src, identity: undefined, namespace: 'payments' } };
  // Inbound: the observing end is the server; the client may be anyone.
  const inbound = { ...fullRecord(4), observer: 'inbound' as const, src: { ...fullRecord(4).src, identity: 'spiffe://cluster.local/ns/ops/sa/cron', namespace: 'ops' }, dst: { ...fullRecord(4).dst, identity: ID, namespace: 'shop' } };
  const inboundForged = { ...inbound, id: 'rec-5', dst: { ...inbound.dst, identity: 'spiffe://cluster.local/ns/payments/sa/payment', namespace: 'payments' } };
  for (const r of [own, otherIdentity, otherNamespace, inbound, inboundForged]) shipper.offer(r);
  await waitFor('all five acked', () => shipper.stats().shipped + shipper.stats().droppedTotal >= 5);
  const stored = (await collector.store.list({ limit: 10 })).map((r) => r.id).sort();
  t.same(stored, ['rec-1', 'rec-4'], 'only records the stream\'s workload observed are stored');
  const rejected = await collector.metrics.registry.getSingleMetric('meshtap_collector_records_rejected_total')!.get();
  t.equal(rejected.values.find((v) => v.labels.reason === 'identity_mismatch')?.value, 3, 'the forgeries are counted');
  t.ok(lines.some((l) => l.msg === 'record rejected' && (l.fields as { reason?: string }).reason === 'identity_mismatch'), 'and logged');
});
