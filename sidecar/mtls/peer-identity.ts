/**
 * The SPIFFE id a peer proved: the single URI SAN of a certificate that already chained to
 * the trust bundle (TLS verified the chain; this only reads and compares names).
 */
import type { X509Certificate } from 'node:crypto';

/** `URI:spiffe://...` entries of a subjectAltName string; undefined unless exactly one. */
export function spiffeIdFromSan(subjectAltName: string | undefined): string | undefined {
  if (!subjectAltName) return undefined;
  const uris = subjectAltName
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  const spiffe = uris.filter((u) => u.startsWith('spiffe://'));
  return spiffe.length === 1 && uris.length === 1 ? spiffe[0] : undefined;
}

export function spiffeIdOf(cert: X509Certificate | undefined): string | undefined {
  return cert ? spiffeIdFromSan(cert.subjectAltName) : undefined;
}

/** Why a server certificate is refused by an outbound mesh connection; undefined when accepted. */
export function checkPeerIdentity(actual: string | undefined, expected: readonly string[]): string | undefined {
  if (actual === undefined) return 'the peer certificate carries no single SPIFFE URI SAN';
  if (!expected.includes(actual)) return `the peer is ${actual}, expected ${expected.length === 1 ? expected[0] : `one of ${expected.join(', ')}`}`;
  return undefined;
}
