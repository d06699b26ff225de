/**
 * The signing service's Prometheus metrics, on the registry the caller passes (the controller's,
 * or a test's own) so that several services in one process never collide on the global one.
 */
import { Counter, Histogram, Registry } from 'prom-client';

export const SIGN_REQUESTS_METRIC = 'meshtap_ca_sign_requests_total';
export const SIGN_DURATION_METRIC = 'meshtap_ca_sign_duration_seconds';

/**
 * `outcome` is the gRPC status answered, in lower case (`ok`, `unauthenticated`,
 * `permission_denied`, `invalid_argument`, `unavailable`, `internal`); `code` the `CA_ERR_*`
 * code behind a failure, `none` for a certificate issued. Both are bounded sets.
 */
export type SignOutcome = 'ok' | 'unauthenticated' | 'permission_denied' | 'invalid_argument' | 'unavailable' | 'internal';

export interface CaMetrics {
  registry: Registry;
  signRequests: Counter<'outcome' | 'code'>;
  signDuration: Histogram<'outcome'>;
  recordSign(outcome: SignOutcome, code: string, seconds: number): void;
}

export interface CaMetricsOptions {
  /** Default: a new registry of its own. */
  registry?: Registry;
}

export function createCaMetrics(options: CaMetricsOptions = {}): CaMetrics {
  const registry = options.registry ?? new Registry();
  // Two services on one registry (a restart inside one process, tests) share the metrics
  // rather than failing on a duplicate name.
  const signRequests =
    (registry.getSingleMetric(SIGN_REQUESTS_METRIC) as Counter<'outcome' | 'code'> | undefined) ??
    new Counter({
      name: SIGN_REQUESTS_METRIC,
      help: 'Certificate signing requests answered by the CA, by gRPC outcome and CA_ERR_* code (none when a certificate was issued)',
      labelNames: ['outcome', 'code'] as const,
      registers: [registry],
    });
  const signDuration =
    (registry.getSingleMetric(SIGN_DURATION_METRIC) as Histogram<'outcome'> | undefined) ??
    new Histogram({
      name: SIGN_DURATION_METRIC,
      help: 'Time to answer a signing request, token review and signing included',
      labelNames: ['outcome'] as const,
      // A TokenReview round trip dominates in a cluster; RSA signing is well under a millisecond.
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  return {
    registry,
    signRequests,
    signDuration,
    recordSign(outcome, code, seconds) {
      signRequests.inc({ outcome, code });
      signDuration.observe({ outcome }, seconds);
    },
  };
}
