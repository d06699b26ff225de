import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { createInClusterTokenReviewAuthenticator, createTokenReviewAuthenticator } from '../../certs/authn/kube-tokenreview.ts';
import {
  CA_ERR_AUTHN_CONFIG,
  CA_ERR_AUTHN_UNAVAILABLE,
  CA_ERR_TOKEN_AUDIENCE,
  CA_ERR_TOKEN_EXPIRED,
  CA_ERR_TOKEN_IDENTITY,
  CA_ERR_TOKEN_INVALID,
  CA_ERR_TOKEN_MISSING,
} from '../../certs/errors.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { errorCode, tempDir } from './helpers.ts';

// The API server's own certificate, from a CA the client is given (the in-cluster ca.crt).
const clusterCa = createRootCa({ commonName: 'kubernetes' });
const apiCert = issueWebhookCert(clusterCa, { service: 'kubernetes', namespace: 'default', extraIps: ['127.0.0.1'] });
const CONTROLLER_TOKEN = 'controller-sa-token';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: any;
}

type Answer = { status: number; body: unknown };

/**
 * Answers TokenReviews the way kube-apiserver does: 201 with the review echoed and a status;
 * 401 for a bad caller token, 403 when the caller lacks RBAC, all as real JSON.
 */
function review(token: string, audiences: string[]): Answer {
  const spec = { token, audiences };
  const ok = (username: string, extra: Record<string, string[]> = {}, auds = audiences) => ({
    status: 201,
    body: {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: {
        authenticated: true,
        user: {
          username,
          uid: '0b2b5f3a-6a5e-4c55-9c5f-0d7d1e8c3e21',
          groups: ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated'],
          extra,
        },
        audiences: auds,
      },
    },
  });
  const refused = (error: string) => ({
    status: 201,
    body: { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status: { user: {}, error } },
  });
  switch (token) {
    case 'frontend-pod-token':
      return ok('system:serviceaccount:shop:frontend', {
        'authentication.kubernetes.io/credential-id': ['JTI=1e7a1c1e-6a1f-4b0f-9d3a-2c7b9b3f0a11'],
        'authentication.kubernetes.io/node-name': ['node-1'],
        'authentication.kubernetes.io/node-uid': ['c8e5e1f4-6d3a-4a0c-8b6e-5f1e2d3c4b5a'],
        'authentication.kubernetes.io/pod-name': ['frontend-7d9f-x2k'],
        'authentication.kubernetes.io/pod-uid': ['5b0c0f6e-8f7a-4d7e-9a0e-1f2d3c4b5a69'],
      });
    case 'legacy-secret-token':
      return ok('system:serviceaccount:shop:legacy');
    case 'user-token':
      return ok('alice@example.com');
    case 'no-audiences-token':
      return ok('system:serviceaccount:shop:frontend', {}, []);
    case 'other-audience-token':
      return refused('[invalid bearer token, token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["meshtap-ca"], unknown]');
    case 'expired-token':
      return refused('[invalid bearer token, service account token has expired, unknown]');
    case 'deleted-pod-token':
      return refused('[invalid bearer token, pod "frontend-7d9f-x2k" not found, unknown]');
    default:
      return refused('[invalid bearer token, square/go-jose: compact JWS format must have three parts, unknown]');
  }
}

const FORBIDDEN = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message:
    'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:meshtap-system:meshtap-controller" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope',
  reason: 'Forbidden',
  details: { group: 'authentication.k8s.io', kind: 'tokenreviews' },
  code: 403,
};
const UNAUTHORIZED = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };

