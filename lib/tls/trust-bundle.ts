import { X509Certificate } from 'node:crypto';
import { CA_ERR_BAD_BUNDLE, CA_ERR_BAD_PEM, CA_ERR_NOT_CA, tlsError } from './errors.ts';
import { splitPem } from './pem.ts';

export interface TrustBundleOptions {
  /** Every certificate must be a CA certificate (basicConstraints CA:TRUE). Default true. */
  requireCa?: boolean;
  /** Names the bundle in error messages (a file path, a Secret key). */
  source?: string;
}

/**
 * Splits a trust bundle (one or more CA certificates, as in `ca.crt`) into one PEM string per
 * certificate, re-encoded canonically. During a root rotation the bundle holds the old and the
 * new root, and peers accept certificates from either. Anything but certificates is refused: a
 * private key pasted into a bundle would be shipped to every workload.
 */
export function parseTrustBundle(text: string, options: TrustBundleOptions = {}): string[] {
  const source = options.source ?? 'trust bundle';
  const requireCa = options.requireCa ?? true;
  const blocks = splitPem(text, source);
  if (blocks.length === 0) throw tlsError(CA_ERR_BAD_BUNDLE, `${source}: no PEM certificate found`);
  return blocks.map((block, i) => {
    if (block.label !== 'CERTIFICATE') {
      throw tlsError(CA_ERR_BAD_PEM, `${source}: block ${i + 1} is a "${block.label}", only CERTIFICATE blocks belong in a trust bundle`);
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block.pem);
    } catch (err) {
      throw tlsError(CA_ERR_BAD_PEM, `${source}: certificate ${i + 1} cannot be parsed: ${(err as Error).message}`, err);
    }
    if (requireCa && !cert.ca) {
      throw tlsError(CA_ERR_NOT_CA, `${source}: certificate ${i + 1} (${cert.subject || 'empty subject'}) is not a CA certificate`);
    }
    return cert.toString();
  });
}

/**
 * Joins trust bundles into one, in order, each certificate once (by SHA-256 fingerprint): the
 * rotation bundle is `mergeTrustBundles(newRoot, oldRoot)`.
 */
export function mergeTrustBundles(...bundles: string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const bundle of bundles) {
    for (const pem of parseTrustBundle(bundle)) {
      const fp = new X509Certificate(pem).fingerprint256;
      if (seen.has(fp)) continue;
      seen.add(fp);
      out.push(pem);
    }
  }
  return out.join('');
}
