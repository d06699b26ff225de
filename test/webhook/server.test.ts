import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Writable } from 'node:stream';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import t, { type Test } from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import type { InjectFn } from '../../webhook/admission.ts';
import { injectPod, type PodLike } from '../../webhook/inject.ts';
import { resolveInjectorConfig } from '../../webhook/injector-config.ts';
import { buildWebhookServer, setServingCertificate, type WebhookServerOptions } from '../../webhook/server.ts';

const fixtureDir = new URL('../fixtures/admission/', import.meta.url);
const fixtureText = (name: string): string => readFileSync(new URL(name, fixtureDir), 'utf8');
const fixture = (name: string): any => JSON.parse(fixtureText(name));

const ca = createRootCa();
const leaf = issueWebhookCert(ca, { extraDnsNames: ['localhost'], extraIps: ['127.0.0.1'] });
const config = resolveInjectorConfig({});
const realInject: InjectFn = (input) => injectPod({ ...input, pod: input.pod as PodLike, config });

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
  peerCertPem?: string;
}

function call(port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}, trust = ca.cert): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, ca: trust, servername: 'localhost', agent: false, headers },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate?.();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const peerCertPem = cert?.raw ? `-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64')}\n-----END CERTIFICATE-----\n` : undefined;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, peerCertPem });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const postJson = (port: number, body: string | Buffer, contentType = 'application/json'): Promise<Reply> =>
  call(port, 'POST', '/mutate', body, { 'content-type': contentType });

function captureLogs(): { stream: Writable; lines: () => any[] } {
  const buf: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf.push(chunk.toString('utf8'));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      buf
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l)),
  };
}

const NAMESPACES: Record<string, Record<string, string>> = {
  demo: { 'kubernetes.io/metadata.name': 'demo', 'meshtap.io/inject': 'enabled' },
  plain: { 'kubernetes.io/metadata.name': 'plain' },
};

async function startServer(t: Test, overrides: Partial<WebhookServerOptions> = {}) {
  const logs = captureLogs();
  const app = buildWebhookServer({
    tls: { cert: leaf.cert, key: leaf.key },
    inject: realInject,
    namespaceLabels: async (name) => {
      const labels = NAMESPACES[name];
      if (!labels) throw new Error(`namespaces "${name}" not found`);
      return labels;
    },
    logger: { level: 'info', stream: logs.stream },
    ...overrides,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, port, logs };
}

function decodePatch(response: any): Operation[] {
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
}

const containerNames = (list: unknown): string[] => (Array.isArray(list) ? list.map((c: any) => c.name) : []);

void t.test('a pod CREATE in an opted-in namespace gets a patch that injects meshtap', async (t) => {
  const { port, logs } = await startServer(t);
  const review = fixture('pod-create.json');
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /application\/json/);
  t.equal(res.json.apiVersion, 'admission.k8s.io/v1');
  t.equal(res.json.kind, 'AdmissionReview');
  t.equal(res.json.response.uid, review.request.uid, 'uid echoed');
  t.equal(res.json.response.allowed, true);
  t.equal(res.json.response.patchType, 'JSONPatch');
  const patch = decodePatch(res.json.response);
  t.ok(patch.length > 0);
  const patched = fastJsonPatch.applyPatch(structuredClone(review.request.object), patch, true, false).newDocument;
  const names = [...containerNames(patched.spec.initContainers), ...containerNames(patched.spec.containers)];
  t.ok(names.includes('meshtap-init'), 'init container injected');
  t.ok(names.includes('meshtap-proxy'), 'proxy injected');
  t.ok(names.includes('web'), 'the app container is kept');
  t.type(patched.metadata.annotations['meshtap.io/status'], 'string', 'status annotation recorded');
  t.equal(patched.metadata.annotations['kubectl.kubernetes.io/restartedAt'], '2025-01-10T09:00:00Z', 'existing annotations kept');

  // Reinvocation (reinvocationPolicy: IfNeeded) sends the patched pod again: nothing more to do.
  const again = structuredClone(review);
  again.request.uid = 'reinvoked-1';
  again.request.object = patched;
  const res2 = await postJson(port, JSON.stringify(again));
  t.equal(res2.status, 200);
  t.equal(res2.json.response.uid, 'reinvoked-1');
  t.equal(res2.json.response.allowed, true);
  t.notOk('patch' in res2.json.response, 'an injected pod is not patched again');
  t.notOk('patchType' in res2.json.response);
  t.notOk('warnings' in res2.json.response, 'a reinvocation after an injection warns nobody');

  const line = logs.lines().find((l) => l.uid === review.request.uid);
  t.ok(line, 'one structured log line per review');
  t.match(line, { msg: 'admission review', uid: review.request.uid, kind: 'Pod', namespace: 'demo', name: 'web-7d9f8c6b5-abcde', outcome: 'injected', reasons: [], namespaceLabels: 'api' });
  const skipLine = logs.lines().find((l) => l.uid === 'reinvoked-1');
  t.match(skipLine, { outcome: 'skipped', reasons: ['already-injected'] });
});

