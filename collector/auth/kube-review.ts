/**
 * The two Kubernetes API calls `--auth kubernetes` needs: a TokenReview (who is this bearer
 * token?) and SubjectAccessReviews (may that user `get` `calls` in group `meshtap.io` in this
 * namespace, or cluster-wide?). Made with @kubernetes/client-node from the collector's own
 * credentials (in-cluster account or kubeconfig); the access layer caches the answers.
 */
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export interface KubeReviewApi {
  /** The user a token belongs to, or undefined when the API server does not authenticate it. */
  tokenReview(token: string): Promise<ReviewedUser | undefined>;
  /** Whether `user` may get calls in `namespace` ('' = in every namespace). */
  mayGetCalls(user: ReviewedUser, namespace: string): Promise<boolean>;
}

/** The API group and resource meshtap's RBAC speaks of (see the meshtap-viewer ClusterRole). */
export const CALLS_GROUP = 'meshtap.io';
export const CALLS_RESOURCE = 'calls';

export function createKubeReviewApi(kc: KubeConfig): KubeReviewApi {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    async tokenReview(token) {
      const review = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
      const status = review.status;
      if (status?.authenticated !== true || !status.user?.username) return undefined;
      return {
        username: status.user.username,
        ...(status.user.uid ? { uid: status.user.uid } : {}),
        groups: status.user.groups ?? [],
        extra: status.user.extra ?? {},
      };
    },
    async mayGetCalls(user, namespace) {
      const review = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            groups: user.groups,
            ...(user.uid ? { uid: user.uid } : {}),
            extra: user.extra,
            resourceAttributes: { group: CALLS_GROUP, resource: CALLS_RESOURCE, verb: 'get', ...(namespace !== '' ? { namespace } : {}) },
          },
        },
      });
      return review.status?.allowed === true;
    },
  };
}
