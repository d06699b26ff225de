import { runMeshtap, type Proc } from '../helpers/run-meshtap.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import t, { type Test } from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { CA_BUNDLE_LABEL, planCaBundlePatch, syncWebhookCaBundle } from '../../webhook/bootstrap.ts';
import { KubeApiError, createKubeClient, createNamespaceLookup, resolveInClusterKubeOptions } from '../../lib/kube/kube-client.ts';

const ca = createRootCa();
const apiCert = issueWebhookCert(ca, { extraDnsNames: ['localhost'], extraIps: ['127.0.0.1'] });
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.test-token.signature';
const MWC = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/';

function webhookEntry(name: string, caBundle?: string): Record<string, unknown> {
  return {
    name,
    clientConfig: { service: { namespace: 'meshtap-system', name: 'meshtap-controller', path: '/mutate', port: 443 }, ...(caBundle ? { caBundle } : {}) },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
    failurePolicy: 'Ignore',
    matchPolicy: 'Equivalent',
    namespaceSelector: { matchLabels: { 'meshtap.io/inject': 'enabled' } },
    objectSelector: {},
    sideEffects: 'None',
    timeoutSeconds: 5,
    admissionReviewVersions: ['v1'],
    reinvocationPolicy: 'IfNeeded',
  };
}

function webhookConfig(labels: Record<string, string>, caBundle?: string): Record<string, any> {
  return {
    kind: 'MutatingWebhookConfiguration',
    apiVersion: 'admissionregistration.k8s.io/v1',
    metadata: {
      name: 'meshtap',
      uid: '0f5c2b7e-8d3a-4e1f-9b6c-5a4d3e2f1a0b',
      resourceVersion: '1834',
      generation: 1,
      creationTimestamp: '2025-01-10T09:00:00Z',
      labels,
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    },
    webhooks: [webhookEntry('namespaces.inject.meshtap.io', caBundle), webhookEntry('pods.inject.meshtap.io', caBundle)],
  };
}