void t.test('a Deployment review is allowed without a patch', async (t) => {
  const { port, logs } = await startServer(t);
  const review = fixture('deployment-create.json');
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  t.same(res.json, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });
  t.match(logs.lines().find((l) => l.uid === review.request.uid), { outcome: 'allowed', reasons: ['not-a-pod'], kind: 'Deployment' });
});

void t.test('a pod with generateName and no name is injected and logged by generateName', async (t) => {
  const { port, logs } = await startServer(t);
  const review = fixture('pod-generate-name.json');
  t.notOk(review.request.name);
  t.notOk(review.request.object.metadata.name);
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  t.equal(res.json.response.patchType, 'JSONPatch');
  const patched = fastJsonPatch.applyPatch(structuredClone(review.request.object), decodePatch(res.json.response), true, false).newDocument;
  t.ok(containerNames(patched.spec.initContainers).includes('meshtap-proxy') || containerNames(patched.spec.containers).includes('meshtap-proxy'));
  const line = logs.lines().find((l) => l.uid === review.request.uid);
  t.equal(line.generateName, 'web-7d9f8c6b5-');
  t.notOk('name' in line, 'no name to log');
  t.equal(line.namespace, 'demo');
});

void t.test('a hostNetwork pod is allowed without a patch; the reason shows in logs and metrics', async (t) => {
  const { port, logs } = await startServer(t);
  const review = fixture('pod-host-network.json');
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  t.same(res.json.response, { uid: review.request.uid, allowed: true });
  t.match(logs.lines().find((l) => l.uid === review.request.uid), { outcome: 'skipped', reasons: ['host-network'] });
  const metrics = await call(port, 'GET', '/metrics');
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="skipped",reason="host-network"\} 1\n/);
});

void t.test('a skip logs which annotation and why, and warns whoever creates the pod, still admitting it', async (t) => {
  const { port, logs } = await startServer(t);
  const review = fixture('pod-create.json');
  review.request.object.metadata.annotations['meshtap.io/exclude-inbound-ports'] = 'http';
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  const detail = 'pod annotation meshtap.io/exclude-inbound-ports: "http" is not a port number 1-65535';
  t.same(res.json.response, {
    uid: review.request.uid,
    allowed: true,
    warnings: [`meshtap did not inject the pod: invalid-annotation: ${detail}`],
  });
  const lines = logs.lines().filter((l) => l.uid === review.request.uid);
  t.equal(lines.length, 1, 'one line per review');
  t.match(lines[0], { msg: 'admission review', outcome: 'skipped', reasons: ['invalid-annotation'], details: { 'invalid-annotation': detail } });
  t.notOk('object' in lines[0] || 'pod' in lines[0], 'the pod is not logged');
  const metrics = await call(port, 'GET', '/metrics');
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="skipped",reason="invalid-annotation"\} 1\n/, 'counted by code alone');
});

