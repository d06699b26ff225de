/**
 * The ingest port serves a renewed certificate without a restart: the collector re-reads its
 * TLS directory, takes a valid new set for new handshakes, and keeps the last good set (with
 * a warning) when the directory holds a broken one.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import t from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { signWorkloadCsr } from '../../certs/workload-cert.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';
import { startCollector } from '../../collector/collector.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { createSinkLogger } from '../../lib/log.ts';
import { tlsDirPaths, writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { waitFor } from './helpers.ts';

const dir = await mkdtemp(join(tmpdir(), 'meshtap-ingest-reload-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const ca = createRootCa({ trustDomain: 'cluster.local' });
const tlsDir = join(dir, 'tls');
const serving = () => issueWebhookCert(ca, { service: 'meshtap-collector', namespace: 'meshtap-system' });
const first = serving();
await writeTlsDir(tlsDir, first);

const { keyPem, csrPem } = createWorkloadCsr();
const client = signWorkloadCsr(ca, csrPem, { spiffeId: 'spiffe://cluster.local/ns/shop/sa/web' });

/** The serial of the certificate a fresh TLS handshake with the ingest port is shown. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert, key: keyPem, cert: client.cert, ALPNProtocols: ['h2'], servername: 'meshtap-collector.meshtap-system.svc' });
    socket.once('secureConnect', () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      socket.destroy();
      resolve(cert.serialNumber.toLowerCase());
    });
    socket.once('error', reject);
  });
}

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber.toLowerCase();

void t.test('a renewed certificate is served to new handshakes; a broken set is refused and the last good one kept', async (t) => {
  const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const config = resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', tlsCertDir: tlsDir });
  const collector = await startCollector(config, { log: createSinkLogger((_l, msg, fields) => lines.push({ msg, fields })), tlsReloadIntervalMs: 50 });
  t.teardown(() => collector.close({ force: true }));

  t.equal(await servedSerial(collector.grpcPort), serialOf(first.cert), 'the first certificate at start');

  const renewed = serving();
  await writeTlsDir(tlsDir, renewed, { overwrite: true });
  await waitFor('the renewed certificate served', async () => (await servedSerial(collector.grpcPort)) === serialOf(renewed.cert));
  t.ok(lines.some((l) => l.msg === 'ingest certificate reloaded'), 'the reload is logged');

  // (writeTlsDir renames each file in turn: a check between two renames may have warned once.)
  const unusable = () => lines.filter((l) => l.msg.startsWith('ingest certificate directory unusable'));
  const warnedBefore = unusable().length;
  // A certificate whose key is not in the directory: refused, the renewed set stays. Written
  // aside and renamed in, as a Secret volume swaps its files, so no read sees half a file.
  const aside = join(dir, 'tls.crt.new');
  await writeFile(aside, serving().cert);
  await rename(aside, tlsDirPaths(tlsDir).cert);
  await waitFor('the broken set reported', () => unusable().length > warnedBefore);
  t.equal(await servedSerial(collector.grpcPort), serialOf(renewed.cert), 'still the last good certificate');
  const warning = unusable().at(-1);
  t.match(String(warning?.fields?.detail), /does not belong to the certificate/, 'the warning says why');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(unusable().length, warnedBefore + 1, 'logged once, not every interval');
});
