/**
 * The cluster's authenticator: the API server reviews the caller's projected service-account
 * token (`authentication.k8s.io/v1` TokenReview) for the CA's audience. Only the API server
 * knows whether a pod-bound token's pod still exists, so this is the one to trust in a cluster.
 * The CA's own service account needs RBAC `create` on `tokenreviews` (ClusterRole
 * `system:auth-delegator` grants it).
 *
 * It talks to the API server through the controller's small Kubernetes client, which already
 * does in-cluster configuration (token re-read as the kubelet rotates it, the service-account
 * CA) with every path injectable.
 */
import type { MeshtapError } from '../../lib/errors.ts';
import { KubeApiError, createKubeClient, resolveInClusterKubeOptions, type KubeClient, type KubeClientOptions } from '../../lib/kube/kube-client.ts';
import {
  CA_ERR_AUTHN_CONFIG,
  CA_ERR_AUTHN_UNAVAILABLE,
  CA_ERR_TOKEN_AUDIENCE,
  CA_ERR_TOKEN_EXPIRED,
  CA_ERR_TOKEN_IDENTITY,
  CA_ERR_TOKEN_INVALID,
  CA_ERR_TOKEN_MISSING,
  caError,
} from '../errors.ts';
import { DEFAULT_CA_AUDIENCE, type AuthenticatedWorkload, type Authenticator } from './authenticator.ts';
import { checkWorkload, parseServiceAccountUsername } from './service-account.ts';

export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';

/** What the API server answers; only the fields read here. */
interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

export interface TokenReviewAuthenticatorOptions {
  /** Where and how to reach the API server (see `createInClusterTokenReviewAuthenticator`), or a client. */
  kube: KubeClientOptions | KubeClient;
  /** The audience tokens must be issued for. Default `meshtap-ca`. */
  audience?: string;
}

export function createTokenReviewAuthenticator(options: TokenReviewAuthenticatorOptions): Authenticator {
  const audience = options.audience ?? DEFAULT_CA_AUDIENCE;
  let client: KubeClient;
  if ('request' in options.kube) {
    client = options.kube;
  } else {
    try {
      client = createKubeClient({ userAgent: 'meshtap-ca', ...options.kube });
    } catch (err) {
      throw caError(CA_ERR_AUTHN_CONFIG, (err as Error).message, err);
    }
  }
  const api = client;

  return Object.freeze({
    kind: 'tokenreview',
    async authenticate(token: string): Promise<AuthenticatedWorkload> {
      if (typeof token !== 'string' || token.trim() === '') throw caError(CA_ERR_TOKEN_MISSING, 'no token was given');
      let review: { status?: TokenReviewStatus } | undefined;
      try {
        review = await api.request<{ status?: TokenReviewStatus }>('POST', TOKEN_REVIEW_PATH, {
          contentType: 'application/json',
          data: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } },
        });
      } catch (err) {
        throw apiFailure(err);
      }
      const status = review?.status;
      if (!status || typeof status !== 'object') {
        throw caError(CA_ERR_AUTHN_UNAVAILABLE, 'the API server answered the TokenReview without a status');
      }
      if (status.authenticated !== true) throw rejection(status.error, audience);
      const audiences = Array.isArray(status.audiences) ? status.audiences : [];
      // An audience-unaware authenticator would accept a token minted for anything: refuse
      // unless the API server confirms the token is meant for the CA.
      if (!audiences.includes(audience)) {
        throw caError(CA_ERR_TOKEN_AUDIENCE, `the API server authenticated the token for audiences ${JSON.stringify(audiences)}, not "${audience}"`);
      }
      const username = status.user?.username;
      const sa = parseServiceAccountUsername(username);
      if (!sa) {
        throw caError(CA_ERR_TOKEN_IDENTITY, `the token belongs to ${JSON.stringify(username ?? null)}, not to a service account (system:serviceaccount:<namespace>:<name>)`);
      }
      const extra = status.user?.extra ?? {};
      return checkWorkload({ ...sa, podName: firstString(extra[POD_NAME_EXTRA]), podUid: firstString(extra[POD_UID_EXTRA]) }, 'the reviewed token');
    },
  });
}

export interface InClusterTokenReviewOptions {
  env: NodeJS.ProcessEnv;
  /** Where the CA's own service-account token and the cluster CA are mounted. */
  serviceAccountDir?: string;
  audience?: string;
  /** Per TokenReview deadline. Default 5000 ms. */
  timeoutMs?: number;
}

/** The TokenReview authenticator configured from inside a pod (KUBERNETES_SERVICE_HOST/PORT, mounted token and CA). */
export async function createInClusterTokenReviewAuthenticator(options: InClusterTokenReviewOptions): Promise<Authenticator> {
  let kube: KubeClientOptions;
  try {
    kube = await resolveInClusterKubeOptions({ env: options.env, serviceAccountDir: options.serviceAccountDir });
  } catch (err) {
    throw caError(CA_ERR_AUTHN_CONFIG, `TokenReview authenticator: ${(err as Error).message}`, err);
  }
  return createTokenReviewAuthenticator({ kube: { ...kube, timeoutMs: options.timeoutMs }, audience: options.audience });
}

function firstString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
}

/** The API server's reason for not authenticating a token, as the caller's error. */
function rejection(error: unknown, audience: string): MeshtapError {
  // The API server's message lists what each authenticator said; keep it short for logs.
  const why = typeof error === 'string' && error !== '' ? error.slice(0, 300) : 'no reason given';
  if (/audience/i.test(why)) return caError(CA_ERR_TOKEN_AUDIENCE, `the API server did not accept the token for audience "${audience}": ${why}`);
  if (/expired/i.test(why)) return caError(CA_ERR_TOKEN_EXPIRED, `the API server says the token has expired: ${why}`);
  return caError(CA_ERR_TOKEN_INVALID, `the API server did not authenticate the token: ${why}`);
}

function apiFailure(err: unknown): MeshtapError {
  if (!(err instanceof KubeApiError)) {
    return caError(CA_ERR_AUTHN_UNAVAILABLE, `TokenReview failed: ${(err as Error)?.message ?? String(err)}`, err);
  }
  switch (err.status) {
    case 0:
      return caError(CA_ERR_AUTHN_UNAVAILABLE, `cannot ask the API server to review tokens: ${err.message}`, err);
    case 401:
      return caError(CA_ERR_AUTHN_UNAVAILABLE, `the API server did not accept the CA's own service-account token (401): ${err.message}`, err);
    case 403:
      return caError(
        CA_ERR_AUTHN_UNAVAILABLE,
        `the CA's service account may not create TokenReviews (403): grant it "create" on "tokenreviews" in API group authentication.k8s.io (ClusterRole system:auth-delegator). ${err.message}`,
        err,
      );
    default:
      return caError(CA_ERR_AUTHN_UNAVAILABLE, `TokenReview failed: ${err.message}`, err);
  }
}