function namespaceObject(name: string, labels: Record<string, string>, annotations: Record<string, string> = {}) {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: { name, uid: `uid-${name}`, resourceVersion: '17', creationTimestamp: '2025-01-10T09:00:00Z', labels: { 'kubernetes.io/metadata.name': name, ...labels }, annotations },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

interface FakeApi {
  port: number;
  url: string;
  server: Server;
  configs: Map<string, Record<string, any>>;
  namespaces: Map<string, Record<string, any>>;
  requests: { method: string; path: string; contentType?: string; auth?: string; body?: any }[];
  /** Answer every request with this status (a broken API server). */
  failWith?: number;
  /** Called before a PATCH is applied (to simulate a concurrent writer). */
  beforePatch?: (obj: Record<string, any>) => void;
}

async function startFakeApi(t: Test): Promise<FakeApi> {
  const api = { configs: new Map(), namespaces: new Map(), requests: [] } as unknown as FakeApi;
  const server = createServer({ cert: apiCert.cert, key: apiCert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      const entry = { method: req.method ?? '', path, contentType: req.headers['content-type'], auth: req.headers.authorization, body: text ? JSON.parse(text) : undefined };
      api.requests.push(entry);
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (api.failWith) return send(api.failWith, status(api.failWith, 'InternalError', 'etcdserver: request timed out'));
      if (entry.auth !== `Bearer ${TOKEN}`) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
      if (path.startsWith('/api/v1/namespaces/') && req.method === 'GET') {
        const name = decodeURIComponent(path.slice('/api/v1/namespaces/'.length));
        const ns = api.namespaces.get(name);
        return ns ? send(200, ns) : send(404, status(404, 'NotFound', `namespaces "${name}" not found`));
      }
      if (path.startsWith(MWC)) {
        const name = decodeURIComponent(path.slice(MWC.length));
        const obj = api.configs.get(name);
        if (!obj) return send(404, status(404, 'NotFound', `mutatingwebhookconfigurations.admissionregistration.k8s.io "${name}" not found`));
        if (req.method === 'GET') return send(200, obj);
        if (req.method === 'PATCH') {
          if (entry.contentType !== 'application/json-patch+json') return send(415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format`));
          api.beforePatch?.(obj);
          api.beforePatch = undefined;
          try {
            const next = fastJsonPatch.applyPatch(structuredClone(obj), entry.body as Operation[], true, false).newDocument;
            next.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion) + 1);
            api.configs.set(name, next);
            return send(200, next);
          } catch (err) {
            return send(422, status(422, 'Invalid', `the server rejected our request due to an error in our request: ${(err as Error).name}`));
          }
        }
      }
      return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  api.server = server;
  api.port = (server.address() as AddressInfo).port;
  api.url = `https://127.0.0.1:${api.port}`;
  return api;
}

const caPem = ca.cert;
const caBundle = Buffer.from(caPem).toString('base64');
const patches = (api: FakeApi) => api.requests.filter((r) => r.method === 'PATCH');

void t.test('caBundle: a configuration without the managed label is never patched', async (t) => {
  const api = await startFakeApi(t);
  api.configs.set('meshtap', webhookConfig({ app: 'meshtap' }));
  const client = createKubeClient({ server: api.url, ca: ca.cert, token: () => TOKEN });
  t.same(await syncWebhookCaBundle({ client, name: 'meshtap', caPem }), { status: 'not-managed' });
  t.equal(patches(api).length, 0, 'no PATCH sent');
  t.equal(api.requests[0].auth, `Bearer ${TOKEN}`);
  t.notOk(api.configs.get('meshtap')!.webhooks[0].clientConfig.caBundle);
});

void t.test('caBundle: a managed configuration gets every webhook patched once, then nothing', async (t) => {
  const api = await startFakeApi(t);
  api.configs.set('meshtap', webhookConfig({ [CA_BUNDLE_LABEL]: 'managed' }, Buffer.from('old CA').toString('base64')));
  const client = createKubeClient({ server: api.url, ca: ca.cert, token: () => TOKEN });
  t.same(await syncWebhookCaBundle({ client, name: 'meshtap', caPem }), {
    status: 'patched',
    webhooks: ['namespaces.inject.meshtap.io', 'pods.inject.meshtap.io'],
  });
  t.equal(patches(api).length, 1);
  t.equal(patches(api)[0].contentType, 'application/json-patch+json');
  t.same(patches(api)[0].body[0], { op: 'test', path: '/metadata/resourceVersion', value: '1834' }, 'guarded by resourceVersion');
  const stored = api.configs.get('meshtap')!;
  t.same(stored.webhooks.map((w: any) => w.clientConfig.caBundle), [caBundle, caBundle]);
  t.equal(stored.webhooks[0].clientConfig.service.path, '/mutate', 'the rest of clientConfig is kept');
  t.equal(Buffer.from(stored.webhooks[1].clientConfig.caBundle, 'base64').toString(), caPem);

  t.same(await syncWebhookCaBundle({ client, name: 'meshtap', caPem }), { status: 'unchanged', webhooks: ['namespaces.inject.meshtap.io', 'pods.inject.meshtap.io'] });
  t.equal(patches(api).length, 1, 'already equal: no PATCH sent');
});

void t.test('caBundle: a concurrent change is detected and the patch re-planned', async (t) => {
  const api = await startFakeApi(t);
  api.configs.set('meshtap', webhookConfig({ [CA_BUNDLE_LABEL]: 'managed' }));
  api.beforePatch = (obj) => {
    // Someone reordered the webhooks meanwhile: our indexes are stale.
    obj.webhooks.reverse();
    obj.metadata.resourceVersion = '1900';
  };
  const client = createKubeClient({ server: api.url, ca: ca.cert, token: () => TOKEN });
  t.match(await syncWebhookCaBundle({ client, name: 'meshtap', caPem }), { status: 'patched', webhooks: ['pods.inject.meshtap.io', 'namespaces.inject.meshtap.io'] });
  t.equal(patches(api).length, 2, 'first patch refused (422), second applied');
  t.same(api.configs.get('meshtap')!.webhooks.map((w: any) => w.clientConfig.caBundle), [caBundle, caBundle]);
});

void t.test('caBundle: missing configuration and API errors', async (t) => {
  const api = await startFakeApi(t);
  const client = createKubeClient({ server: api.url, ca: ca.cert, token: () => TOKEN });
  t.same(await syncWebhookCaBundle({ client, name: 'meshtap', caPem }), { status: 'not-found' });
  api.configs.set('meshtap', webhookConfig({ [CA_BUNDLE_LABEL]: 'managed' }));
  const wrongToken = createKubeClient({ server: api.url, ca: ca.cert, token: () => 'nope' });
  await t.rejects(syncWebhookCaBundle({ client: wrongToken, name: 'meshtap', caPem }), { code: 'WH_ERR_KUBE_API', status: 401, message: /GET \/apis\/admissionregistration\.k8s\.io\/v1\/mutatingwebhookconfigurations\/meshtap answered 401 Unauthorized/ });
  api.failWith = 500;
  const err = await syncWebhookCaBundle({ client, name: 'meshtap', caPem }).catch((e: unknown) => e);
  t.ok(err instanceof KubeApiError);
  t.match(err, { status: 500, reason: 'InternalError', message: /answered 500 InternalError: etcdserver: request timed out/ });
  const untrusted = createKubeClient({ server: api.url, ca: createRootCa().cert, token: () => TOKEN });
  await t.rejects(untrusted.getNamespace('demo'), { code: 'WH_ERR_KUBE_API', status: 0, message: /GET \/api\/v1\/namespaces\/demo failed/ });
  t.throws(() => createKubeClient({ server: 'http://127.0.0.1:1' }), { code: 'WH_ERR_KUBE_CONFIG' });
});

void t.test('planCaBundlePatch only touches webhooks that differ', async (t) => {
  const cfg = webhookConfig({}, caBundle);
  cfg.webhooks[1].clientConfig.caBundle = 'b2xk';
  delete cfg.webhooks[0].clientConfig;
  const plan = planCaBundlePatch(cfg, caBundle);
  t.same(plan.patch, [
    { op: 'test', path: '/metadata/resourceVersion', value: '1834' },
    { op: 'add', path: '/webhooks/0/clientConfig', value: { caBundle } },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: caBundle },
  ]);
  t.same(planCaBundlePatch(webhookConfig({}, caBundle), caBundle).patch, []);
});

void t.test('namespace lookup: labels and annotations from one cached GET', async (t) => {
  const api = await startFakeApi(t);
  api.namespaces.set('demo', namespaceObject('demo', { 'meshtap.io/inject': 'enabled' }, { 'meshtap.io/mtls-mode': 'strict' }));
  const client = createKubeClient({ server: api.url, ca: ca.cert, token: () => TOKEN });
  let now = 1000;
  const lookup = createNamespaceLookup(client, { ttlMs: 30_000, now: () => now });
  const [labels, again] = await Promise.all([lookup.labels('demo'), lookup.labels('demo')]);
  t.same(labels, { 'kubernetes.io/metadata.name': 'demo', 'meshtap.io/inject': 'enabled' });
  t.same(again, labels);
  t.same(await lookup.annotations('demo'), { 'meshtap.io/mtls-mode': 'strict' });
  const gets = () => api.requests.filter((r) => r.path === '/api/v1/namespaces/demo').length;
  t.equal(gets(), 1, 'concurrent and repeated lookups share one request');
  now += 30_000;
  await lookup.labels('demo');
  t.equal(gets(), 2, 'expired entries are fetched again');
  await t.rejects(lookup.labels('ghost'), { status: 404, message: /namespaces "ghost" not found/ });
  api.namespaces.set('ghost', namespaceObject('ghost', {}));
  t.same(await lookup.labels('ghost'), { 'kubernetes.io/metadata.name': 'ghost' }, 'failures are not cached');
});

void t.test('in-cluster options: env, CA and a token re-read as it rotates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-sa-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(resolveInClusterKubeOptions({ env: {}, serviceAccountDir: dir }), { code: 'WH_ERR_KUBE_CONFIG', message: /KUBERNETES_SERVICE_HOST/ });
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443' };
  await t.rejects(resolveInClusterKubeOptions({ env, serviceAccountDir: dir }), { code: 'WH_ERR_KUBE_CONFIG', message: /ca\.crt/ });
  writeFileSync(join(dir, 'ca.crt'), ca.cert);
  await t.rejects(resolveInClusterKubeOptions({ env, serviceAccountDir: dir }), { message: /service-account token/ });
  writeFileSync(join(dir, 'token'), 'first\n');
  let now = 0;
  const opts = await resolveInClusterKubeOptions({ env, serviceAccountDir: dir, tokenTtlMs: 1000, now: () => now });
  t.equal(opts.server, 'https://127.0.0.1:6443');
  t.equal(opts.ca, ca.cert);
  t.equal(await opts.token!(), 'first');
  writeFileSync(join(dir, 'token'), 'second');
  t.equal(await opts.token!(), 'first', 'cached within the ttl');
  now = 1000;
  t.equal(await opts.token!(), 'second', 'rotated token picked up');
  const v6 = await resolveInClusterKubeOptions({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: dir });
  t.equal(v6.server, 'https://[fd00::1]:443');
});

// ---- the CLI against the fake API server ----


function spawnWebhook(t: Test, args: string[], env: Record<string, string>): Proc {
  return runMeshtap(t, ['webhook', ...args], env);
}

function get(port: number, path: string, body?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', ca: ca.cert, servername: 'localhost', agent: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function clusterDirs(t: Test) {
  const root = mkdtempSync(join(tmpdir(), 'meshtap-webhook-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const certDir = join(root, 'webhook');
  await writeTlsDir(certDir, issueWebhookCert(ca, { extraDnsNames: ['localhost'], extraIps: ['127.0.0.1'] }));
  const saDir = join(root, 'serviceaccount');
  await writeTlsDir(saDir, { cert: apiCert.cert, key: apiCert.key, ca: ca.cert }); // only ca.crt is used
  writeFileSync(join(saDir, 'token'), TOKEN);
  return { certDir, saDir };
}

void t.test('meshtap webhook in a cluster: provisions caBundle and reads namespace labels from the API', async (t) => {
  const api = await startFakeApi(t);
  api.configs.set('meshtap', webhookConfig({ [CA_BUNDLE_LABEL]: 'managed' }));
  api.namespaces.set('demo', namespaceObject('demo', {}));
  const { certDir, saDir } = await clusterDirs(t);
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
  const proc = spawnWebhook(t, ['--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1', '--patch-webhook-config', 'meshtap', '--service-account-dir', saDir], env);
  const listening = await proc.waitFor((l) => l.event === 'listening', 'the listening line');
  const ca = await proc.waitFor((l) => l.event === 'ca-bundle', 'the caBundle line');
  t.match(ca, { status: 'patched', webhookConfig: 'meshtap' });
  t.same(api.configs.get('meshtap')!.webhooks.map((w: any) => w.clientConfig.caBundle), [caBundle, caBundle]);

  // demo exists but is not labelled: the real labels make the injector skip.
  const review = JSON.parse(readFileSync(new URL('../fixtures/admission/pod-create.json', import.meta.url), 'utf8'));
  const res = await get(listening.port, '/mutate', JSON.stringify(review));
  t.equal(res.status, 200);
  t.same(res.json.response, { uid: review.request.uid, allowed: true });
  const line = await proc.waitFor((l) => l.uid === review.request.uid, 'the review line');
  t.match(line, { outcome: 'skipped', reasons: ['namespace-not-enabled'], namespaceLabels: 'api' });
  t.ok(api.requests.some((r) => r.path === '/api/v1/namespaces/demo'));

  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
});

void t.test('meshtap webhook: a failing API server is logged and the webhook serves anyway', async (t) => {
  const api = await startFakeApi(t);
  api.failWith = 503;
  const { certDir, saDir } = await clusterDirs(t);
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
  const proc = spawnWebhook(t, ['--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1', '--patch-webhook-config', 'meshtap', '--service-account-dir', saDir], env);
  const listening = await proc.waitFor((l) => l.event === 'listening', 'the listening line');
  const err = await proc.waitFor((l) => l.event === 'ca-bundle', 'the caBundle line');
  t.equal(err.level, 'error');
  t.match(err, { msg: /caBundle provisioning failed; serving anyway/, error: /WH_ERR_KUBE_API: .*answered 503/ });
  t.equal((await get(listening.port, '/healthz')).status, 200);
  const review = JSON.parse(readFileSync(new URL('../fixtures/admission/pod-create.json', import.meta.url), 'utf8'));
  const res = await get(listening.port, '/mutate', JSON.stringify(review));
  t.equal(res.json.response.patchType, 'JSONPatch', 'namespace lookup failed: assumed opted in');
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
});

void t.test('meshtap webhook: a configuration without the label is left alone', async (t) => {
  const api = await startFakeApi(t);
  api.configs.set('meshtap', webhookConfig({}));
  const { certDir, saDir } = await clusterDirs(t);
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
  const proc = spawnWebhook(t, ['--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1', '--patch-webhook-config', 'meshtap', '--service-account-dir', saDir], env);
  t.match(await proc.waitFor((l) => l.event === 'ca-bundle', 'the caBundle line'), { status: 'not-managed', level: 'warn' });
  t.equal(patches(api).length, 0);
  proc.child.kill('SIGINT');
  t.equal(await proc.exited, 0);
});
