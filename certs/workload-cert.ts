import { createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { z } from 'zod';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { CA_ERR_BAD_CSR, CA_ERR_CSR_SIGNATURE, CA_ERR_UNSUPPORTED_KEY, caError } from './errors.ts';
import { parseCaOptions } from './options.ts';
import { splitPem, type PemBlock } from '../lib/tls/pem.ts';
import { leafValidity, resolveSigningCa, signLeaf, type SigningCa } from './signing-ca.ts';
import { parseSpiffeId } from './spiffe-id.ts';

const HOUR_MS = 3_600_000;
/** Smaller RSA keys are refused: a sidecar's key protects every call of its workload. */
export const MIN_WORKLOAD_KEY_BITS = 2048;

const WorkloadCertOptionsSchema = z.object({
  spiffeId: z.string(),
  validityHours: z.number().positive().max(24 * 366).default(24),
  now: z.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a valid Date').optional(),
});

export type WorkloadCertOptions = z.input<typeof WorkloadCertOptionsSchema>;

export interface WorkloadCert {
  /** The issued certificate (PEM). */
  cert: string;
  /** The trust bundle peers verify it with (PEM, one or more CA certificates). */
  ca: string;
  notBefore: Date;
  notAfter: Date;
  /** Hex serial number, for logs and revocation lists. */
  serialNumber: string;
  spiffeId: string;
}

/**
 * Signs a workload's CSR as an X.509-SVID for `spiffeId`. The CSR contributes its public key
 * and nothing else, after proving it holds the private key (its self-signature): its subject,
 * SANs and extensions are ignored, because the caller, not the CSR, has authenticated the
 * workload. The certificate has an empty subject and the SPIFFE id as its only SAN, marked
 * critical as RFC 5280 requires when the subject is empty.
 */
export function signWorkloadCsr(ca: CertBundle | SigningCa, csrPem: string, options: WorkloadCertOptions): WorkloadCert {
  const opts = parseCaOptions('signWorkloadCsr', WorkloadCertOptionsSchema, options);
  parseSpiffeId(opts.spiffeId);
  const signer = resolveSigningCa(ca);
  const publicKey = readCsrPublicKey(csrPem);
  const { notBefore, notAfter } = leafValidity(signer, opts.now ?? new Date(), opts.validityHours * HOUR_MS);
  const { pem, serialNumber } = signLeaf(signer, {
    publicKey,
    subject: [],
    notBefore,
    notAfter,
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', critical: true, altNames: [{ type: 6, value: opts.spiffeId }] },
    ],
  });
  return { cert: pem, ca: signer.trustBundle, notBefore, notAfter, serialNumber, spiffeId: opts.spiffeId };
}

/** The CSR's public key, once the CSR is shown to be signed by the matching private key. */
function readCsrPublicKey(csrPem: string): forge.pki.rsa.PublicKey {
  if (typeof csrPem !== 'string') throw caError(CA_ERR_BAD_CSR, 'the CSR must be a PEM string');
  let blocks: PemBlock[];
  try {
    blocks = splitPem(csrPem, 'CSR');
  } catch (err) {
    throw caError(CA_ERR_BAD_CSR, (err as Error).message, err);
  }
  if (blocks.length !== 1 || !/^(NEW )?CERTIFICATE REQUEST$/.test(blocks[0].label)) {
    throw caError(
      CA_ERR_BAD_CSR,
      `expected exactly one PEM "CERTIFICATE REQUEST" block, got ${blocks.length === 0 ? 'none' : blocks.map((b) => `"${b.label}"`).join(', ')}`,
    );
  }
  let asn1: forge.asn1.Asn1;
  let csr: forge.pki.CertificateSigningRequest;
  try {
    const der = forge.util.decode64(blocks[0].pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
    asn1 = forge.asn1.fromDer(der);
  } catch (err) {
    throw caError(CA_ERR_BAD_CSR, `the CSR is not valid DER: ${(err as Error).message}`, err);
  }
  // Look at the key with OpenSSL first: forge reads RSA keys only and says little about others.
  const key = csrKey(asn1);
  if (key.asymmetricKeyType !== 'rsa') {
    throw caError(CA_ERR_UNSUPPORTED_KEY, `the CSR's key is ${key.asymmetricKeyType ?? 'of an unknown type'}; meshtap issues workload certificates for RSA keys only`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_WORKLOAD_KEY_BITS) {
    throw caError(CA_ERR_UNSUPPORTED_KEY, `the CSR's RSA key has ${bits} bits; at least ${MIN_WORKLOAD_KEY_BITS} are required`);
  }
  try {
    csr = forge.pki.certificationRequestFromAsn1(asn1);
  } catch (err) {
    throw caError(CA_ERR_BAD_CSR, `the CSR cannot be read: ${(err as Error).message}`, err);
  }
  let verified = false;
  try {
    verified = csr.verify();
  } catch (err) {
    throw caError(CA_ERR_CSR_SIGNATURE, `the CSR's signature cannot be checked: ${(err as Error).message}`, err);
  }
  if (!verified) {
    throw caError(CA_ERR_CSR_SIGNATURE, "the CSR's signature does not match its public key: the CSR was altered or its signer does not hold the key");
  }
  return csr.publicKey as forge.pki.rsa.PublicKey;
}

function csrKey(asn1: forge.asn1.Asn1): KeyObject {
  try {
    const info = (asn1.value as forge.asn1.Asn1[])[0];
    const spki = (info.value as forge.asn1.Asn1[])[2];
    return createPublicKey({ key: Buffer.from(forge.asn1.toDer(spki).getBytes(), 'binary'), format: 'der', type: 'spki' });
  } catch (err) {
    throw caError(CA_ERR_BAD_CSR, `the CSR carries no readable public key: ${(err as Error).message}`, err);
  }
}
