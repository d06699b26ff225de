import { X509Certificate } from 'node:crypto';
import { CA_ERR_BAD_PEM, tlsError } from '../lib/tls/errors.ts';
import { splitPem } from '../lib/tls/pem.ts';

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
};

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  subjectAltNames: string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  extendedKeyUsage: string[];
  keyType: string;
  keyBits: number | undefined;
  sha256Fingerprint: string;
}

export function summarizeCertificate(pem: string): CertificateSummary {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch (err) {
    throw tlsError(CA_ERR_BAD_PEM, `the certificate cannot be parsed: ${(err as Error).message}`, err);
  }
  return {
    subject: (x.subject ?? '').split('\n').filter(Boolean).join(', '),
    issuer: (x.issuer ?? '').split('\n').filter(Boolean).join(', '),
    serialNumber: x.serialNumber.toLowerCase(),
    subjectAltNames: x.subjectAltName ? x.subjectAltName.split(', ') : [],
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    isCa: x.ca,
    extendedKeyUsage: (x.keyUsage ?? []).map((oid) => EKU_NAMES[oid] ?? oid),
    keyType: x.publicKey.asymmetricKeyType ?? 'unknown',
    keyBits: x.publicKey.asymmetricKeyDetails?.modulusLength,
    sha256Fingerprint: x.fingerprint256,
  };
}

/** A human-readable account of every certificate in a PEM text, with its state at `now`. */
export function describeCertificates(text: string, now: Date, source = 'input'): string {
  const blocks = splitPem(text, source);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) throw tlsError(CA_ERR_BAD_PEM, `${source}: no PEM certificate found`);
  return certs
    .map((block, i) => {
      const s = summarizeCertificate(block.pem);
      const state =
        now < s.notBefore ? 'NOT YET VALID' : now > s.notAfter ? 'EXPIRED' : `valid, ${formatRemaining(s.notAfter.getTime() - now.getTime())} left`;
      const lines = [
        `certificate ${i + 1} of ${certs.length}${s.isCa ? ' (CA)' : ''}`,
        `  subject:     ${s.subject || '(empty)'}`,
        `  issuer:      ${s.issuer || '(empty)'}`,
        `  SANs:        ${s.subjectAltNames.join(', ') || '(none)'}`,
        `  not before:  ${s.notBefore.toISOString()}`,
        `  not after:   ${s.notAfter.toISOString()} (${state})`,
        `  key:         ${s.keyType}${s.keyBits ? ` ${s.keyBits} bits` : ''}`,
        ...(s.extendedKeyUsage.length ? [`  extended key usage: ${s.extendedKeyUsage.join(', ')}`] : []),
        `  serial:      ${s.serialNumber}`,
        `  sha256:      ${s.sha256Fingerprint}`,
      ];
      return lines.join('\n');
    })
    .join('\n\n');
}

function formatRemaining(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours < 48) return `${hours.toFixed(1)} h`;
  return `${Math.floor(hours / 24)} days`;
}
