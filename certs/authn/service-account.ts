import { CA_ERR_TOKEN_IDENTITY, caError } from '../errors.ts';
import { spiffeIdFor } from '../spiffe-id.ts';
import type { AuthenticatedWorkload } from './authenticator.ts';

const USERNAME_PREFIX = 'system:serviceaccount:';

/**
 * The namespace and service account of a Kubernetes service-account user name
 * (`system:serviceaccount:<ns>:<sa>`), or undefined for any other user.
 */
export function parseServiceAccountUsername(username: unknown): { namespace: string; serviceAccount: string } | undefined {
  if (typeof username !== 'string' || !username.startsWith(USERNAME_PREFIX)) return undefined;
  const parts = username.slice(USERNAME_PREFIX.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], serviceAccount: parts[1] };
}

/**
 * Holds an authenticated workload to the names Kubernetes allows, so that nothing a token
 * carries can add a segment to the SPIFFE id built from it.
 */
export function checkWorkload(workload: AuthenticatedWorkload, source: string): AuthenticatedWorkload {
  try {
    spiffeIdFor({ namespace: workload.namespace, serviceAccount: workload.serviceAccount });
  } catch (err) {
    throw caError(CA_ERR_TOKEN_IDENTITY, `${source}: ${(err as Error).message}`, err);
  }
  const out: AuthenticatedWorkload = { namespace: workload.namespace, serviceAccount: workload.serviceAccount };
  if (typeof workload.podName === 'string' && workload.podName !== '') out.podName = workload.podName;
  if (typeof workload.podUid === 'string' && workload.podUid !== '') out.podUid = workload.podUid;
  return Object.freeze(out);
}
