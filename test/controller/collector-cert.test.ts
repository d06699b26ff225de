/**
 * The collector's serving certificate, kept by the controller in Secret meshtap-collector-tls
 * against a stand-in API server: created when missing, left alone when good, re-issued when
 * deleted, corrupt, from another CA or near its expiry, and usable as the collector's
 * --tls-cert-dir.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { parseControllerArgs, resolveCollectorCertTarget } from '../../controller/cli.ts';
import {
  COLLECTOR_CERT_RENEW_BEFORE_MS,
  COLLECTOR_CERT_VALIDITY_DAYS,
  checkCollectorSecret,
  collectorDnsNames,
  createCollectorCertPublisher,
  createKubeSecretApi,
} from '../../controller/collector-cert-publisher.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { loadSigningCa } from '../../certs/signing-ca.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { readTlsDir, writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { FakeKubeApi } from './fake-kube-api.ts';
import { until } from './helpers.ts';

const DAY_MS = 86_400_000;
const NAMES = collectorDnsNames('meshtap-collector', 'meshtap-system');
const root = createRootCa({ trustDomain: 'cluster.local' });
const signer = loadSigningCa(root);
const otherRoot = createRootCa({ trustDomain: 'cluster.local' });

function kubeConfigFor(api: FakeKubeApi): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'controller', token: 'test-token' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'controller' }],
    currentContext: 'local',
  });
  return kc;
}

async function setup(t: Test, options: { now?: () => number; checkEveryMs?: number } = {}) {
  const api = new FakeKubeApi();
  api.namespace('meshtap-system');
  await api.start();
  let issued = 0;
  const publisher = createCollectorCertPublisher({
    api: createKubeSecretApi(kubeConfigFor(api)),
    namespace: 'meshtap-system',
    secretName: 'meshtap-collector-tls',
    service: 'meshtap-collector',
    trustBundle: () => signer.trustBundle,
    issue: (dnsNames) => {
      issued++;
      return issueWebhookCert(signer, { service: 'meshtap-collector', namespace: 'meshtap-system', extraDnsNames: [...dnsNames], validityDays: COLLECTOR_CERT_VALIDITY_DAYS, keyBits: 2048, ...(options.now ? { now: new Date(options.now()) } : {}) });
    },
    now: options.now,
    checkEveryMs: options.checkEveryMs,
    retryInitialMs: 20,
    retryMaxMs: 50,
  });
  t.teardown(async () => {
    await publisher.stop();
    await api.close();
  });
  return { api, publisher, issued: () => issued };
}

const secret = (api: FakeKubeApi) => api.secrets.get('meshtap-system/meshtap-collector-tls');
const field = (api: FakeKubeApi, key: string) => Buffer.from(secret(api)?.data?.[key] ?? '', 'base64').toString('utf8');
const writes = (api: FakeKubeApi) => api.calls.filter((c) => c.method !== 'GET').length;

void t.test('created when missing, as a kubernetes.io/tls Secret the collector can use; a good one is left alone', async (t) => {
  const { api, publisher, issued } = await setup(t);
  t.equal(await publisher.check(), 'created');
  const s = secret(api);
  t.equal(s?.type, 'kubernetes.io/tls');
  t.same(s?.metadata.labels, { 'app.kubernetes.io/managed-by': 'meshtap-controller', 'app.kubernetes.io/part-of': 'meshtap' });
  t.ok(api.calls.some((c) => c.method === 'POST' && c.path === '/api/v1/namespaces/meshtap-system/secrets' && c.status === 201), 'created through the API');
  const cert = new X509Certificate(field(api, 'tls.crt'));
  for (const name of NAMES) t.match(cert.subjectAltName, `DNS:${name}`, `names ${name}`);
  t.ok(cert.checkIssued(new X509Certificate(root.cert)) && cert.verify(new X509Certificate(root.cert).publicKey), 'issued by the CA the controller runs');
  t.equal(field(api, 'ca.crt'), signer.trustBundle, 'ca.crt is the mesh trust bundle: what client certificates must chain to');
  const lifetime = Date.parse(cert.validTo) - Date.now();
  t.ok(lifetime > 89 * DAY_MS && lifetime <= 90 * DAY_MS, `valid ${COLLECTOR_CERT_VALIDITY_DAYS} days`);

  // What the collector's --tls-cert-dir gets from the mounted Secret passes its own checks.
  const dir = await mkdtemp(join(tmpdir(), 'meshtap-collector-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeTlsDir(dir, { cert: field(api, 'tls.crt'), key: field(api, 'tls.key'), ca: field(api, 'ca.crt') });
  await t.resolves(readTlsDir(dir), 'key matches, ca.crt issued it');

  const before = writes(api);
  t.equal(await publisher.check(), 'unchanged');
  t.equal(writes(api), before, 'no write when nothing differs');
  t.equal(issued(), 1, 'no certificate issued for nothing');
});

void t.test('re-issued when deleted, corrupt, from another CA or carrying another bundle; a conflicting write is re-read', async (t) => {
  const { api, publisher } = await setup(t);
  await publisher.check();

  api.secrets.delete('meshtap-system/meshtap-collector-tls');
  t.equal(await publisher.check(), 'created', 'deleted: created again');

  const s = secret(api)!;
  s.data = { ...s.data, 'tls.key': Buffer.from('not a key').toString('base64'), 'note.txt': Buffer.from('kept').toString('base64') };
  t.equal(await publisher.check(), 'repaired', 'a corrupt key');
  t.equal(field(api, 'note.txt'), 'kept', 'other keys kept');
  t.equal(checkCollectorSecret(secret(api), { trustBundle: signer.trustBundle, dnsNames: NAMES, nowMs: Date.now(), renewBeforeMs: COLLECTOR_CERT_RENEW_BEFORE_MS }).ok, true);

  const foreign = issueWebhookCert(otherRoot, { service: 'meshtap-collector', namespace: 'meshtap-system' });
  secret(api)!.data = { 'tls.crt': Buffer.from(foreign.cert).toString('base64'), 'tls.key': Buffer.from(foreign.key).toString('base64'), 'ca.crt': Buffer.from(signer.trustBundle).toString('base64') };
  api.failNext('PUT', 409);
  t.equal(await publisher.check(), 'repaired', 'issued by another CA');
  t.ok(api.calls.some((c) => c.method === 'PUT' && c.status === 409), 'a conflict was answered, read again and retried');
  t.ok(new X509Certificate(field(api, 'tls.crt')).checkIssued(new X509Certificate(root.cert)));

  secret(api)!.data!['ca.crt'] = Buffer.from(otherRoot.cert).toString('base64');
  t.equal(await publisher.check(), 'repaired', 'ca.crt is not the mesh bundle');
  t.equal(field(api, 'ca.crt'), signer.trustBundle);

  const wrongNames = issueWebhookCert(signer, { service: 'something-else', namespace: 'meshtap-system' });
  secret(api)!.data = { 'tls.crt': Buffer.from(wrongNames.cert).toString('base64'), 'tls.key': Buffer.from(wrongNames.key).toString('base64'), 'ca.crt': Buffer.from(signer.trustBundle).toString('base64') };
  t.match(checkCollectorSecret(secret(api), { trustBundle: signer.trustBundle, dnsNames: NAMES, nowMs: Date.now(), renewBeforeMs: 0 }), { ok: false, reason: 'wrong-names' });
  t.equal(await publisher.check(), 'repaired', 'names another Service');
});

void t.test('renewed a third of its lifetime before expiry, not earlier', async (t) => {
  let now = Date.now();
  const { api, publisher } = await setup(t, { now: () => now });
  await publisher.check();
  const first = new X509Certificate(field(api, 'tls.crt')).serialNumber;
  now += 59 * DAY_MS;
  t.equal(await publisher.check(), 'unchanged', '31 days left: kept');
  now += 2 * DAY_MS;
  t.equal(await publisher.check(), 'renewed', '29 days left: renewed');
  const renewed = new X509Certificate(field(api, 'tls.crt'));
  t.not(renewed.serialNumber, first);
  t.ok(Date.parse(renewed.validTo) > now + 89 * DAY_MS, 'a full lifetime from then');
});

void t.test('running: checks periodically, so a deleted Secret comes back by itself; API failures are retried', async (t) => {
  const { api, publisher } = await setup(t, { checkEveryMs: 50 });
  api.failNext('POST', 500);
  publisher.start();
  await until(() => secret(api) !== undefined, 'the Secret after a failed first create');
  t.ok(api.calls.some((c) => c.method === 'POST' && c.status === 500), 'the failure happened');
  api.secrets.delete('meshtap-system/meshtap-collector-tls');
  await until(() => secret(api) !== undefined, 'the deleted Secret re-created');
  t.equal(publisher.last(), 'created');
});

void t.test('flags and variables: names, defaults, and the switch', async (t) => {
  const base = ['--webhook-cert-dir', 'w', '--ca-dir', 'c'];
  const d = parseControllerArgs(base);
  if (d === 'help') throw new Error('unexpected');
  t.equal(d.collectorCert, true, 'on by default (used whenever the controller has cluster access)');
  t.same(resolveCollectorCertTarget(d, {}), { secretName: 'meshtap-collector-tls', namespace: 'meshtap-system', service: 'meshtap-collector' });
  t.same(resolveCollectorCertTarget(d, { MESHTAP_COLLECTOR_TLS_SECRET: 'ingest-tls', MESHTAP_COLLECTOR_NAMESPACE: 'obs', MESHTAP_COLLECTOR_SERVICE: 'col' }), { secretName: 'ingest-tls', namespace: 'obs', service: 'col' });
  const flagged = parseControllerArgs([...base, '--collector-tls-secret', 'a', '--collector-namespace', 'b', '--collector-service', 'c']);
  if (flagged === 'help') throw new Error('unexpected');
  t.same(resolveCollectorCertTarget(flagged, { MESHTAP_COLLECTOR_NAMESPACE: 'obs' }), { secretName: 'a', namespace: 'b', service: 'c' }, 'flags win');
  t.throws(() => resolveCollectorCertTarget(d, { MESHTAP_COLLECTOR_NAMESPACE: 'Not_A_Name' }), { code: 'CLI_ERR_USAGE', message: /MESHTAP_COLLECTOR_NAMESPACE \(or --collector-namespace\) must be a Kubernetes name/ });
  t.throws(
    () => parseControllerArgs(base, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', MESHTAP_COLLECTOR_NAMESPACE: 'Not_A_Name', MESHTAP_COLLECTOR_SERVICE: '-x' }),
    {
      code: 'CLI_ERR_USAGE',
      message:
        'meshtap controller: MESHTAP_COLLECTOR_NAMESPACE (or --collector-namespace) must be a Kubernetes name (lower-case letters, digits and \'-\', at most 63), got "Not_A_Name"; ' +
        'MESHTAP_COLLECTOR_SERVICE (or --collector-service) must be a Kubernetes name (lower-case letters, digits and \'-\', at most 63), got "-x"',
    },
    'bad variables are usage errors of the command line, both named',
  );
  t.match(parseControllerArgs([...base, '--collector-namespace', 'obs'], { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', MESHTAP_COLLECTOR_NAMESPACE: 'Not_A_Name' }), { collectorNamespace: 'obs' }, 'a flag overrides a bad variable');
  t.match(parseControllerArgs([...base, '--no-collector-cert']), { collectorCert: false });
  t.throws(() => parseControllerArgs([...base, '--no-collector-cert', '--collector-service', 'x']), { code: 'CLI_ERR_USAGE', message: /--no-collector-cert/ });
  t.throws(() => parseControllerArgs([...base, '--collector-tls-secret', 'UPPER']), { code: 'CLI_ERR_USAGE', message: /--collector-tls-secret must be a Kubernetes name/ });
});
