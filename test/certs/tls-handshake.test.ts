import type { AddressInfo } from 'node:net';
import { connect, createServer, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import t from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { loadSigningCa } from '../../certs/signing-ca.ts';
import { spiffeIdFor } from '../../certs/spiffe-id.ts';
import { mergeTrustBundles } from '../../lib/tls/trust-bundle.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { signWorkloadCsr } from '../../certs/workload-cert.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';

// Real handshakes use the real clock: certificates are issued now.
const ca = createRootCa({ trustDomain: 'cluster.local' });
const signer = loadSigningCa(ca);
const webhook = issueWebhookCert(signer);
const WEBHOOK_HOST = 'meshtap-controller.meshtap-system.svc';

function workload(from: Parameters<typeof signWorkloadCsr>[0], namespace: string, serviceAccount: string) {
  const { keyPem, csrPem } = createWorkloadCsr({ commonName: 'asks-for-anything' });
  const issued = signWorkloadCsr(from, csrPem, { spiffeId: spiffeIdFor({ namespace, serviceAccount }) });
  return { key: keyPem, cert: issued.cert, ca: issued.ca };
}

interface Seen {
  peers: { authorized: boolean; san: string | undefined }[];
  /** Why the server refused a client: the verification error of the client's certificate. */
  refusals: string[];
}

/** An mTLS server that demands a client certificate from its trust bundle. */
async function mtlsServer(t: { teardown: (fn: () => unknown) => void }, opts: { key: string; cert: string; ca: string }) {
  const seen: Seen = { peers: [], refusals: [] };
  const server = createServer({ ...opts, requestCert: true, rejectUnauthorized: true }, (socket) => {
    const peer = socket.getPeerCertificate() as PeerCertificate;
    seen.peers.push({ authorized: socket.authorized, san: peer.subjectaltname });
    socket.end('hello ' + (peer.subjectaltname ?? ''));
  });
  server.on('tlsClientError', (err, socket) => seen.refusals.push(String(socket.authorizationError ?? err.message)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, seen };
}

/** Connects, reads until the server closes; resolves with what was read or the error met. */
function talk(options: ConnectionOptions): Promise<{ data: string; error?: Error; peer?: PeerCertificate }> {
  return new Promise((resolve) => {
    let data = '';
    let peer: PeerCertificate | undefined;
    const socket: TLSSocket = connect(options);
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => {
      peer = socket.getPeerCertificate();
    });
    socket.on('data', (d: string) => (data += d));
    socket.on('error', (error) => resolve({ data, error, peer }));
    socket.on('close', () => resolve({ data, peer }));
  });
}

void t.test('the webhook serves its Service name; the client presents a workload SVID', async (t) => {
  const client = workload(signer, 'shop', 'frontend');
  const { port, seen } = await mtlsServer(t, { key: webhook.key, cert: webhook.cert, ca: ca.ca });
  const r = await talk({ host: '127.0.0.1', port, servername: WEBHOOK_HOST, ca: webhook.ca, key: client.key, cert: client.cert });
  t.equal(r.error, undefined, 'no error');
  t.equal(r.data, 'hello URI:spiffe://cluster.local/ns/shop/sa/frontend');
  t.same(seen.peers, [{ authorized: true, san: 'URI:spiffe://cluster.local/ns/shop/sa/frontend' }], 'the server sees the SPIFFE id');
  t.match(r.peer?.subjectaltname, /DNS:meshtap-controller\.meshtap-system\.svc\b/);
});

void t.test('a client certificate from another CA is rejected by the server', async (t) => {
  const foreign = workload(createRootCa(), 'shop', 'frontend');
  const { port, seen } = await mtlsServer(t, { key: webhook.key, cert: webhook.cert, ca: ca.ca });
  const r = await talk({ host: '127.0.0.1', port, servername: WEBHOOK_HOST, ca: webhook.ca, key: foreign.key, cert: foreign.cert });
  t.same(seen.peers, [], 'the server never accepted the connection');
  t.same(seen.refusals, ['UNABLE_TO_VERIFY_LEAF_SIGNATURE'], 'refused for its certificate');
  t.equal(r.data, '', 'the client got nothing');
});

void t.test('a client without a certificate is rejected', async (t) => {
  const { port, seen } = await mtlsServer(t, { key: webhook.key, cert: webhook.cert, ca: ca.ca });
  const r = await talk({ host: '127.0.0.1', port, servername: WEBHOOK_HOST, ca: webhook.ca });
  t.same(seen.peers, []);
  t.equal(seen.refusals.length, 1, `refused: ${seen.refusals.join()}`);
  t.equal(r.data, '');
});

void t.test('the webhook certificate does not pass for another host name', async (t) => {
  const client = workload(signer, 'shop', 'frontend');
  const { port } = await mtlsServer(t, { key: webhook.key, cert: webhook.cert, ca: ca.ca });
  const r = await talk({ host: '127.0.0.1', port, servername: 'api.example.com', ca: webhook.ca, key: client.key, cert: client.cert });
  t.match(r.error, { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

void t.test('sidecar to sidecar: both ends verify the other\'s SPIFFE id', async (t) => {
  const server = workload(signer, 'shop', 'payment');
  const client = workload(signer, 'shop', 'frontend');
  const { port, seen } = await mtlsServer(t, server);
  const expectId = (id: string) => (_host: string, cert: PeerCertificate) =>
    cert.subjectaltname === `URI:${id}` ? undefined : new Error(`peer is ${cert.subjectaltname}, expected ${id}`);
  const good = await talk({
    host: '127.0.0.1', port, ca: client.ca, key: client.key, cert: client.cert,
    checkServerIdentity: expectId('spiffe://cluster.local/ns/shop/sa/payment'),
  });
  t.equal(good.error, undefined);
  t.equal(good.peer?.subjectaltname, 'URI:spiffe://cluster.local/ns/shop/sa/payment');
  t.equal(seen.peers[0]?.san, 'URI:spiffe://cluster.local/ns/shop/sa/frontend');
  const wrong = await talk({
    host: '127.0.0.1', port, ca: client.ca, key: client.key, cert: client.cert,
    checkServerIdentity: expectId('spiffe://cluster.local/ns/shop/sa/auth'),
  });
  t.match(wrong.error?.message, /expected spiffe:\/\/cluster.local\/ns\/shop\/sa\/auth/);
});

void t.test('root rotation: a bundle with both roots accepts clients of either', async (t) => {
  const newRoot = createRootCa({ trustDomain: 'cluster.local' });
  const both = mergeTrustBundles(ca.cert, newRoot.cert);
  const { port, seen } = await mtlsServer(t, { key: webhook.key, cert: webhook.cert, ca: both });
  const oldClient = workload(signer, 'shop', 'frontend');
  const newClient = workload({ ...newRoot, ca: both }, 'shop', 'catalog');
  t.equal(newClient.ca, both, 'new leaves come with both roots');
  for (const c of [oldClient, newClient]) {
    const r = await talk({ host: '127.0.0.1', port, servername: WEBHOOK_HOST, ca: c.ca, key: c.key, cert: c.cert });
    t.equal(r.error, undefined);
  }
  t.same(seen.peers.map((p) => p.san), ['URI:spiffe://cluster.local/ns/shop/sa/frontend', 'URI:spiffe://cluster.local/ns/shop/sa/catalog']);
});
