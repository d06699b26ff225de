import { X509Certificate, createPrivateKey } from 'node:crypto';
import t from 'tap';
import { CA_ERR_BAD_IDENTITY, CA_ERR_BAD_OPTION } from '../../certs/errors.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { createSerialNumber } from '../../certs/serial-number.ts';
import { DAY, errorCode, openssl, opensslExtensions, opensslVerify, tempDir } from './helpers.ts';

const now = new Date('2031-05-06T07:08:09.654Z');
const ca = createRootCa({ now, trustDomain: 'cluster.local' });
const x = new X509Certificate(ca.cert);

void t.test('the root is a self-signed CA certificate', async (t) => {
  t.equal(ca.ca, ca.cert, 'ca is the CA certificate itself');
  t.equal(x.ca, true);
  t.equal(x.subject, 'O=meshtap\nCN=meshtap root CA');
  t.equal(x.issuer, x.subject);
  t.ok(x.checkIssued(x), 'issued by itself');
  t.ok(x.verify(x.publicKey), 'signed by its own key');
  t.ok(x.checkPrivateKey(createPrivateKey(ca.key)), 'the key belongs to the certificate');
  t.match(ca.key, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8 key');
  t.notMatch(ca.cert, /\r/, 'LF line ends');
  t.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  t.equal(x.subjectAltName, 'URI:spiffe://cluster.local', 'the trust domain is recorded');
});

void t.test('validity: ten years from now, backdated a minute', async (t) => {
  t.equal(new Date(x.validFrom).getTime(), Date.parse('2031-05-06T07:07:09Z'));
  t.equal(new Date(x.validTo).getTime(), Date.parse('2031-05-06T07:08:09Z') + 3650 * DAY);
  const short = new X509Certificate(createRootCa({ now, validityDays: 2, commonName: 'test root' }).cert);
  t.equal(new Date(short.validTo).getTime(), Date.parse('2031-05-06T07:08:09Z') + 2 * DAY);
  t.equal(short.subject, 'O=meshtap\nCN=test root');
  t.equal(short.subjectAltName, undefined, 'no trust domain unless asked');
});

void t.test('extensions as a CA needs them, checked by openssl', async (t) => {
  const ext = await opensslExtensions(ca.cert);
  t.match(ext, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0/);
  t.match(ext, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
  t.match(ext, /X509v3 Subject Key Identifier:\s*\n\s+[0-9A-F:]{59}\n/);
  const text = await openssl(['x509', '-noout', '-text'], ca.cert);
  t.match(text.stdout, /Signature Algorithm: sha256WithRSAEncryption/);
  const v = await opensslVerify(await tempDir(t), ca.cert, ca.cert, ['-attime', String(now.getTime() / 1000 | 0)]);
  t.equal(v.code, 0, `openssl accepts the root as its own anchor: ${v.stdout}${v.stderr}`);
});

void t.test('serial numbers: 16 random bytes, positive, minimally encoded', async (t) => {
  t.match(x.serialNumber, /^[0-7][0-9A-F]{31}$/);
  t.not(x.serialNumber, new X509Certificate(createRootCa({ now }).cert).serialNumber, 'random');
  t.equal(createSerialNumber(() => Buffer.alloc(16, 0xff)), '7f' + 'ff'.repeat(15), 'high bit cleared');
  t.equal(createSerialNumber(() => Buffer.alloc(16, 0x80)), '01' + '80'.repeat(15), 'no zero first byte');
  t.equal(createSerialNumber(() => Buffer.alloc(16, 0)), '01' + '00'.repeat(15), 'never zero');
});

void t.test('a larger key on request', async (t) => {
  const big = createRootCa({ keyBits: 3072, now });
  t.equal(new X509Certificate(big.cert).publicKey.asymmetricKeyDetails?.modulusLength, 3072);
});

void t.test('bad options are refused with the option named', async (t) => {
  let err = await errorCode(() => createRootCa({ keyBits: 1024 }));
  t.equal(err.code, CA_ERR_BAD_OPTION);
  t.match(err.message, /createRootCa: option "keyBits".*got 1024/);
  err = await errorCode(() => createRootCa({ validityDays: 0 }));
  t.match(err, { code: CA_ERR_BAD_OPTION, message: /validityDays/ });
  err = await errorCode(() => createRootCa({ now: new Date('nope') }));
  t.match(err, { code: CA_ERR_BAD_OPTION, message: /now/ });
  err = await errorCode(() => createRootCa({ commonName: '' }));
  t.match(err, { code: CA_ERR_BAD_OPTION, message: /commonName/ });
  err = await errorCode(() => createRootCa({ trustDomain: 'a/b' }));
  t.equal(err.code, CA_ERR_BAD_IDENTITY);
});
