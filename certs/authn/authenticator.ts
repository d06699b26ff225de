/**
 * What the CA's signing service needs from an authenticator: a bearer token in, the Kubernetes
 * workload it proves out. Failures are `MeshtapError`s with the `CA_ERR_TOKEN_*` codes (the
 * caller's fault) or `CA_ERR_AUTHN_*` (the CA's own configuration or backend).
 */

/** The audience a token must be issued for (`serviceAccountToken.audience` in the pod spec). */
export const DEFAULT_CA_AUDIENCE = 'meshtap-ca';

export interface AuthenticatedWorkload {
  namespace: string;
  serviceAccount: string;
  /** Present when the token is bound to a pod, as projected service-account tokens are. */
  podName?: string;
  podUid?: string;
}

export interface Authenticator {
  /** Names the authenticator in logs and metrics (`tokenreview`, `jwt-key`). */
  readonly kind: string;
  authenticate(token: string): Promise<AuthenticatedWorkload>;
}
