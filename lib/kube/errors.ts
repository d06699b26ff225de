/**
 * Error codes of the small Kubernetes API client (`kube-client.ts`). They keep the `WH_ERR_`
 * prefix they had when only the webhook's bootstrap used the client: codes are stable, they
 * appear in logs and in what callers match on.
 */
import { defineErrors } from '../errors.ts';

export const WH_ERR_KUBE_API = 'WH_ERR_KUBE_API';
export const WH_ERR_KUBE_CONFIG = 'WH_ERR_KUBE_CONFIG';

export const kubeClientErrors = defineErrors(
  { component: 'lib', title: 'the Kubernetes API client (lib/kube)', prefix: 'WH_ERR_' },
  {
    [WH_ERR_KUBE_API]: {
      summary: 'The Kubernetes API server answered an error, or no answer came in time.',
      action: 'Check the API server is reachable and the service account\'s RBAC allows the call (the message gives the status).',
    },
    [WH_ERR_KUBE_CONFIG]: {
      summary: 'The Kubernetes client cannot be configured: not in a cluster, unreadable service-account files, or a non-https API server URL.',
      action: 'Run inside a cluster with a mounted service-account token, or leave out the options that need the API server.',
    },
  },
);
