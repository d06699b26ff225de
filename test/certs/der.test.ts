/**
 * The DER writer the sidecar's CSR is built with, checked against forge's independent ASN.1
 * encoder, and the CSR it makes read back by forge (as the CA reads it) and by OpenSSL.
 */
import t from 'tap';
import forge from 'node-forge';
import { bitString, contextConstructed, nullValue, objectId, pem, sequence, set, smallInteger, tlv, utf8String } from '../../certs/der.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';
import { openssl } from './helpers.ts';

const { asn1 } = forge;
const forgeDer = (node: forge.asn1.Asn1): string => Buffer.from(asn1.toDer(node).getBytes(), 'binary').toString('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

void t.test('lengths: short form below 128, long form from 128 on', async (t) => {
  for (const n of [0, 1, 127, 128, 255, 256, 4095, 65535, 65536, 70000]) {
    const content = Buffer.alloc(n, 0x61);
    const want = forgeDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, content.toString('binary')));
    t.equal(hex(tlv(0x04, content)), want, `${n} bytes`);
  }
});

void t.test('object identifiers, including arcs of several base-128 digits', async (t) => {
  for (const oid of ['2.5.4.3', '1.2.840.113549.1.1.11', '1.2.840.113549.1.1.1', '1.3.6.1.4.1.311.60.2.1.3', '2.999.16384', '0.39']) {
    const want = forgeDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()));
    t.equal(hex(objectId(oid)), want, oid);
  }
  for (const bad of ['', '1', '3.1', '1.40', '1.2.x', '1..2']) t.throws(() => objectId(bad), RangeError, `${JSON.stringify(bad)} is refused`);
});

void t.test('small integers: minimal, and never read as negative', async (t) => {
  for (const n of [0, 1, 127, 128, 255, 256, 65535, 2 ** 31 - 1]) {
    t.equal(hex(smallInteger(n)), forgeDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes())), String(n));
  }
  for (const bad of [-1, 1.5, 2 ** 31]) t.throws(() => smallInteger(bad), RangeError, `${bad} is refused`);
});

void t.test('constructed types, strings, null, bit strings', async (t) => {
  const { UNIVERSAL, CONTEXT_SPECIFIC } = asn1.Class;
  const { SEQUENCE, SET, UTF8, NULL, BITSTRING } = asn1.Type;
  const name = asn1.create(UNIVERSAL, UTF8, false, Buffer.from('frontend-7d9f é', 'utf8').toString('binary'));
  t.equal(hex(utf8String('frontend-7d9f é')), forgeDer(name));
  t.equal(hex(nullValue()), forgeDer(asn1.create(UNIVERSAL, NULL, false, '')));
  t.equal(hex(bitString(Buffer.from([1, 2, 0xff]))), forgeDer(asn1.create(UNIVERSAL, BITSTRING, false, '\x00\x01\x02\xff')));
  t.equal(hex(sequence(set(utf8String('a')), nullValue())), forgeDer(asn1.create(UNIVERSAL, SEQUENCE, true, [asn1.create(UNIVERSAL, SET, true, [asn1.create(UNIVERSAL, UTF8, false, 'a')]), asn1.create(UNIVERSAL, NULL, false, '')])));
  t.equal(hex(contextConstructed(0)), forgeDer(asn1.create(CONTEXT_SPECIFIC, 0, true, [])));
  t.equal(hex(sequence()), '3000');
});

void t.test('PEM: 64 characters a line, LF, the label around it', async (t) => {
  const der = Buffer.alloc(100, 7);
  const text = pem('CERTIFICATE REQUEST', der);
  const lines = text.trimEnd().split('\n');
  t.equal(lines[0], '-----BEGIN CERTIFICATE REQUEST-----');
  t.equal(lines.at(-1), '-----END CERTIFICATE REQUEST-----');
  t.same(lines.slice(1, -1).map((l) => l.length), [64, 64, 8], '136 base64 characters');
  t.equal(Buffer.from(lines.slice(1, -1).join(''), 'base64').toString('hex'), der.toString('hex'));
  t.notMatch(text, /\r/);
});

void t.test('the CSR reads back in forge (as the CA reads it) and in OpenSSL, with a UTF-8 name', async (t) => {
  const { csrPem, keyPem } = createWorkloadCsr({ commonName: 'façade-7d9f' });
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  t.ok(csr.verify(), 'forge verifies the self-signature');
  t.equal(csr.subject.getField('CN').value, Buffer.from('façade-7d9f', 'utf8').toString('binary'), 'forge reads the name (its UTF-8 bytes)');
  t.equal(forge.pki.publicKeyToPem(csr.publicKey!), forge.pki.publicKeyToPem(forge.pki.rsa.setPublicKey((forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey).n, (forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey).e)), 'the key is the one returned');
  const v = await openssl(['req', '-verify', '-noout', '-text', '-nameopt', 'utf8'], csrPem);
  t.equal(v.code, 0, v.stderr);
  t.match(v.stdout + v.stderr, /verify OK/);
  t.match(v.stdout, /CN ?= ?façade-7d9f/);
  t.match(v.stdout, /Signature Algorithm: sha256WithRSAEncryption/);
  t.match(v.stdout, /Attributes:\s*(\(none\)|a0:00)/);
});
