import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { createJwtKeyAuthenticator, issueTestToken } from '../../certs/authn/jwt-key.ts';
import { CaRequestError, requestWorkloadCertificate } from '../../certs/ca-client.ts';
import { startCaServer } from '../../certs/ca-service.ts';
import { loadCaServiceDefinition, type SignRequestMessage, type SignResponseMessage } from '../../record/ca-proto.ts';
import { CA_ERR_BAD_OPTION, CA_ERR_CA_BAD_RESPONSE, CA_ERR_CA_REFUSED, CA_ERR_CA_UNAUTHENTICATED, CA_ERR_CA_UNAVAILABLE, CA_ERR_TOKEN_MISSING } from '../../certs/errors.ts';
import { CA_ERR_READ } from '../../lib/tls/errors.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { loadSigningCa } from '../../certs/signing-ca.ts';
import { spiffeIdFor } from '../../certs/spiffe-id.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { signWorkloadCsr } from '../../certs/workload-cert.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';
import { errorCode, tempDir } from './helpers.ts';

type Tap = { teardown: (fn: () => unknown) => void };

const root = createRootCa({ trustDomain: 'cluster.local' });
const signer = loadSigningCa(root);
const serving = issueWebhookCert(signer, { extraIps: ['127.0.0.1'] });
const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

async function realCa(t: Tap, tls = serving) {
  const server = await startCaServer({
    port: 0,
    tls: { cert: tls.cert, key: tls.key },
    ca: signer,
    authenticator: createJwtKeyAuthenticator({ key: tokenKey.publicKey }),
  });
  t.teardown(() => server.close({ graceMs: 100 }));
  return { addr: `127.0.0.1:${server.port}`, server };
}

/** A CA that answers whatever `answer` makes of the request: for answers a real CA never gives. */
async function fakeCa(t: Tap, answer: (req: SignRequestMessage) => SignResponseMessage | grpc.ServiceError) {
  const server = new grpc.Server();
  server.addService(loadCaServiceDefinition(), {
    Sign: (call: grpc.ServerUnaryCall<SignRequestMessage, SignResponseMessage>, cb: grpc.sendUnaryData<SignResponseMessage>) => {
      const r = answer(call.request);
      if ('code' in r) cb(r);
      else cb(null, r);
    },
  });
  const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(serving.cert), private_key: Buffer.from(serving.key) }], false);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  t.teardown(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const tokenFor = (namespace: string, serviceAccount: string, ttlSeconds = 600) => issueTestToken(tokenKey.privateKey, { namespace, serviceAccount, ttlSeconds });

async function failure(fn: () => Promise<unknown>): Promise<CaRequestError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CaRequestError) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

void t.test('a certificate from a token file, checked against the key and the bundle', async (t) => {
  const { addr } = await realCa(t);
  const dir = await tempDir(t);
  const tokenFile = join(dir, 'meshtap-token');
  await writeFile(tokenFile, `${await tokenFor('shop', 'frontend')}\n`);
  const got = await requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, tokenFile, keyBits: 3072 });
  t.equal(got.spiffeId, 'spiffe://cluster.local/ns/shop/sa/frontend');
  const x = new X509Certificate(got.certPem);
  t.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 3072, 'the key size asked for');
  t.equal(got.notAfter.getTime() - got.notBefore.getTime(), 24 * 3_600_000 + 60_000, '24 h plus the minute of skew');
  t.match(got.serialNumber, /^[0-9a-f]+$/);
  // The kubelet rotates the token in place: each request reads the file again.
  await writeFile(tokenFile, await tokenFor('shop', 'payment'));
  t.equal((await requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, tokenFile })).spiffeId, 'spiffe://cluster.local/ns/shop/sa/payment');

  let e = await errorCode(() => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, tokenFile: join(dir, 'missing') }));
  t.equal(e.code, CA_ERR_READ);
  t.match(e.message, /cannot read the service-account token .*missing/);
  await writeFile(join(dir, 'empty'), '\n');
  e = await errorCode(() => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, tokenFile: join(dir, 'empty') }));
  t.equal(e.code, CA_ERR_TOKEN_MISSING);
  e = await errorCode(() => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: 'a', tokenFile }));
  t.equal(e.code, CA_ERR_BAD_OPTION);
  t.match(e.message, /exactly one of "token" and "tokenFile"/);
  e = await errorCode(() => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca }));
  t.equal(e.code, CA_ERR_BAD_OPTION);
});

void t.test('a stopped CA: a clear UNAVAILABLE error well within the timeout', async (t) => {
  const { addr, server } = await realCa(t);
  await server.close();
  const token = await tokenFor('shop', 'frontend');
  const started = Date.now();
  const e = await failure(async () => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token, timeoutMs: 10_000 }));
  const elapsed = Date.now() - started;
  t.equal(e.code, CA_ERR_CA_UNAVAILABLE);
  t.equal(e.grpcStatus, grpc.status.UNAVAILABLE);
  t.match(e.message, new RegExp(`the CA at ${addr.replace(/\./g, '\\.')} is unavailable \\(UNAVAILABLE\\)`));
  t.ok(elapsed < 5000, `failed in ${elapsed} ms, well before the 10 s timeout`);

  const nobody = `127.0.0.1:${await freePort()}`;
  const e2 = await failure(async () => requestWorkloadCertificate({ caAddr: nobody, trustBundlePem: root.ca, token: 'x', timeoutMs: 3000 }));
  t.equal(e2.code, CA_ERR_CA_UNAVAILABLE, 'nothing ever listened there either');
});

