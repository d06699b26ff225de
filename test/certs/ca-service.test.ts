import { X509Certificate, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { Registry } from 'prom-client';
import t from 'tap';
import { MeshtapError } from '../../lib/errors.ts';
import type { Authenticator } from '../../certs/authn/authenticator.ts';
import { createJwtKeyAuthenticator, issueTestToken } from '../../certs/authn/jwt-key.ts';
import { requestWorkloadCertificate } from '../../certs/ca-client.ts';
import { createCaMetrics } from '../../certs/ca-metrics.ts';
import { startCaServer, type CaServer, type StartCaServerOptions } from '../../certs/ca-service.ts';
import type { Logger as CaLogger } from '../../lib/log.ts';
import { loadCaServiceDefinition, type SignRequestMessage, type SignResponseMessage } from '../../record/ca-proto.ts';
import { CA_ERR_AUTHN_UNAVAILABLE, CA_ERR_BAD_OPTION } from '../../certs/errors.ts';
import { CA_ERR_BAD_BUNDLE } from '../../lib/tls/errors.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { loadSigningCa } from '../../certs/signing-ca.ts';
import { mergeTrustBundles } from '../../lib/tls/trust-bundle.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';
import { errorCode } from './helpers.ts';

const HOUR = 3_600_000;
// Certificates are issued at a fixed instant inside the CA's validity; handshakes use the real clock.
const issueAt = new Date(Date.now() + 5 * 60_000);
const issueAtSec = Math.floor(issueAt.getTime() / 1000) * 1000;
const root = createRootCa({ trustDomain: 'cluster.local' });
const signer = loadSigningCa(root);
const serving = issueWebhookCert(signer, { extraIps: ['127.0.0.1'] });
const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rootX = new X509Certificate(root.cert);

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function captureLogger(): { logger: CaLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: object, msg: string) => lines.push({ level, fields: fields as Record<string, unknown>, msg });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

async function startCa(t: Tap, extra: Partial<StartCaServerOptions> = {}) {
  const registry = new Registry();
  const metrics = createCaMetrics({ registry });
  const { logger, lines } = captureLogger();
  const server: CaServer = await startCaServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: serving.cert, key: serving.key },
    ca: signer,
    authenticator: createJwtKeyAuthenticator({ key: tokenKey.publicKey, now: () => issueAt }),
    clock: () => issueAt,
    metrics,
    logger,
    ...extra,
  });
  t.teardown(() => server.close({ graceMs: 100 }));
  return { server, registry, lines, addr: `127.0.0.1:${server.port}` };
}
type Tap = { teardown: (fn: () => unknown) => void };

function token(identity: { namespace: string; serviceAccount: string; podName?: string }, extra: { audience?: string; ttlSeconds?: number; now?: Date; key?: KeyObject } = {}) {
  return issueTestToken(extra.key ?? tokenKey.privateKey, {
    ...identity,
    audience: extra.audience,
    ttlSeconds: extra.ttlSeconds,
    now: extra.now ?? issueAt,
  });
}

const Client = grpc.makeGenericClientConstructor(loadCaServiceDefinition(), 'CertificateAuthority');

/** One raw Sign call, so tests see the status and message exactly as the CA sends them. */
function rawSign(addr: string, request: Partial<SignRequestMessage>, authorization?: string): Promise<{ err?: grpc.ServiceError; res?: SignResponseMessage }> {
  const client = new Client(addr, grpc.credentials.createSsl(Buffer.from(root.ca)));
  const md = new grpc.Metadata();
  if (authorization !== undefined) md.set('authorization', authorization);
  return new Promise((resolve) => {
    (client as any).Sign(request, md, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res?: SignResponseMessage) => {
      client.close();
      resolve(err ? { err } : { res });
    });
  });
}

async function counter(registry: Registry, outcome: string, code: string): Promise<number> {
  const metric = await registry.getSingleMetric('meshtap_ca_sign_requests_total')!.get();
  return metric.values.find((v) => v.labels.outcome === outcome && v.labels.code === code)?.value ?? 0;
}

