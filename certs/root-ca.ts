import forge from 'node-forge';
import { z } from 'zod';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { certificateToPem, forgePublicKey, signCertificate } from './native-signer.ts';
import { parseCaOptions } from './options.ts';
import { generateRsaKey, KEY_BITS } from './rsa-key.ts';
import { createSerialNumber } from './serial-number.ts';
import { CLOCK_SKEW_MS, floorToSecond } from './signing-ca.ts';
import { checkTrustDomain } from './spiffe-id.ts';

const DAY_MS = 86_400_000;

export const KeyBitsSchema = z.number().int().min(KEY_BITS.min).max(KEY_BITS.max);

const RootCaOptionsSchema = z.object({
  commonName: z.string().min(1).max(64).default('meshtap root CA'),
  validityDays: z.number().int().min(1).max(36_500).default(3650),
  keyBits: KeyBitsSchema.default(2048),
  /** Recorded in the CA as the URI SAN `spiffe://<trust domain>`, so a reused CA keeps its domain. */
  trustDomain: z.string().optional(),
  now: z.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a valid Date').optional(),
});

export type RootCaOptions = z.input<typeof RootCaOptionsSchema>;

/**
 * A new self-signed root CA. `cert` and `ca` are the same certificate: it is both what signs
 * and what peers trust. The CA may sign leaves only (pathLen 0): meshtap has no intermediates.
 */
export function createRootCa(options: RootCaOptions = {}): CertBundle {
  const opts = parseCaOptions('createRootCa', RootCaOptionsSchema, options);
  const trustDomain = opts.trustDomain === undefined ? undefined : checkTrustDomain(opts.trustDomain);
  const now = floorToSecond(opts.now ?? new Date());
  const key = generateRsaKey(opts.keyBits);

  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePublicKey(key.publicKey);
  cert.serialNumber = createSerialNumber();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now.getTime() + opts.validityDays * DAY_MS);
  const name = [
    { name: 'organizationName', value: 'meshtap' },
    { name: 'commonName', value: opts.commonName },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    ...(trustDomain ? [{ name: 'subjectAltName', altNames: [{ type: 6, value: `spiffe://${trustDomain}` }] }] : []),
  ]);
  signCertificate(cert, key.privateKey);
  const pem = certificateToPem(cert);
  return { cert: pem, key: key.keyPem, ca: pem };
}
