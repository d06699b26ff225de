/**
 * Error codes of the small Kubernetes API client (`kube-client.ts`). They keep the `WH_ERR_`
 * prefix they had when only the webhook's bootstrap used the client: codes are stable, they
 * appear in logs and in what callers match on. `../../webhook/server-errors.ts` re-exports
 * them as part of the webhook's catalog.
 */

/** The API server answered with an error, or did not answer. */
export const WH_ERR_KUBE_API = 'WH_ERR_KUBE_API';
/** The client cannot be configured (no in-cluster environment, unreadable service-account files, a non-https URL). */
export const WH_ERR_KUBE_CONFIG = 'WH_ERR_KUBE_CONFIG';
