import { CA_ERR_BAD_IDENTITY, caError } from './errors.ts';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface WorkloadIdentity {
  /** Defaults to `cluster.local`. */
  trustDomain?: string;
  namespace: string;
  serviceAccount: string;
}

// A trust domain is a DNS-like name: the SPIFFE character set (lower-case letters, digits,
// ".", "-", "_") arranged as non-empty labels, so "a..b" or ".x" cannot alias another domain.
const TRUST_DOMAIN_LABEL = /^[a-z0-9_-]{1,63}$/;
// Kubernetes namespace: an RFC 1123 label.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Kubernetes service account: an RFC 1123 subdomain.
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// A SPIFFE path segment; "." and ".." are excluded separately.
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** What a trust domain is, as every component's message says it. */
export const TRUST_DOMAIN_EXPECTED = 'dot-separated labels of lower-case letters, digits, "-" and "_" (like "cluster.local")';

/**
 * A valid trust domain. The CA, the controller, the injector and the sidecar all check with this
 * one rule: when the injector and the sidecar took only DNS names, a CA made for
 * `prod_eu.example` was created and served but no pod could be injected for it.
 */
export function isTrustDomain(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 255 && value.split('.').every((l) => TRUST_DOMAIN_LABEL.test(l));
}

export function checkTrustDomain(trustDomain: string): string {
  if (!isTrustDomain(trustDomain)) {
    throw caError(CA_ERR_BAD_IDENTITY, `trust domain ${JSON.stringify(trustDomain)} is invalid: expected ${TRUST_DOMAIN_EXPECTED}`);
  }
  return trustDomain;
}

function checkPart(what: string, value: string, pattern: RegExp, max: number, expected: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !pattern.test(value)) {
    throw caError(CA_ERR_BAD_IDENTITY, `${what} ${JSON.stringify(value)} is invalid: expected ${expected}`);
  }
  return value;
}

/**
 * The SPIFFE id meshtap gives a workload: `spiffe://<trust domain>/ns/<namespace>/sa/<service
 * account>`. The parts come from the caller's authenticated view of the pod, so each is held to
 * the exact syntax Kubernetes allows: nothing in them can add a path segment or change domain.
 */
export function spiffeIdFor(identity: WorkloadIdentity): string {
  const trustDomain = checkTrustDomain(identity.trustDomain ?? DEFAULT_TRUST_DOMAIN);
  const ns = checkPart('namespace', identity.namespace, DNS1123_LABEL, 63, 'a Kubernetes namespace name (RFC 1123 label)');
  const sa = checkPart(
    'service account',
    identity.serviceAccount,
    DNS1123_SUBDOMAIN,
    253,
    'a Kubernetes service account name (RFC 1123 subdomain)',
  );
  return `spiffe://${trustDomain}/ns/${ns}/sa/${sa}`;
}

export interface ParsedSpiffeId {
  trustDomain: string;
  /** Path segments, without the leading "/". */
  segments: string[];
}

/**
 * Checks a SPIFFE id as the SPIFFE specification defines it for a workload: scheme `spiffe`,
 * a valid trust domain, a non-empty path of valid segments, no port, user info, query or
 * fragment, at most 2048 bytes.
 */
export function parseSpiffeId(id: string): ParsedSpiffeId {
  const bad = (why: string) => caError(CA_ERR_BAD_IDENTITY, `SPIFFE id ${JSON.stringify(id)} is invalid: ${why}`);
  if (typeof id !== 'string' || !id.startsWith('spiffe://')) throw bad('it must start with "spiffe://"');
  if (Buffer.byteLength(id) > 2048) throw bad('it is longer than 2048 bytes');
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw bad('a workload id needs a path after the trust domain');
  const trustDomain = rest.slice(0, slash);
  try {
    checkTrustDomain(trustDomain);
  } catch (err) {
    throw caError(CA_ERR_BAD_IDENTITY, `SPIFFE id ${JSON.stringify(id)} is invalid: ${(err as Error).message}`, err);
  }
  const segments = rest.slice(slash + 1).split('/');
  for (const s of segments) {
    if (s === '') throw bad('the path has an empty segment');
    if (s === '.' || s === '..') throw bad('the path has a "." or ".." segment');
    if (!PATH_SEGMENT.test(s)) throw bad(`path segment ${JSON.stringify(s)} may only hold letters, digits, ".", "-" and "_"`);
  }
  return { trustDomain, segments };
}

/** The namespace and service account of a meshtap workload id, or undefined for any other id. */
export function workloadIdentityOf(id: string): Required<WorkloadIdentity> | undefined {
  let parsed: ParsedSpiffeId;
  try {
    parsed = parseSpiffeId(id);
  } catch {
    return undefined;
  }
  if (parsed.segments.length !== 4) return undefined;
  const [ns, namespace, sa, serviceAccount] = parsed.segments;
  if (ns !== 'ns' || sa !== 'sa') return undefined;
  if (!DNS1123_LABEL.test(namespace) || namespace.length > 63) return undefined;
  if (!DNS1123_SUBDOMAIN.test(serviceAccount) || serviceAccount.length > 253) return undefined;
  return { trustDomain: parsed.trustDomain, namespace, serviceAccount };
}
