/**
 * Who may read call data. Every route that returns calls asks this module for a `Viewer`; the
 * viewer then says which calls it may see. Three modes:
 * - `token`: a bearer token from the token file sees everything;
 * - `kubernetes`: the token is reviewed by the API server (TokenReview); a call is visible when
 *   the user may `get` `calls` (group meshtap.io) in the namespace of either end, and everything
 *   is visible with that permission cluster-wide (SubjectAccessReviews). Answers are cached
 *   for `cacheMs`, so a page of calls costs a handful of reviews, not one per call;
 * - `none`: everyone sees everything (an explicit choice, warned about at start).
 * Pure of IO but for the injected token set and review API.
 */
import { createHash } from 'node:crypto';
import { authorizationProblem } from './bearer.ts';
import type { KubeReviewApi, ReviewedUser } from './kube-review.ts';
import type { TokenSet } from './token-set.ts';

export type AuthMode = 'kubernetes' | 'token' | 'none';

export interface Viewer {
  /** For logs: never a token. */
  readonly name: string;
  /** Sees every call (no per-namespace check needed). */
  readonly all: boolean;
  /** Settles the decisions for these namespaces (cached); call before `sees`. */
  prepare(namespaces: Iterable<string | undefined>): Promise<void>;
  /** After `prepare`: may this viewer see a call between these namespaces? Unknown → no. */
  sees(srcNamespace: string | undefined, dstNamespace: string | undefined): boolean;
}

export type AuthResult = { ok: true; viewer: Viewer } | { ok: false; status: 401 | 503; message: string };

export interface AccessControl {
  readonly mode: AuthMode;
  /**
   * `token` from the request's bearer header or its session; `authorization`, the request's
   * `Authorization` header as sent, says what is wrong with it when it gave no token.
   */
  authenticate(token: string | undefined, authorization?: unknown): Promise<AuthResult>;
}

const EVERYONE: Viewer = Object.freeze({
  name: 'anonymous',
  all: true,
  prepare: async () => {},
  sees: () => true,
});

const TOKEN_HOLDER: Viewer = Object.freeze({ ...EVERYONE, name: 'token' });

export function openAccess(): AccessControl {
  return Object.freeze({ mode: 'none', authenticate: async () => ({ ok: true, viewer: EVERYONE }) as AuthResult });
}

/** Which token a request needs, after "with" or "<token> is". */
function whichToken(mode: AuthMode, tokenFile?: string): string {
  if (mode === 'kubernetes') {
    return 'a Kubernetes token (kubectl create token, or your kubeconfig\'s) of a user allowed to get calls.meshtap.io (ClusterRole meshtap-viewer)';
  }
  return `a token from the collector's token file${tokenFile ? ` (${tokenFile})` : ''}; meshtap tap and meshtap lab status find it for the lab`;
}

export function howToAuthenticate(mode: AuthMode, tokenFile?: string): string {
  return `send "Authorization: Bearer <token>" with ${whichToken(mode, tokenFile)}`;
}

/**
 * The 401 message for a request without a token: how to write the Authorization header when
 * one was sent without the Bearer scheme (`Authorization: <token>`), else that a token is needed.
 */
function noTokenMessage(authorization: unknown, mode: AuthMode, tokenFile?: string): string {
  const problem = authorizationProblem(authorization);
  if (problem === undefined) return `authentication required: ${howToAuthenticate(mode, tokenFile)}`;
  return `the Authorization header must be "Authorization: Bearer <token>", and this one ${problem}; <token> is ${whichToken(mode, tokenFile)}`;
}

export function tokenAccess(tokens: TokenSet): AccessControl {
  const missing = howToAuthenticate('token', tokens.path);
  return Object.freeze({
    mode: 'token',
    async authenticate(token: string | undefined, authorization?: unknown): Promise<AuthResult> {
      if (token === undefined || token === '') return { ok: false, status: 401, message: noTokenMessage(authorization, 'token', tokens.path) };
      if (!tokens.matches(token)) return { ok: false, status: 401, message: `the bearer token is not valid: ${missing}` };
      return { ok: true, viewer: TOKEN_HOLDER };
    },
  });
}

export interface KubernetesAccessOptions {
  api: KubeReviewApi;
  cacheMs?: number;
  now?: () => number;
  /** A failed API call, for the log (the token never reaches it). */
  onApiError?: (what: string, err: unknown) => void;
}

interface Cached<T> {
  value: T;
  at: number;
}

/** Bounds the caches: beyond this many entries the oldest go. */
const MAX_CACHE_ENTRIES = 10_000;

function remember<K, V>(map: Map<K, Cached<V>>, key: K, value: V, at: number): void {
  map.delete(key);
  map.set(key, { value, at });
  if (map.size > MAX_CACHE_ENTRIES) map.delete(map.keys().next().value as K);
}

export function kubernetesAccess(options: KubernetesAccessOptions): AccessControl {
  const cacheMs = options.cacheMs ?? 30_000;
  const now = options.now ?? Date.now;
  const users = new Map<string, Cached<ReviewedUser | undefined>>();
  const decisions = new Map<string, Cached<boolean>>();
  const missing = howToAuthenticate('kubernetes');

  function fresh<V>(c: Cached<V> | undefined): c is Cached<V> {
    return c !== undefined && now() - c.at < cacheMs;
  }

  async function decide(user: ReviewedUser, namespace: string): Promise<boolean> {
    const key = `${user.username}\u0000${namespace}`;
    const hit = decisions.get(key);
    if (fresh(hit)) return hit.value;
    let allowed = false;
    try {
      allowed = await options.api.mayGetCalls(user, namespace);
    } catch (err) {
      // Unknown is not allowed; not cached, so the next request asks again.
      options.onApiError?.('SubjectAccessReview', err);
      return false;
    }
    remember(decisions, key, allowed, now());
    return allowed;
  }

  function cachedDecision(user: ReviewedUser, namespace: string): boolean {
    const hit = decisions.get(`${user.username}\u0000${namespace}`);
    return fresh(hit) ? hit.value : false;
  }

  return Object.freeze({
    mode: 'kubernetes',
    async authenticate(token: string | undefined, authorization?: unknown): Promise<AuthResult> {
      if (token === undefined || token === '') return { ok: false, status: 401, message: noTokenMessage(authorization, 'kubernetes') };
      const key = createHash('sha256').update(token).digest('base64');
      let hit = users.get(key);
      if (!fresh(hit)) {
        try {
          const user = await options.api.tokenReview(token);
          remember(users, key, user, now());
          hit = users.get(key)!;
        } catch (err) {
          options.onApiError?.('TokenReview', err);
          return { ok: false, status: 503, message: 'cannot verify the token now: the Kubernetes API server did not answer the TokenReview; try again' };
        }
      }
      const user = hit.value;
      if (user === undefined) return { ok: false, status: 401, message: `the bearer token is not valid for this cluster: ${missing}` };
      const all = await decide(user, '');
      const viewer: Viewer = all
        ? { name: user.username, all: true, prepare: async () => {}, sees: () => true }
        : {
            name: user.username,
            all: false,
            async prepare(namespaces) {
              const distinct = new Set<string>();
              for (const ns of namespaces) if (ns !== undefined && ns !== '') distinct.add(ns);
              await Promise.all([...distinct].map((ns) => decide(user, ns)));
            },
            sees(src, dst) {
              return (src !== undefined && src !== '' && cachedDecision(user, src)) || (dst !== undefined && dst !== '' && cachedDecision(user, dst));
            },
          };
      return { ok: true, viewer };
    },
  });
}