async function fakeApiServer(t: { teardown: (fn: () => unknown) => void }, mode: 'ok' | 'forbidden' = 'ok') {
  const seen: Seen[] = [];
  const server: Server = createServer({ cert: apiCert.cert, key: apiCert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      let answer: Answer;
      if (req.headers.authorization !== `Bearer ${CONTROLLER_TOKEN}`) answer = { status: 401, body: UNAUTHORIZED };
      else if (mode === 'forbidden') answer = { status: 403, body: FORBIDDEN };
      else if (req.method !== 'POST' || req.url !== '/apis/authentication.k8s.io/v1/tokenreviews') answer = { status: 404, body: { kind: 'Status', code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' } };
      else answer = review(body?.spec?.token, body?.spec?.audiences ?? []);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, seen };
}

function authenticator(port: number, token = CONTROLLER_TOKEN) {
  return createTokenReviewAuthenticator({ kube: { server: `https://127.0.0.1:${port}`, ca: clusterCa.cert, token: () => token, timeoutMs: 2000 } });
}

void t.test('an authenticated pod-bound token: namespace, service account and pod', async (t) => {
  const api = await fakeApiServer(t);
  const authn = authenticator(api.port);
  t.equal(authn.kind, 'tokenreview');
  t.same(await authn.authenticate('frontend-pod-token'), {
    namespace: 'shop',
    serviceAccount: 'frontend',
    podName: 'frontend-7d9f-x2k',
    podUid: '5b0c0f6e-8f7a-4d7e-9a0e-1f2d3c4b5a69',
  });
  t.equal(api.seen.length, 1);
  t.match(api.seen[0], {
    method: 'POST',
    url: '/apis/authentication.k8s.io/v1/tokenreviews',
    authorization: `Bearer ${CONTROLLER_TOKEN}`,
    contentType: 'application/json',
  });
  t.same(api.seen[0].body, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token: 'frontend-pod-token', audiences: ['meshtap-ca'] },
  });
  t.same(await authn.authenticate('legacy-secret-token'), { namespace: 'shop', serviceAccount: 'legacy' }, 'no pod for a token bound to nothing');
});

void t.test('tokens the API server does not vouch for, each with its reason', async (t) => {
  const api = await fakeApiServer(t);
  const authn = authenticator(api.port);
  const cases: [string, string, RegExp][] = [
    ['garbage', CA_ERR_TOKEN_INVALID, /did not authenticate the token: \[invalid bearer token, square\/go-jose/],
    ['deleted-pod-token', CA_ERR_TOKEN_INVALID, /pod "frontend-7d9f-x2k" not found/],
    ['expired-token', CA_ERR_TOKEN_EXPIRED, /says the token has expired/],
    ['other-audience-token', CA_ERR_TOKEN_AUDIENCE, /did not accept the token for audience "meshtap-ca"/],
    ['no-audiences-token', CA_ERR_TOKEN_AUDIENCE, /authenticated the token for audiences \[\], not "meshtap-ca"/],
    ['user-token', CA_ERR_TOKEN_IDENTITY, /belongs to "alice@example.com", not to a service account/],
  ];
  for (const [token, code, message] of cases) {
    const e = await errorCode(() => authn.authenticate(token));
    t.equal(e.code, code, token);
    t.match(e.message, message, token);
  }
  const before = api.seen.length;
  t.equal((await errorCode(() => authn.authenticate(''))).code, CA_ERR_TOKEN_MISSING);
  t.equal(api.seen.length, before, 'an empty token is not sent to the API server');
});

void t.test('the CA\'s own access: 403 without RBAC, 401 with a bad token, nobody listening', async (t) => {
  const forbidden = await fakeApiServer(t, 'forbidden');
  let e = await errorCode(() => authenticator(forbidden.port).authenticate('frontend-pod-token'));
  t.equal(e.code, CA_ERR_AUTHN_UNAVAILABLE);
  t.match(e.message, /may not create TokenReviews \(403\): grant it "create" on "tokenreviews" in API group authentication.k8s.io/);
  t.match(e.message, /cannot create resource "tokenreviews"/, 'the API server\'s own words follow');

  const api = await fakeApiServer(t);
  e = await errorCode(() => authenticator(api.port, 'stale').authenticate('frontend-pod-token'));
  t.equal(e.code, CA_ERR_AUTHN_UNAVAILABLE);
  t.match(e.message, /did not accept the CA's own service-account token \(401\)/);

  e = await errorCode(() => createTokenReviewAuthenticator({ kube: { server: `https://127.0.0.1:${api.port}`, token: () => CONTROLLER_TOKEN } }).authenticate('x'));
  t.equal(e.code, CA_ERR_AUTHN_UNAVAILABLE, 'an API server certificate outside the given CA');
  t.match(e.message, /cannot ask the API server to review tokens: .*certificate/);

  const closedPort = await (async () => {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  })();
  e = await errorCode(() => authenticator(closedPort).authenticate('frontend-pod-token'));
  t.equal(e.code, CA_ERR_AUTHN_UNAVAILABLE);
  t.match(e.message, /ECONNREFUSED/);
  e = await errorCode(() => createTokenReviewAuthenticator({ kube: { server: 'http://127.0.0.1:1' } }));
  t.equal(e.code, CA_ERR_AUTHN_CONFIG);
});

void t.test('in-cluster configuration from the service-account mount and the service env', async (t) => {
  const api = await fakeApiServer(t);
  const dir = join(await tempDir(t), 'serviceaccount');
  await mkdir(dir);
  await writeFile(join(dir, 'token'), `${CONTROLLER_TOKEN}\n`);
  await writeFile(join(dir, 'ca.crt'), clusterCa.cert);
  const authn = await createInClusterTokenReviewAuthenticator({
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
    serviceAccountDir: dir,
  });
  t.same(await authn.authenticate('legacy-secret-token'), { namespace: 'shop', serviceAccount: 'legacy' });
  t.equal(api.seen[0].authorization, `Bearer ${CONTROLLER_TOKEN}`, 'the mounted token, trimmed');

  let e = await errorCode(() => createInClusterTokenReviewAuthenticator({ env: {}, serviceAccountDir: dir }));
  t.equal(e.code, CA_ERR_AUTHN_CONFIG);
  t.match(e.message, /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/);
  e = await errorCode(() =>
    createInClusterTokenReviewAuthenticator({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: join(dir, 'nope') }),
  );
  t.equal(e.code, CA_ERR_AUTHN_CONFIG);
  t.match(e.message, /cannot read the service-account ca.crt/);
});