void t.test('a sidecar gets a 24 h X.509-SVID for the identity its token proves', async (t) => {
  const { addr, registry, lines } = await startCa(t);
  const tok = await token({ namespace: 'shop', serviceAccount: 'frontend', podName: 'frontend-7d9f' });
  const issued = await requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: tok, timeoutMs: 10_000 });
  const x = new X509Certificate(issued.certPem);
  t.equal(x.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/frontend', 'URI SAN = the token\'s identity');
  t.equal(issued.spiffeId, 'spiffe://cluster.local/ns/shop/sa/frontend');
  t.ok(x.checkIssued(rootX), 'issued by the root');
  t.ok(x.verify(rootX.publicKey), 'signature verifies with the root key');
  t.ok(x.checkPrivateKey(createPrivateKey(issued.keyPem)), 'for the key the client generated');
  t.equal(issued.notAfter.getTime() - issueAtSec, 24 * HOUR, 'lives 24 h');
  t.equal(issued.notBefore.getTime(), issueAtSec - 60_000, 'backdated a minute for skew');
  t.equal(issued.trustBundlePem, root.ca, 'trust bundle = the root');
  t.equal(await counter(registry, 'ok', 'none'), 1, 'counted as ok');
  const ok = lines.find((l) => l.fields.outcome === 'ok');
  t.ok(ok, 'logged');
  t.match(ok!.fields, { namespace: 'shop', serviceAccount: 'frontend', pod: 'frontend-7d9f', spiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend' });
  t.notOk(JSON.stringify(lines).includes(tok), 'the token is never logged');
  t.notOk(JSON.stringify(lines).includes(tok.split('.')[2]), 'not even its signature');
});

void t.test('the CSR cannot choose the identity: a CSR naming someone else gets the token\'s identity', async (t) => {
  const { addr } = await startCa(t);
  // A CSR that asks for the payment service's SPIFFE id (subject CN and a URI SAN).
  const forgeLib = (await import('node-forge')).default;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const csr = forgeLib.pki.createCertificationRequest();
  csr.publicKey = forgeLib.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: 'spiffe://cluster.local/ns/shop/sa/payment' }]);
  csr.setAttributes([
    { name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: 'spiffe://cluster.local/ns/shop/sa/payment' }] }] },
  ]);
  csr.sign(forgeLib.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), forgeLib.md.sha256.create());
  const csrPem = forgeLib.pki.certificationRequestToPem(csr);
  const { res, err } = await rawSign(addr, { csr_pem: csrPem }, `Bearer ${await token({ namespace: 'shop', serviceAccount: 'frontend' })}`);
  t.notOk(err, 'signed');
  const x = new X509Certificate(res!.cert_chain_pem);
  t.equal(x.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/frontend', 'only the token\'s identity');
  t.notMatch(x.subjectAltName, /payment/);
  t.notOk(x.subject, 'nothing of the CSR\'s subject');
  t.equal(res!.spiffe_id, 'spiffe://cluster.local/ns/shop/sa/frontend');
  t.equal(Number(res!.not_after_unix_ms) - issueAtSec, 24 * HOUR, 'not_after in unix ms');
});