void t.test('an invalid-pod skip says where the shape is wrong', async (t) => {
  const { port, logs } = await startServer(t);
  const review = fixture('pod-create.json');
  review.request.object.spec.containers.push(null);
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  t.equal(res.json.response.allowed, true);
  t.notOk(res.json.response.patch);
  const index = review.request.object.spec.containers.length - 1;
  t.same(res.json.response.warnings, [`meshtap did not inject the pod: invalid-pod: spec.containers[${index}] is null, not a container`]);
  t.match(logs.lines().find((l) => l.uid === review.request.uid), {
    outcome: 'skipped',
    reasons: ['invalid-pod'],
    details: { 'invalid-pod': `spec.containers[${index}] is null, not a container` },
  });
});

void t.test('skips of pods not meant to be injected are logged with details but warn nobody', async (t) => {
  const { port, logs } = await startServer(t);
  const review = fixture('pod-opted-out.json');
  review.request.object.metadata.annotations = { ...review.request.object.metadata.annotations, 'meshtap.io/exclude-inbound-ports': 'http' };
  const res = await postJson(port, JSON.stringify(review));
  t.same(res.json.response, { uid: review.request.uid, allowed: true });
  const line = logs.lines().find((l) => l.uid === review.request.uid);
  t.same(line.reasons, ['pod-opted-out', 'invalid-annotation']);
  t.match(line.details, { 'pod-opted-out': /meshtap\.io\/inject=false/, 'invalid-annotation': /exclude-inbound-ports/ });
});

void t.test('a pod labelled meshtap.io/inject=false is skipped', async (t) => {
  const { port } = await startServer(t);
  const res = await postJson(port, fixtureText('pod-opted-out.json'));
  t.equal(res.status, 200);
  t.notOk(res.json.response.patch);
  const metrics = await call(port, 'GET', '/metrics');
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="skipped",reason="pod-opted-out"\} 1\n/);
});

void t.test('a dry-run review gets the same patch as a real one', async (t) => {
  const { port, logs } = await startServer(t);
  const dry = fixture('pod-dry-run.json');
  t.equal(dry.request.dryRun, true);
  const wet = structuredClone(dry);
  wet.request.dryRun = false;
  wet.request.uid = 'wet-1';
  const [a, b] = await Promise.all([postJson(port, JSON.stringify(dry)), postJson(port, JSON.stringify(wet))]);
  t.equal(a.status, 200);
  t.equal(a.json.response.uid, dry.request.uid);
  t.equal(a.json.response.patchType, 'JSONPatch');
  t.same(decodePatch(a.json.response), decodePatch(b.json.response));
  t.match(logs.lines().find((l) => l.uid === dry.request.uid), { dryRun: true, outcome: 'injected' });
});

void t.test('a namespace that is not opted in: the injector decides from the real labels', async (t) => {
  const { port } = await startServer(t);
  const review = fixture('pod-create.json');
  review.request.namespace = 'plain';
  review.request.object.metadata.namespace = 'plain';
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  t.notOk(res.json.response.patch);
  const metrics = await call(port, 'GET', '/metrics');
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="skipped",reason="namespace-not-enabled"\} 1\n/);
});

