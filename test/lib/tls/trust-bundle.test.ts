import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { CA_ERR_BAD_BUNDLE, CA_ERR_BAD_PEM, CA_ERR_NOT_CA } from '../../../lib/tls/errors.ts';
import { createRootCa } from '../../../certs/root-ca.ts';
import { mergeTrustBundles, parseTrustBundle } from '../../../lib/tls/trust-bundle.ts';
import { issueWebhookCert } from '../../../certs/webhook-cert.ts';
import { errorCode } from '../../certs/helpers.ts';

const now = new Date('2030-01-01T00:00:00Z');
const oldRoot = createRootCa({ now, commonName: 'old root' });
const newRoot = createRootCa({ now, commonName: 'new root' });
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

void t.test('one certificate per PEM, in order, whatever surrounds them', async (t) => {
  t.same(parseTrustBundle(oldRoot.cert).map(fp), [fp(oldRoot.cert)]);
  const messy = `# rotation bundle\r\n${newRoot.cert.replace(/\n/g, '\r\n')}\nsubject=old root\n${oldRoot.cert}\n\n`;
  const pems = parseTrustBundle(messy);
  t.same(pems.map(fp), [fp(newRoot.cert), fp(oldRoot.cert)]);
  for (const pem of pems) t.match(pem, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
});

void t.test('merge: old and new roots, each once', async (t) => {
  const merged = mergeTrustBundles(newRoot.cert, oldRoot.cert + newRoot.cert, oldRoot.cert);
  t.same(parseTrustBundle(merged).map(fp), [fp(newRoot.cert), fp(oldRoot.cert)]);
});

void t.test('anything but CA certificates is refused', async (t) => {
  let err = await errorCode(() => parseTrustBundle(oldRoot.cert + oldRoot.key));
  t.equal(err.code, CA_ERR_BAD_PEM);
  t.match(err.message, /block 2 is a "PRIVATE KEY"/);
  t.equal((await errorCode(() => parseTrustBundle(''))).code, CA_ERR_BAD_BUNDLE);
  t.equal((await errorCode(() => parseTrustBundle('no pem here'))).code, CA_ERR_BAD_BUNDLE);
  t.equal((await errorCode(() => parseTrustBundle(oldRoot.cert.slice(0, 300)))).code, CA_ERR_BAD_PEM, 'truncated');
  const broken = oldRoot.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA');
  t.equal((await errorCode(() => parseTrustBundle(broken))).code, CA_ERR_BAD_PEM, 'corrupt DER');
  const mismatched = oldRoot.cert.replace('END CERTIFICATE', 'END X509 CRL');
  t.equal((await errorCode(() => parseTrustBundle(mismatched))).code, CA_ERR_BAD_PEM, 'BEGIN and END differ');
  const leaf = issueWebhookCert(oldRoot, { now }).cert;
  err = await errorCode(() => parseTrustBundle(oldRoot.cert + leaf, { source: 'ca.crt' }));
  t.equal(err.code, CA_ERR_NOT_CA);
  t.match(err.message, /^ca\.crt: certificate 2 \(CN=meshtap-controller/);
  t.equal(parseTrustBundle(leaf, { requireCa: false }).length, 1, 'leaves allowed when asked');
});