void t.test('tokens that prove nothing are UNAUTHENTICATED, each with its own reason', async (t) => {
  const { addr, registry, lines } = await startCa(t);
  const { csrPem } = createWorkloadCsr();
  const id = { namespace: 'shop', serviceAccount: 'frontend' };
  const cases: [string, string | undefined, RegExp, string][] = [
    ['missing', undefined, /CA_ERR_TOKEN_MISSING: no token: send .*authorization: Bearer <token>/, 'CA_ERR_TOKEN_MISSING'],
    // A trailing space never arrives: HTTP/2 drops field values that end in whitespace.
    ['empty Bearer', 'Bearer', /CA_ERR_TOKEN_MISSING: the Bearer token .* is empty/, 'CA_ERR_TOKEN_MISSING'],
    ['not Bearer', 'Basic dXNlcjpwYXNz', /CA_ERR_TOKEN_MISSING: .* not a Bearer token/, 'CA_ERR_TOKEN_MISSING'],
    ['garbage', 'Bearer not-a-jwt', /CA_ERR_TOKEN_INVALID: the token is not a valid JWT/, 'CA_ERR_TOKEN_INVALID'],
    ['another key', `Bearer ${await token(id, { key: otherKey.privateKey })}`, /CA_ERR_TOKEN_INVALID: the token's signature does not verify/, 'CA_ERR_TOKEN_INVALID'],
    ['wrong audience', `Bearer ${await token(id, { audience: 'vault' })}`, /CA_ERR_TOKEN_AUDIENCE: the token is for audience \["vault"\], not "meshtap-ca"/, 'CA_ERR_TOKEN_AUDIENCE'],
    [
      'expired',
      `Bearer ${await token(id, { now: new Date(issueAt.getTime() - 2 * HOUR), ttlSeconds: 600 })}`,
      /CA_ERR_TOKEN_EXPIRED: the token expired at \d{4}-/,
      'CA_ERR_TOKEN_EXPIRED',
    ],
  ];
  const messages = new Set<string>();
  for (const [name, authorization, message] of cases) {
    const { err, res } = await rawSign(addr, { csr_pem: csrPem }, authorization);
    t.notOk(res, `${name}: no certificate`);
    t.equal(err?.code, grpc.status.UNAUTHENTICATED, `${name}: UNAUTHENTICATED`);
    t.match(err?.details, message, `${name}: says why`);
    messages.add(err?.details.replace(/\d{4}-\S+/, '') ?? '');
  }
  t.equal(messages.size, cases.length, 'every reason reads differently');
  t.equal(await counter(registry, 'unauthenticated', 'CA_ERR_TOKEN_MISSING'), 3);
  t.equal(await counter(registry, 'unauthenticated', 'CA_ERR_TOKEN_INVALID'), 2);
  t.equal(await counter(registry, 'unauthenticated', 'CA_ERR_TOKEN_AUDIENCE'), 1);
  t.equal(await counter(registry, 'unauthenticated', 'CA_ERR_TOKEN_EXPIRED'), 1);
  t.equal(await counter(registry, 'ok', 'none'), 0, 'nothing issued');
  t.equal(lines.filter((l) => l.level === 'warn').length, cases.length, 'each refusal logged as a warning');
  for (const [, authorization] of cases) {
    const secret = authorization?.split(' ')[1];
    if (secret && secret.length > 20) t.notOk(JSON.stringify(lines).includes(secret), 'refused tokens are not logged either');
  }
});

void t.test('a genuine token that names no service account is PERMISSION_DENIED', async (t) => {
  const { addr, registry } = await startCa(t);
  const { csrPem } = createWorkloadCsr();
  const iat = Math.floor(issueAt.getTime() / 1000);
  const userToken = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setSubject('alice@example.com')
    .setAudience('meshtap-ca')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 600)
    .sign(tokenKey.privateKey);
  const { err } = await rawSign(addr, { csr_pem: csrPem }, `Bearer ${userToken}`);
  t.equal(err?.code, grpc.status.PERMISSION_DENIED);
  t.match(err?.details, /CA_ERR_TOKEN_IDENTITY: the token's subject "alice@example.com" is not a service account/);
  t.equal(await counter(registry, 'permission_denied', 'CA_ERR_TOKEN_IDENTITY'), 1);
});

void t.test('a bad CSR is INVALID_ARGUMENT, checked only after the token', async (t) => {
  const { addr, registry } = await startCa(t);
  const auth = `Bearer ${await token({ namespace: 'shop', serviceAccount: 'frontend' })}`;
  const garbage = await rawSign(addr, { csr_pem: 'hello, I am not a CSR' }, auth);
  t.equal(garbage.err?.code, grpc.status.INVALID_ARGUMENT);
  t.match(garbage.err?.details, /^CA_ERR_BAD_CSR: /);
  const empty = await rawSign(addr, {}, auth);
  t.equal(empty.err?.code, grpc.status.INVALID_ARGUMENT);
  t.match(empty.err?.details, /CA_ERR_BAD_CSR: the request carries no CSR/);
  const huge = await rawSign(addr, { csr_pem: 'x'.repeat(20_000) }, auth);
  t.equal(huge.err?.code, grpc.status.INVALID_ARGUMENT);
  t.match(huge.err?.details, /larger than 16384 bytes/);
  t.equal(await counter(registry, 'invalid_argument', 'CA_ERR_BAD_CSR'), 3);
  const unauthenticated = await rawSign(addr, { csr_pem: 'garbage' });
  t.equal(unauthenticated.err?.code, grpc.status.UNAUTHENTICATED, 'without a token the CSR is not even looked at');
});

void t.test('requested validity is capped at the maximum, shorter requests honoured', async (t) => {
  const { addr } = await startCa(t, { maxValidityHours: 12 });
  const auth = `Bearer ${await token({ namespace: 'shop', serviceAccount: 'frontend' })}`;
  const { csrPem } = createWorkloadCsr();
  const long = await rawSign(addr, { csr_pem: csrPem, validity_seconds: 7 * 24 * 3600 }, auth);
  t.equal(Number(long.res?.not_after_unix_ms) - issueAtSec, 12 * HOUR, 'a week asked, 12 h given');
  const short = await rawSign(addr, { csr_pem: csrPem, validity_seconds: 3600 }, auth);
  t.equal(Number(short.res?.not_after_unix_ms) - issueAtSec, HOUR, 'an hour asked, an hour given');
  const dflt = await rawSign(addr, { csr_pem: csrPem }, auth);
  t.equal(Number(dflt.res?.not_after_unix_ms) - issueAtSec, 12 * HOUR, 'nothing asked: the maximum');
});

void t.test('backend and signing failures: UNAVAILABLE and INTERNAL, counted and logged as errors', async (t) => {
  const down: Authenticator = {
    kind: 'stub',
    authenticate: () => Promise.reject(new MeshtapError(CA_ERR_AUTHN_UNAVAILABLE, 'the API server is not answering')),
  };
  const a = await startCa(t, { authenticator: down });
  const { csrPem } = createWorkloadCsr();
  const r1 = await rawSign(a.addr, { csr_pem: csrPem }, 'Bearer x.y.z');
  t.equal(r1.err?.code, grpc.status.UNAVAILABLE);
  t.match(r1.err?.details, /CA_ERR_AUTHN_UNAVAILABLE: the API server is not answering/);
  t.equal(await counter(a.registry, 'unavailable', 'CA_ERR_AUTHN_UNAVAILABLE'), 1);

  // The CA's clock is past the CA's expiry: signing itself fails.
  const late = new Date(Date.now() + 3651 * 24 * HOUR);
  const b = await startCa(t, { clock: () => late, authenticator: createJwtKeyAuthenticator({ key: tokenKey.publicKey, now: () => late }) });
  const r2 = await rawSign(b.addr, { csr_pem: csrPem }, `Bearer ${await token({ namespace: 'shop', serviceAccount: 'frontend' }, { now: late })}`);
  t.equal(r2.err?.code, grpc.status.INTERNAL);
  t.match(r2.err?.details, /CA_ERR_CA_EXPIRED: the CA is valid from/);
  t.equal(await counter(b.registry, 'internal', 'CA_ERR_CA_EXPIRED'), 1);
  t.ok(b.lines.some((l) => l.level === 'error' && l.fields.code === 'CA_ERR_CA_EXPIRED'), 'logged as an error');

  const broken: Authenticator = { kind: 'stub', authenticate: () => Promise.reject(new TypeError('internal detail x is undefined')) };
  const c = await startCa(t, { authenticator: broken });
  const r3 = await rawSign(c.addr, { csr_pem: csrPem }, 'Bearer x.y.z');
  t.equal(r3.err?.code, grpc.status.INTERNAL);
  t.notMatch(r3.err?.details, /internal detail/, 'unexpected errors are not described to callers');
  t.match(c.lines.find((l) => l.level === 'error')?.fields.error, /internal detail x is undefined/, 'but logged');
  t.equal(await counter(c.registry, 'internal', 'unexpected'), 1);
});

void t.test('root rotation: old+new bundle, signing switched to the new root without a restart', async (t) => {
  const newRoot = createRootCa({ trustDomain: 'cluster.local', commonName: 'meshtap root CA 2' });
  const both = mergeTrustBundles(newRoot.cert, root.cert);
  const { addr, server } = await startCa(t, { trustBundlePem: both });
  const tok = await token({ namespace: 'shop', serviceAccount: 'frontend' });
  const before = await requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: tok });
  t.equal(before.trustBundlePem, both, 'both roots published');
  t.ok(new X509Certificate(before.certPem).checkIssued(rootX), 'still signed by the old root');

  t.equal((await errorCode(() => server.service.update({ ca: newRoot, trustBundlePem: root.cert }))).code, CA_ERR_BAD_BUNDLE, 'a bundle without the signing root is refused');
  t.equal((await errorCode(() => server.service.update({ ca: createRootCa({ trustDomain: 'cluster.local' }) }))).code, CA_ERR_BAD_BUNDLE, 'a signer outside the published bundle is refused');
  t.equal(server.service.trustBundle(), both, 'refusals change nothing');
  server.service.update({ ca: newRoot });
  t.equal(server.service.trustBundle(), both, 'switching the signer keeps the published bundle');
  const after = await requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: tok });
  const x = new X509Certificate(after.certPem);
  const newX = new X509Certificate(newRoot.cert);
  t.ok(x.checkIssued(newX) && x.verify(newX.publicKey), 'signed by the new root');
  t.notOk(x.checkIssued(rootX), 'not by the old one');
  t.equal(after.trustBundlePem, both);

  server.service.update({ trustBundlePem: newRoot.cert });
  const dropped = await requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: tok });
  t.equal(dropped.trustBundlePem, newRoot.cert, 'old root dropped from the bundle');
});

void t.test('configuration is checked up front', async (t) => {
  const base = { ca: signer, authenticator: createJwtKeyAuthenticator({ key: tokenKey.publicKey }), port: 0 };
  let e = await errorCode(() => startCaServer(base));
  t.equal(e.code, CA_ERR_BAD_OPTION);
  t.match(e.message, /"tls".*required/);
  e = await errorCode(() => startCaServer({ ...base, tls: { cert: serving.cert, key: serving.key }, trustDomain: 'other.example' }));
  t.equal(e.code, CA_ERR_BAD_OPTION);
  t.match(e.message, /but the CA certificate was made for trust domain "cluster.local": use "cluster.local" \(the controller's --trust-domain\)/);
  e = await errorCode(() => startCaServer({ ...base, tls: { cert: serving.cert, key: serving.key }, trustBundlePem: createRootCa().cert }));
  t.equal(e.code, CA_ERR_BAD_BUNDLE);
  e = await errorCode(() => startCaServer({ ...base, tls: { cert: serving.cert, key: serving.key }, maxValidityHours: -1 }));
  t.equal(e.code, CA_ERR_BAD_OPTION);
  t.match(e.message, /maxValidityHours/);
});