void t.test('namespace labels unknown: assumed opted in by default, skipped when strict', async (t) => {
  const review = fixtureText('pod-create.json');
  const noLookup = await startServer(t, { namespaceLabels: undefined });
  const a = await postJson(noLookup.port, review);
  t.equal(a.json.response.patchType, 'JSONPatch', 'no lookup: the API server already filtered, so inject');
  t.match(noLookup.logs.lines().find((l) => l.msg === 'admission review'), { namespaceLabels: 'assumed', outcome: 'injected' });

  const failing = await startServer(t, { namespaceLabels: async () => Promise.reject(new Error('connection refused')) });
  const b = await postJson(failing.port, review);
  t.equal(b.status, 200);
  t.equal(b.json.response.patchType, 'JSONPatch', 'lookup failed: still assumed opted in');
  t.ok(failing.logs.lines().some((l) => l.msg === 'namespace label lookup failed' && l.namespace === 'demo'));
  t.match(failing.logs.lines().find((l) => l.msg === 'admission review'), { namespaceLabels: 'assumed-after-error' });
  t.equal(sidecarEnv(b.json.response).MESHTAP_MTLS_MODE, 'strict', 'a failed namespace lookup never injects permissive');

  const hanging = await startServer(t, { namespaceLabels: () => new Promise(() => {}), namespaceLookupTimeoutMs: 50 });
  const c = await postJson(hanging.port, review);
  t.equal(c.json.response.patchType, 'JSONPatch', 'a lookup that never answers is bounded by its timeout');

  const strict = await startServer(t, { namespaceLabels: undefined, assumeNamespaceOptedIn: false });
  const d = await postJson(strict.port, review);
  t.equal(d.status, 200);
  t.same(
    d.json.response,
    {
      uid: fixture('pod-create.json').request.uid,
      allowed: true,
      warnings: ['meshtap did not inject the pod: namespace-labels-unknown: the labels of namespace "demo" could not be read, and the webhook does not assume it opted in'],
    },
    'allowed, and whoever created the pod is told it was not injected',
  );
  t.match(strict.logs.lines().find((l) => l.msg === 'admission review'), {
    outcome: 'skipped',
    reasons: ['namespace-labels-unknown'],
    details: { 'namespace-labels-unknown': /namespace "demo" could not be read/ },
  });
});

void t.test('an injector exception admits the pod unchanged, and is logged and counted', async (t) => {
  const { port, logs } = await startServer(t, {
    inject: () => {
      throw new Error('boom in the injector');
    },
  });
  const review = fixture('pod-create.json');
  const res = await postJson(port, JSON.stringify(review));
  t.equal(res.status, 200);
  t.same(res.json.response, { uid: review.request.uid, allowed: true });
  const line = logs.lines().find((l) => l.uid === review.request.uid);
  t.equal(line.level, 'error', 'logged at error level, by name');
  t.equal(line.outcome, 'error');
  t.match(line.err, { message: 'boom in the injector' });
  const metrics = await call(port, 'GET', '/metrics');
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="error",reason="injector-error"\} 1\n/);
});