void t.test('a CA that accepts connections but never answers: UNAVAILABLE at the timeout', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const addr = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const started = Date.now();
  const e = await failure(() => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: 'x', timeoutMs: 700 }));
  const elapsed = Date.now() - started;
  t.equal(e.code, CA_ERR_CA_UNAVAILABLE);
  t.ok([grpc.status.DEADLINE_EXCEEDED, grpc.status.UNAVAILABLE].includes(e.grpcStatus), `status ${grpc.status[e.grpcStatus]}`);
  t.ok(elapsed >= 500 && elapsed < 5000, `gave up after ${elapsed} ms (timeout 700 ms)`);
  if (e.grpcStatus === grpc.status.DEADLINE_EXCEEDED) t.match(e.message, /did not answer within 700 ms/);
});

void t.test('the CA is verified: another CA\'s server, or a name it does not carry, is refused', async (t) => {
  const impostor = createRootCa();
  const impostorServing = issueWebhookCert(impostor, { extraIps: ['127.0.0.1'] });
  const fake = await realCa(t, impostorServing);
  const e = await failure(async () => requestWorkloadCertificate({ caAddr: fake.addr, trustBundlePem: root.ca, token: await tokenFor('shop', 'frontend'), timeoutMs: 3000 }));
  t.equal(e.code, CA_ERR_CA_UNAVAILABLE, 'the token is never sent to a server we cannot verify');
  t.match(e.message, /certificate|self.signed|verify/i);

  // A serving certificate for the Service names only; reached by IP with the Service name checked.
  const byName = await realCa(t, issueWebhookCert(signer));
  const got = await requestWorkloadCertificate({
    caAddr: byName.addr,
    trustBundlePem: root.ca,
    token: await tokenFor('shop', 'frontend'),
    serverName: 'meshtap-controller.meshtap-system.svc',
  });
  t.equal(got.spiffeId, 'spiffe://cluster.local/ns/shop/sa/frontend');
  const e2 = await failure(async () => requestWorkloadCertificate({ caAddr: byName.addr, trustBundlePem: root.ca, token: await tokenFor('shop', 'frontend'), timeoutMs: 3000 }));
  t.equal(e2.code, CA_ERR_CA_UNAVAILABLE, 'without the name, 127.0.0.1 is not in the certificate');
});

void t.test('refusals keep the CA\'s reason', async (t) => {
  const { addr } = await realCa(t);
  const expired = await issueTestToken(tokenKey.privateKey, { namespace: 'shop', serviceAccount: 'frontend', ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) });
  const e = await failure(() => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: expired }));
  t.equal(e.code, CA_ERR_CA_UNAUTHENTICATED);
  t.equal(e.grpcStatus, grpc.status.UNAUTHENTICATED);
  t.equal(e.remoteCode, 'CA_ERR_TOKEN_EXPIRED');
  t.match(e.message, /refused the token \(UNAUTHENTICATED\): CA_ERR_TOKEN_EXPIRED: the token expired at/);

  const picky = await fakeCa(t, () => ({ code: grpc.status.INVALID_ARGUMENT, details: 'CA_ERR_UNSUPPORTED_KEY: no', metadata: new grpc.Metadata() }) as grpc.ServiceError);
  const e2 = await failure(() => requestWorkloadCertificate({ caAddr: picky, trustBundlePem: root.ca, token: 'x' }));
  t.equal(e2.code, CA_ERR_CA_REFUSED);
  t.equal(e2.remoteCode, 'CA_ERR_UNSUPPORTED_KEY');
  t.match(e2.message, /answered INVALID_ARGUMENT: CA_ERR_UNSUPPORTED_KEY: no/);
});

void t.test('answers that would be wrong to use are refused', async (t) => {
  const frontend = spiffeIdFor({ namespace: 'shop', serviceAccount: 'frontend' });
  const answer = (cert: string, spiffeId: string, bundle = root.ca): SignResponseMessage => ({
    cert_chain_pem: cert,
    trust_bundle_pem: bundle,
    not_before_unix_ms: '0',
    not_after_unix_ms: '0',
    spiffe_id: spiffeId,
    serial_number: '01',
  });
  const otherKeyCert = signWorkloadCsr(signer, createWorkloadCsr().csrPem, { spiffeId: frontend }).cert;
  const otherRoot = createRootCa();
  const cases: [string, (req: SignRequestMessage) => SignResponseMessage, RegExp][] = [
    ['another key', () => answer(otherKeyCert, frontend), /not for the key this request sent/],
    ['another root', (req) => answer(signWorkloadCsr(otherRoot, req.csr_pem, { spiffeId: frontend }).cert, frontend), /not issued by any root in the returned trust bundle/],
    ['another identity', (req) => answer(signWorkloadCsr(signer, req.csr_pem, { spiffeId: frontend }).cert, 'spiffe://cluster.local/ns/shop/sa/payment'), /is not the announced identity/],
    ['no certificate', () => answer('', frontend), /does not parse/],
    ['a bundle with a key in it', (req) => answer(signWorkloadCsr(signer, req.csr_pem, { spiffeId: frontend }).cert, frontend, root.ca + root.key), /only CERTIFICATE blocks/],
  ];
  for (const [name, make, why] of cases) {
    const addr = await fakeCa(t, make);
    const e = await errorCode(() => requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: 'x' }));
    t.equal(e.code, CA_ERR_CA_BAD_RESPONSE, name);
    t.match(e.message, why, name);
  }
});
