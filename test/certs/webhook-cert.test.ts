import { X509Certificate, createPrivateKey } from 'node:crypto';
import { SocketAddress } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { CA_ERR_BAD_DNS_NAME, CA_ERR_BAD_IP, CA_ERR_BAD_OPTION, CA_ERR_CA_EXPIRED } from '../../certs/errors.ts';
import { CA_ERR_BAD_BUNDLE, CA_ERR_BAD_PEM, CA_ERR_KEY_MISMATCH, CA_ERR_NOT_CA } from '../../lib/tls/errors.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { ipAddressBytes } from '../../certs/san-names.ts';
import { loadSigningCa } from '../../certs/signing-ca.ts';
import { issueWebhookCert, webhookDnsNames } from '../../certs/webhook-cert.ts';
import { DAY, errorCode, opensslExtensions, opensslVerify, tempDir } from './helpers.ts';

const now = new Date('2030-01-15T12:00:00.000Z');
const at = ['-attime', String(now.getTime() / 1000 + 3600)];
const ca = createRootCa({ now, trustDomain: 'cluster.local' });
const caX = new X509Certificate(ca.cert);
const issued = issueWebhookCert(ca, { now });
const x = new X509Certificate(issued.cert);

void t.test('default webhook certificate: names of the controller Service, issued by the CA', async (t) => {
  t.equal(
    x.subjectAltName,
    'DNS:meshtap-controller, DNS:meshtap-controller.meshtap-system, DNS:meshtap-controller.meshtap-system.svc, DNS:meshtap-controller.meshtap-system.svc.cluster.local',
  );
  t.equal(x.subject, 'CN=meshtap-controller.meshtap-system.svc');
  t.equal(x.ca, false);
  t.ok(x.checkIssued(caX), 'issuer matches the CA');
  t.ok(x.verify(caX.publicKey), 'signed by the CA key');
  t.notOk(x.verify(x.publicKey), 'not self-signed');
  t.ok(x.checkPrivateKey(createPrivateKey(issued.key)), 'key belongs to the certificate');
  t.equal(issued.ca, ca.cert, 'ca is the CA trust bundle');
  t.same(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'EKU serverAuth only');
  t.ok(x.checkHost('meshtap-controller.meshtap-system.svc'), 'Node accepts the Service host name');
  t.notOk(x.checkHost('other.meshtap-system.svc'));
});

void t.test('validity: 365 days by default, backdated a minute, custom on request', async (t) => {
  t.equal(new Date(x.validFrom).getTime(), now.getTime() - 60_000);
  t.equal(new Date(x.validTo).getTime(), now.getTime() + 365 * DAY);
  const short = new X509Certificate(issueWebhookCert(ca, { now, validityDays: 7 }).cert);
  t.equal(new Date(short.validTo).getTime(), now.getTime() + 7 * DAY);
});

void t.test('never outlives its CA', async (t) => {
  const brief = createRootCa({ now, validityDays: 10 });
  const leaf = new X509Certificate(issueWebhookCert(brief, { now }).cert);
  t.equal(leaf.validTo, new X509Certificate(brief.cert).validTo);
});