void t.test('malformed input gets a clear 4xx and the server keeps answering', async (t) => {
  const { port, logs } = await startServer(t);
  const cases: [string, () => Promise<Reply>, number, string, RegExp][] = [
    ['not JSON', () => postJson(port, fixtureText('invalid-not-json.txt')), 400, 'WH_ERR_BAD_JSON', /not valid JSON/],
    ['JSON but not an object', () => postJson(port, '[1,2,3]'), 400, 'WH_ERR_BAD_JSON', /must be a JSON object.*array/],
    ['wrong apiVersion', () => postJson(port, fixtureText('invalid-api-version.json')), 400, 'WH_ERR_BAD_API_VERSION', /admission\.k8s\.io\/v1beta1/],
    ['wrong kind', () => postJson(port, fixtureText('invalid-kind.json')), 400, 'WH_ERR_BAD_KIND', /kind must be "AdmissionReview", got "AdmissionRequest"/],
    ['missing request', () => postJson(port, fixtureText('invalid-missing-request.json')), 400, 'WH_ERR_NO_REQUEST', /no "request"/],
    ['missing uid', () => postJson(port, fixtureText('invalid-missing-uid.json')), 400, 'WH_ERR_NO_UID', /uid is missing/],
    ['missing object on CREATE', () => postJson(port, fixtureText('invalid-missing-object.json')), 400, 'WH_ERR_NO_OBJECT', /request\.object is missing/],
    ['empty body', () => postJson(port, ''), 400, 'WH_ERR_EMPTY_BODY', /empty/],
    ['wrong content-type', () => postJson(port, fixtureText('pod-create.json'), 'text/plain'), 415, 'WH_ERR_UNSUPPORTED_MEDIA_TYPE', /must be application\/json, got "text\/plain"/],
    ['no content-type', () => call(port, 'POST', '/mutate', fixtureText('pod-create.json')), 415, 'WH_ERR_UNSUPPORTED_MEDIA_TYPE', /got none/],
    ['oversized body', () => postJson(port, Buffer.alloc(4 * 1024 * 1024, 0x20)), 413, 'WH_ERR_BODY_TOO_LARGE', /larger than the limit of 3145728 bytes/],
    ['GET /mutate', () => call(port, 'GET', '/mutate'), 405, 'WH_ERR_METHOD_NOT_ALLOWED', /only accepts POST/],
    ['unknown path', () => call(port, 'POST', '/validate', '{}', { 'content-type': 'application/json' }), 404, 'WH_ERR_NOT_FOUND', /POST \/mutate/],
  ];
  for (const [name, send, status, code, message] of cases) {
    const res = await send();
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.json?.error?.code, code, `${name}: code`);
    t.match(res.json?.error?.message, message, `${name}: message`);
    t.same(Object.keys(res.json ?? {}), ['error'], `${name}: only the error object`);
    const health = await call(port, 'GET', '/healthz');
    t.equal(health.status, 200, `${name}: server still answers`);
  }
  const ok = await postJson(port, fixtureText('pod-create.json'));
  t.equal(ok.json.response.patchType, 'JSONPatch', 'a good review still works afterwards');
  t.ok(logs.lines().some((l) => l.msg === 'rejected request' && l.code === 'WH_ERR_BAD_API_VERSION' && l.status === 400));
  const metrics = await call(port, 'GET', '/metrics');
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="bad_request",reason="WH_ERR_BAD_JSON"\} 2\n/);
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="bad_request",reason="WH_ERR_BODY_TOO_LARGE"\} 1\n/);
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="bad_request",reason="WH_ERR_METHOD_NOT_ALLOWED"\} 1\n/);
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="bad_request",reason="WH_ERR_NOT_FOUND"\} 1\n/);
  t.ok(logs.lines().some((l) => l.msg === 'rejected request' && l.code === 'WH_ERR_NOT_FOUND' && l.status === 404), 'a 404 is logged like the other rejections');
});

void t.test('a body without apiVersion says it is missing, not null', async (t) => {
  const { port } = await startServer(t);
  const res = await postJson(port, '{}');
  t.equal(res.status, 400);
  t.equal(res.json.error.code, 'WH_ERR_BAD_API_VERSION');
  t.match(res.json.error.message, /^apiVersion is missing: expected "admission\.k8s\.io\/v1"/);
  t.notMatch(res.json.error.message, /null/);
  const explicitNull = await postJson(port, '{"apiVersion":null}');
  t.match(explicitNull.json.error.message, /^apiVersion must be "admission\.k8s\.io\/v1", got null/, 'a null that was sent is named as such');
});

void t.test('every method and path the webhook rejects is counted as a bad request', async (t) => {
  const { port } = await startServer(t);
  for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) t.equal((await call(port, method, '/mutate')).status, 405, `${method} /mutate`);
  t.equal((await call(port, 'POST', '/validate', '{}', { 'content-type': 'application/json' })).status, 404);
  t.equal((await call(port, 'GET', '/')).status, 404);
  const metrics = await call(port, 'GET', '/metrics');
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="bad_request",reason="WH_ERR_METHOD_NOT_ALLOWED"\} 4\n/);
  t.match(metrics.text, /meshtap_webhook_reviews_total\{outcome="bad_request",reason="WH_ERR_NOT_FOUND"\} 2\n/);
});

