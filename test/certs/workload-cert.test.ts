import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  CA_ERR_BAD_CSR,
  CA_ERR_BAD_IDENTITY,
  CA_ERR_BAD_OPTION,
  CA_ERR_CA_EXPIRED,
  CA_ERR_CSR_SIGNATURE,
  CA_ERR_UNSUPPORTED_KEY,
} from '../../certs/errors.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { loadSigningCa } from '../../certs/signing-ca.ts';
import { spiffeIdFor } from '../../certs/spiffe-id.ts';
import { mergeTrustBundles } from '../../lib/tls/trust-bundle.ts';
import { signWorkloadCsr } from '../../certs/workload-cert.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';
import { DAY, HOUR, errorCode, openssl, opensslExtensions, opensslVerify, tempDir } from './helpers.ts';

const now = new Date('2030-03-01T00:00:00.250Z');
const nowSec = Date.parse('2030-03-01T00:00:00Z');
const at = ['-attime', String(nowSec / 1000 + 60)];
const ca = createRootCa({ now });
const caX = new X509Certificate(ca.cert);
const frontend = spiffeIdFor({ namespace: 'shop', serviceAccount: 'frontend' });
const csr = createWorkloadCsr({ commonName: 'frontend-7d9f' });

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
function pemDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

void t.test('an X.509-SVID for the caller-given identity, 24 h by default', async (t) => {
  const issued = signWorkloadCsr(ca, csr.csrPem, { spiffeId: frontend, now });
  const x = new X509Certificate(issued.cert);
  t.equal(x.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/frontend', 'the only SAN is the SPIFFE id');
  t.notOk(x.subject, 'empty subject: nothing from the CSR');
  t.equal((await openssl(['x509', '-noout', '-subject'], issued.cert)).stdout.trim(), 'subject=', 'openssl sees an empty subject');
  t.equal(x.ca, false);
  t.ok(x.checkIssued(caX));
  t.ok(x.verify(caX.publicKey));
  t.ok(x.checkPrivateKey(createPrivateKey(csr.keyPem)), 'the certificate carries the CSR key');
  t.same(x.keyUsage.slice().sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'EKU serverAuth + clientAuth');
  t.equal(issued.ca, ca.cert);
  t.equal(issued.spiffeId, frontend);
  t.equal(issued.notBefore.getTime(), nowSec - 60_000, 'a minute back for clock skew');
  t.equal(issued.notAfter.getTime(), nowSec + 24 * HOUR, '24 h');
  t.equal(new Date(x.validFrom).getTime(), issued.notBefore.getTime(), 'returned notBefore is the certificate\'s');
  t.equal(new Date(x.validTo).getTime(), issued.notAfter.getTime(), 'returned notAfter is the certificate\'s');
  t.equal(issued.serialNumber.toUpperCase(), x.serialNumber);
});

void t.test('extensions checked by openssl; openssl verifies it for clients and servers', async (t) => {
  const issued = signWorkloadCsr(ca, csr.csrPem, { spiffeId: frontend, now });
  const ext = await opensslExtensions(issued.cert);
  t.match(ext, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
  t.match(ext, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
  t.match(ext, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
  t.match(ext, /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster.local\/ns\/shop\/sa\/frontend\n/);
  t.match(ext, /X509v3 Authority Key Identifier/);
  const dir = await tempDir(t);
  for (const purpose of ['sslclient', 'sslserver']) {
    const v = await opensslVerify(dir, ca.cert, issued.cert, [...at, '-purpose', purpose]);
    t.equal(v.code, 0, `${purpose}: ${v.stdout}${v.stderr}`);
  }
  const late = await opensslVerify(dir, ca.cert, issued.cert, ['-attime', String(nowSec / 1000 + 25 * 3600)]);
  t.not(late.code, 0, 'expired after 24 h');
});

void t.test('custom validity and injected clock', async (t) => {
  const later = new Date('2031-07-04T10:11:12Z');
  const oneHour = signWorkloadCsr(ca, csr.csrPem, { spiffeId: frontend, now: later, validityHours: 1 });
  t.equal(oneHour.notAfter.getTime(), later.getTime() + HOUR);
  t.equal(oneHour.notBefore.getTime(), later.getTime() - 60_000);
  const week = signWorkloadCsr(ca, csr.csrPem, { spiffeId: frontend, now, validityHours: 24 * 7 });
  t.equal(week.notAfter.getTime() - nowSec, 7 * DAY);
  const brief = createRootCa({ now, validityDays: 1 });
  const clamped = signWorkloadCsr(brief, csr.csrPem, { spiffeId: frontend, now, validityHours: 48 });
  t.equal(clamped.notAfter.getTime(), new Date(new X509Certificate(brief.cert).validTo).getTime(), 'clamped to the CA');
  t.equal((await errorCode(() => signWorkloadCsr(ca, csr.csrPem, { spiffeId: frontend, now, validityHours: 0 }))).code, CA_ERR_BAD_OPTION);
  t.equal(
    (await errorCode(() => signWorkloadCsr(ca, csr.csrPem, { spiffeId: frontend, now: new Date(nowSec + 3651 * DAY) }))).code,
    CA_ERR_CA_EXPIRED,
  );
});

void t.test('a CSR asking for someone else gets only the caller\'s identity', async (t) => {
  const dir = await tempDir(t);
  const keyFile = join(dir, 'k.pem');
  const csrFile = join(dir, 'req.pem');
  const made = await openssl([
    'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csrFile,
    '-subj', '/O=system:masters/CN=admin',
    '-addext', 'subjectAltName=URI:spiffe://cluster.local/ns/kube-system/sa/admin,DNS:kubernetes.default.svc,IP:10.96.0.1,email:root@example.com',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign',
  ]);
  t.equal(made.code, 0, made.stderr);
  const greedy = await readFile(csrFile, 'utf8');
  const text = await openssl(['req', '-noout', '-text', '-in', csrFile]);
  t.match(text.stdout, /spiffe:\/\/cluster.local\/ns\/kube-system\/sa\/admin/, 'the CSR really asks for the admin identity');
  t.match(text.stdout, /CA:TRUE/, 'and for a CA certificate');

  const issued = signWorkloadCsr(ca, greedy, { spiffeId: frontend, now });
  const x = new X509Certificate(issued.cert);
  t.equal(x.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/frontend');
  t.notOk(x.subject, 'nothing of the requested subject');
  t.equal(x.ca, false);
  t.notOk(x.checkHost('kubernetes.default.svc'));
  t.notOk(x.checkIP('10.96.0.1'));
  t.notOk(x.checkEmail('root@example.com'));
  t.ok(x.checkPrivateKey(createPrivateKey(await readFile(keyFile, 'utf8'))));
  const ext = await opensslExtensions(issued.cert);
  t.notMatch(ext, /Certificate Sign/);
});

void t.test('a tampered or forged CSR is refused', async (t) => {
  const der = pemDer(csr.csrPem);
  const at = der.indexOf('frontend-7d9f');
  t.ok(at > 0, 'the CSR holds the common name');
  const altered = Buffer.from(der);
  altered.write('frontend-7d9X', at);
  let err = await errorCode(() => signWorkloadCsr(ca, toPem('CERTIFICATE REQUEST', altered), { spiffeId: frontend, now }));
  t.equal(err.code, CA_ERR_CSR_SIGNATURE, 'altered subject');

  // The same CSR with another public key put in: the signature no longer matches.
  const other = createWorkloadCsr({ commonName: 'frontend-7d9f' });
  const otherDer = pemDer(other.csrPem);
  const spliced = Buffer.concat([otherDer.subarray(0, otherDer.length - 256), der.subarray(der.length - 256)]);
  err = await errorCode(() => signWorkloadCsr(ca, toPem('CERTIFICATE REQUEST', spliced), { spiffeId: frontend, now }));
  t.equal(err.code, CA_ERR_CSR_SIGNATURE, 'someone else\'s key with a signature they cannot make');
  t.match(err.message, /signature/);

  for (const [name, pem] of [
    ['empty', ''],
    ['garbage', 'hello'],
    ['a certificate', ca.cert],
    ['a private key', csr.keyPem],
    ['two CSRs', csr.csrPem + other.csrPem],
    ['truncated DER', toPem('CERTIFICATE REQUEST', der.subarray(0, 100))],
    ['cut-off PEM', csr.csrPem.slice(0, 200)],
  ] as const) {
    t.equal((await errorCode(() => signWorkloadCsr(ca, pem, { spiffeId: frontend, now }))).code, CA_ERR_BAD_CSR, name);
  }
});

void t.test('keys the CA does not sign for are refused', async (t) => {
  const dir = await tempDir(t);
  const ec = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ec.key'), '-subj', '/CN=x']);
  t.equal(ec.code, 0, ec.stderr);
  let err = await errorCode(() => signWorkloadCsr(ca, ec.stdout, { spiffeId: frontend, now }));
  t.equal(err.code, CA_ERR_UNSUPPORTED_KEY);
  t.match(err.message, /ec/);
  const weak = await openssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', join(dir, 'weak.key'), '-subj', '/CN=x']);
  t.equal(weak.code, 0, weak.stderr);
  err = await errorCode(() => signWorkloadCsr(ca, weak.stdout, { spiffeId: frontend, now }));
  t.equal(err.code, CA_ERR_UNSUPPORTED_KEY);
  t.match(err.message, /1024 bits/);
});

void t.test('the identity must be a valid SPIFFE id', async (t) => {
  for (const spiffeId of ['', 'spiffe://cluster.local', 'https://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/a/../b']) {
    t.equal((await errorCode(() => signWorkloadCsr(ca, csr.csrPem, { spiffeId, now }))).code, CA_ERR_BAD_IDENTITY, spiffeId);
  }
  t.equal((await errorCode(() => signWorkloadCsr(ca, csr.csrPem, {} as { spiffeId: string }))).code, CA_ERR_BAD_OPTION);
});

void t.test('a loaded CA and a rotation bundle', async (t) => {
  const newRoot = createRootCa({ now });
  const rotating = { ...newRoot, ca: mergeTrustBundles(newRoot.cert, ca.cert) };
  const signer = loadSigningCa(rotating);
  const issued = signWorkloadCsr(signer, csr.csrPem, { spiffeId: frontend, now });
  t.equal(issued.ca, mergeTrustBundles(newRoot.cert, ca.cert), 'the leaf comes with both roots');
  t.ok(new X509Certificate(issued.cert).verify(new X509Certificate(newRoot.cert).publicKey), 'signed by the new root');
  const a = signWorkloadCsr(signer, csr.csrPem, { spiffeId: frontend, now });
  t.not(a.serialNumber, issued.serialNumber, 'fresh serial per certificate');
});

void t.test('createWorkloadCsr makes a valid PKCS#10 request for a fresh RSA key', async (t) => {
  const v = await openssl(['req', '-verify', '-noout', '-text'], csr.csrPem);
  t.equal(v.code, 0, v.stderr);
  t.match(v.stdout + v.stderr, /verify OK|Certificate request self-signature verify OK/);
  t.match(v.stdout, /Public-Key: \(2048 bit\)/);
  t.match(v.stdout, /CN ?= ?frontend-7d9f/);
  t.match(csr.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  t.notMatch(csr.csrPem, /\r/);
  const bare = createWorkloadCsr();
  t.equal((await openssl(['req', '-verify', '-noout'], bare.csrPem)).code, 0);
  t.not(bare.keyPem, csr.keyPem);
});
