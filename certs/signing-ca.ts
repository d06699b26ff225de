import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { CA_ERR_CA_EXPIRED, CA_ERR_UNSUPPORTED_KEY, caError } from './errors.ts';
import { CA_ERR_BAD_BUNDLE, CA_ERR_BAD_PEM, CA_ERR_KEY_MISMATCH, CA_ERR_NOT_CA, tlsError } from '../lib/tls/errors.ts';
import { certificateToPem, signCertificate } from './native-signer.ts';
import { createSerialNumber } from './serial-number.ts';
import { parseTrustBundle } from '../lib/tls/trust-bundle.ts';

/**
 * A CA bundle checked once and held in the forms signing needs. Issuing functions accept either
 * a `CertBundle` or this: a long-running signer loads its CA once instead of re-parsing and
 * re-checking the key for every CSR.
 */
export interface SigningCa {
  readonly kind: 'meshtap.signing-ca';
  readonly certPem: string;
  readonly cert: forge.pki.Certificate;
  readonly privateKey: KeyObject;
  /** The trust bundle handed out with every issued certificate (canonical PEM). */
  readonly trustBundle: string;
  /** The CA's subject key identifier (binary string), the issued certificates' authority key id. */
  readonly keyIdentifier: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The trust domain recorded in the CA certificate as a `spiffe://<td>` URI SAN, if any. */
  readonly trustDomain: string | undefined;
}

/** How far back a new certificate's notBefore is set, for peers whose clocks run behind. */
export const CLOCK_SKEW_MS = 60_000;

export function loadSigningCa(bundle: CertBundle): SigningCa {
  let x509: X509Certificate;
  let cert: forge.pki.Certificate;
  try {
    x509 = new X509Certificate(bundle.cert);
  } catch (err) {
    throw tlsError(CA_ERR_BAD_PEM, `CA certificate cannot be parsed: ${(err as Error).message}`, err);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(bundle.key);
  } catch (err) {
    throw tlsError(CA_ERR_BAD_PEM, `CA private key cannot be parsed: ${(err as Error).message}`, err);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw caError(CA_ERR_UNSUPPORTED_KEY, `CA private key is ${privateKey.asymmetricKeyType ?? 'of an unknown type'}; meshtap's CA signs with RSA keys only`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw tlsError(CA_ERR_KEY_MISMATCH, `CA private key does not belong to the CA certificate (${x509.subject})`);
  }
  if (!x509.ca) throw tlsError(CA_ERR_NOT_CA, `certificate ${x509.subject} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  try {
    cert = forge.pki.certificateFromPem(bundle.cert);
  } catch (err) {
    throw tlsError(CA_ERR_BAD_PEM, `CA certificate cannot be read: ${(err as Error).message}`, err);
  }
  const keyUsage = cert.getExtension('keyUsage') as { keyCertSign?: boolean } | undefined;
  if (keyUsage && !keyUsage.keyCertSign) {
    throw tlsError(CA_ERR_NOT_CA, `CA certificate ${x509.subject} may not sign certificates (keyUsage lacks keyCertSign)`);
  }
  const trust = parseTrustBundle(bundle.ca, { source: 'CA trust bundle' });
  if (!trust.some((pem) => new X509Certificate(pem).fingerprint256 === x509.fingerprint256)) {
    throw tlsError(
      CA_ERR_BAD_BUNDLE,
      `CA trust bundle does not contain the CA certificate ${x509.subject}: certificates it issues would not verify`,
    );
  }
  const ski = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  const keyIdentifier = ski?.subjectKeyIdentifier
    ? forge.util.hexToBytes(ski.subjectKeyIdentifier)
    : cert.generateSubjectKeyIdentifier().getBytes();
  const san = cert.getExtension('subjectAltName') as { altNames?: { type: number; value?: string }[] } | undefined;
  const tdUri = san?.altNames?.find((n) => n.type === 6 && /^spiffe:\/\/[^/]+$/.test(n.value ?? ''));
  return Object.freeze({
    kind: 'meshtap.signing-ca',
    certPem: x509.toString(),
    cert,
    privateKey,
    trustBundle: trust.join(''),
    keyIdentifier,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    trustDomain: tdUri?.value?.slice('spiffe://'.length),
  });
}

export function resolveSigningCa(ca: CertBundle | SigningCa): SigningCa {
  return 'kind' in ca && ca.kind === 'meshtap.signing-ca' ? ca : loadSigningCa(ca as CertBundle);
}

/** Whole seconds: certificates carry no milliseconds, and returned dates must match them. */
export function floorToSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/**
 * The validity of a certificate issued at `now` for `lifetimeMs`: backdated by the clock skew,
 * and never past the CA's own expiry, since nothing could verify it after that.
 */
export function leafValidity(ca: SigningCa, now: Date, lifetimeMs: number): { notBefore: Date; notAfter: Date } {
  if (now.getTime() < ca.notBefore.getTime() || now.getTime() > ca.notAfter.getTime()) {
    throw caError(
      CA_ERR_CA_EXPIRED,
      `the CA is valid from ${ca.notBefore.toISOString()} to ${ca.notAfter.toISOString()}, not at ${now.toISOString()}`,
    );
  }
  const start = floorToSecond(now);
  const notAfter = new Date(Math.min(start.getTime() + lifetimeMs, floorToSecond(ca.notAfter).getTime()));
  return { notBefore: new Date(start.getTime() - CLOCK_SKEW_MS), notAfter };
}

export interface LeafSpec {
  publicKey: forge.pki.rsa.PublicKey;
  subject: forge.pki.CertificateField[];
  notBefore: Date;
  notAfter: Date;
  /** Extensions besides those every meshtap leaf carries (basicConstraints, SKI, AKI). */
  extensions: object[];
}

/** Builds and signs a leaf certificate under the CA; returns its PEM and serial number. */
export function signLeaf(ca: SigningCa, spec: LeafSpec): { pem: string; serialNumber: string } {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  cert.serialNumber = createSerialNumber();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(spec.subject);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.keyIdentifier },
  ]);
  signCertificate(cert, ca.privateKey);
  return { pem: certificateToPem(cert), serialNumber: cert.serialNumber };
}