void t.test('extensions checked by openssl, and openssl verifies it for TLS servers', async (t) => {
  const ext = await opensslExtensions(issued.cert);
  t.match(ext, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
  t.match(ext, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
  t.match(ext, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
  const caExt = await opensslExtensions(ca.cert);
  const caSki = /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(caExt)?.[1];
  t.ok(caSki);
  t.match(ext, new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${caSki}`), 'AKI is the CA key id');
  const dir = await tempDir(t);
  const ok = await opensslVerify(dir, ca.cert, issued.cert, [...at, '-purpose', 'sslserver']);
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  const other = createRootCa({ now });
  const bad = await opensslVerify(dir, other.cert, issued.cert, at);
  t.not(bad.code, 0, 'another CA does not verify it');
});

void t.test('service, namespace and extra names', async (t) => {
  const c = new X509Certificate(
    issueWebhookCert(ca, {
      now,
      service: 'hook',
      namespace: 'ops',
      extraDnsNames: ['Hook.Example.com', 'hook'],
      extraIps: ['10.96.0.10', '2001:db8::1', '::ffff:192.0.2.1'],
    }).cert,
  );
  t.same(webhookDnsNames('hook', 'ops'), ['hook', 'hook.ops', 'hook.ops.svc', 'hook.ops.svc.cluster.local']);
  t.equal(
    c.subjectAltName,
    'DNS:hook, DNS:hook.ops, DNS:hook.ops.svc, DNS:hook.ops.svc.cluster.local, DNS:hook.example.com, ' +
      'IP Address:10.96.0.10, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:C000:201',
  );
  t.ok(c.checkIP('10.96.0.10'));
  t.ok(c.checkIP('2001:db8::1'));
});

void t.test('bad names are refused with a CA_ERR_* code', async (t) => {
  for (const ip of ['10.0.0', '300.1.1.1', '10.0.0.1/24', 'fe80::1%eth0', 'localhost', '', '1.2.3.4 ']) {
    t.equal((await errorCode(() => issueWebhookCert(ca, { now, extraIps: [ip] }))).code, CA_ERR_BAD_IP, JSON.stringify(ip));
  }
  for (const dns of ['*.example.com', 'a..b', '-a.example', 'a_b.example', '', 'a'.repeat(64) + '.x', 'a b']) {
    t.equal((await errorCode(() => issueWebhookCert(ca, { now, extraDnsNames: [dns] }))).code, CA_ERR_BAD_DNS_NAME, JSON.stringify(dns));
  }
  t.equal((await errorCode(() => issueWebhookCert(ca, { now, service: 'Bad_Name' }))).code, CA_ERR_BAD_OPTION);
  t.equal((await errorCode(() => issueWebhookCert(ca, { now, validityDays: -1 }))).code, CA_ERR_BAD_OPTION);
});

void t.test('IP SAN octets match what the system parser makes of any address', async (t) => {
  const canonical = (address: string, family: 'ipv4' | 'ipv6') => new SocketAddress({ address, family }).address;
  const fromBytes = (b: Buffer) =>
    b.length === 4 ? [...b].join('.') : Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
  fc.assert(
    fc.property(fc.ipV4(), (ip) => fromBytes(ipAddressBytes(ip)) === canonical(ip, 'ipv4')),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.ipV6(), (ip) => canonical(fromBytes(ipAddressBytes(ip)), 'ipv6') === canonical(ip, 'ipv6')),
    { numRuns: 1000 },
  );
  t.same([...ipAddressBytes('::')], new Array(16).fill(0));
  t.same([...ipAddressBytes('1::')], [0, 1, ...new Array(14).fill(0)]);
});

void t.test('the signing CA is checked before use', async (t) => {
  const other = createRootCa({ now });
  t.equal((await errorCode(() => issueWebhookCert({ ...ca, key: other.key }, { now }))).code, CA_ERR_KEY_MISMATCH);
  t.equal((await errorCode(() => issueWebhookCert({ ...ca, ca: other.cert }, { now }))).code, CA_ERR_BAD_BUNDLE);
  t.equal((await errorCode(() => issueWebhookCert({ ...issued }, { now }))).code, CA_ERR_NOT_CA, 'a leaf cannot sign');
  t.equal((await errorCode(() => issueWebhookCert({ ...ca, cert: 'junk' }, { now }))).code, CA_ERR_BAD_PEM);
  t.equal((await errorCode(() => issueWebhookCert({ ...ca, key: 'junk' }, { now }))).code, CA_ERR_BAD_PEM);
  const expired = await errorCode(() => issueWebhookCert(ca, { now: new Date(now.getTime() + 3651 * DAY) }));
  t.equal(expired.code, CA_ERR_CA_EXPIRED);
  t.match(expired.message, /not at 2040-/);
  t.equal((await errorCode(() => issueWebhookCert(ca, { now: new Date(now.getTime() - 2 * DAY) }))).code, CA_ERR_CA_EXPIRED, 'not yet valid');
  const loaded = loadSigningCa(ca);
  t.equal(loaded.trustDomain, 'cluster.local');
  const again = new X509Certificate(issueWebhookCert(loaded, { now }).cert);
  t.ok(again.verify(caX.publicKey), 'a loaded CA signs too');
  t.not(again.serialNumber, x.serialNumber);
});