void t.test('GET /healthz', async (t) => {
  const { port } = await startServer(t);
  const res = await call(port, 'GET', '/healthz');
  t.equal(res.status, 200);
  t.same(res.json, { status: 'ok' });
});

void t.test('GET /metrics reflects reviews, durations and process metrics', async (t) => {
  const { port } = await startServer(t);
  await postJson(port, fixtureText('pod-create.json'));
  await postJson(port, fixtureText('pod-generate-name.json'));
  await postJson(port, fixtureText('deployment-create.json'));
  await postJson(port, fixtureText('invalid-kind.json'));
  const res = await call(port, 'GET', '/metrics');
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/plain/);
  t.match(res.text, /# TYPE meshtap_webhook_reviews_total counter/);
  t.match(res.text, /meshtap_webhook_reviews_total\{outcome="injected",reason="none"\} 2\n/);
  t.match(res.text, /meshtap_webhook_reviews_total\{outcome="allowed",reason="not-a-pod"\} 1\n/);
  t.match(res.text, /meshtap_webhook_reviews_total\{outcome="bad_request",reason="WH_ERR_BAD_KIND"\} 1\n/);
  t.match(res.text, /# TYPE meshtap_webhook_review_duration_seconds histogram/);
  t.match(res.text, /meshtap_webhook_review_duration_seconds_count\{outcome="injected"\} 2\n/);
  t.match(res.text, /meshtap_webhook_review_duration_seconds_bucket\{le="5",outcome="injected"\} 2\n/);
  t.match(res.text, /process_cpu_user_seconds_total/);
  t.match(res.text, /nodejs_eventloop_lag_seconds/);
});

void t.test('the serving certificate can be replaced while running', async (t) => {
  const { app, port } = await startServer(t);
  const before = await call(port, 'GET', '/healthz');
  t.equal(before.status, 200);
  const ca2 = createRootCa({ commonName: 'second root' });
  const leaf2 = issueWebhookCert(ca2, { extraDnsNames: ['localhost'], extraIps: ['127.0.0.1'] });
  setServingCertificate(app, { cert: leaf2.cert, key: leaf2.key });
  await t.rejects(call(port, 'GET', '/healthz', undefined, {}, ca.cert), 'the old CA no longer verifies the new certificate');
  const after = await call(port, 'GET', '/healthz', undefined, {}, ca2.cert);
  t.equal(after.status, 200);
  const squash = (pem: string | undefined): string | undefined => pem?.replace(/\s/g, '');
  t.equal(squash(after.peerCertPem), squash(leaf2.cert), 'the new certificate is served');
});

function sidecarEnv(response: any): Record<string, string> {
  const patch = decodePatch(response);
  const containers = patch.flatMap((op: any) => (Array.isArray(op.value) ? op.value : [op.value])).filter((c: any) => c?.name === 'meshtap-proxy');
  return Object.fromEntries((containers[0]?.env ?? []).filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
}

void t.test('namespace annotations that cannot be read mean strict, not the permissive default', async (t) => {
  const review = fixtureText('pod-create.json');
  const labels = async () => ({ 'meshtap.io/inject': 'enabled' });
  const ok = await startServer(t, { namespaceLabels: labels, namespaceAnnotations: async () => ({}) });
  t.equal(sidecarEnv((await postJson(ok.port, review)).json.response).MESHTAP_MTLS_MODE, 'permissive', 'readable and unset: the default');
  const failing = await startServer(t, { namespaceLabels: labels, namespaceAnnotations: async () => Promise.reject(new Error('forbidden')) });
  const res = await postJson(failing.port, review);
  t.equal(res.json.response.patchType, 'JSONPatch');
  t.equal(sidecarEnv(res.json.response).MESHTAP_MTLS_MODE, 'strict');
  t.ok(failing.logs.lines().some((l) => l.msg === 'namespace annotation lookup failed; injecting with strict mTLS'));
});
