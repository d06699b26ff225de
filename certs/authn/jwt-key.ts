/**
 * The lab's and the tests' authenticator: JWTs signed by a key the controller is given (a PEM
 * public key or a JWKS), shaped like Kubernetes projected service-account tokens. In a cluster
 * the TokenReview authenticator is the one to use: only the API server knows whether a bound
 * token's pod still exists.
 */
import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SignJWT, createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { z } from 'zod';
import type { MeshtapError } from '../../lib/errors.ts';
import {
  CA_ERR_AUTHN_CONFIG,
  CA_ERR_TOKEN_AUDIENCE,
  CA_ERR_TOKEN_EXPIRED,
  CA_ERR_TOKEN_IDENTITY,
  CA_ERR_TOKEN_INVALID,
  CA_ERR_TOKEN_ISSUER,
  CA_ERR_TOKEN_MISSING,
  caError,
} from '../errors.ts';
import { parseCaOptions } from '../options.ts';
import { DEFAULT_CA_AUDIENCE, type AuthenticatedWorkload, type Authenticator } from './authenticator.ts';
import { checkWorkload, parseServiceAccountUsername } from './service-account.ts';

export const TOKEN_ALGORITHMS = ['ES256', 'RS256'] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

/** The issuer Kubernetes puts in service-account tokens unless the API server is told otherwise. */
export const KUBERNETES_DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

type VerifyKey = KeyObject | ReturnType<typeof createLocalJWKSet>;

const JwtKeyAuthenticatorOptionsSchema = z.object({
  /** A PEM public key (SPKI; a private key is reduced to its public half), a KeyObject, or a JWKS (object or JSON text). */
  key: z.union([z.string().min(1), z.custom<KeyObject>((v) => isKeyObject(v), 'must be a KeyObject'), z.custom<JSONWebKeySet>(isJwks, 'must be a JWKS')]),
  audience: z.string().min(1).default(DEFAULT_CA_AUDIENCE),
  /** When set, `iss` must equal it. */
  issuer: z.string().min(1).optional(),
  /** Leeway for `exp` and `nbf` against clocks that disagree a little. */
  clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
  now: z.custom<() => Date>((v) => typeof v === 'function', 'must be a function returning a Date').optional(),
});

export type JwtKeyAuthenticatorOptions = z.input<typeof JwtKeyAuthenticatorOptionsSchema>;

function isKeyObject(v: unknown): v is KeyObject {
  return typeof v === 'object' && v !== null && typeof (v as KeyObject).export === 'function' && 'asymmetricKeyType' in v;
}

function isJwks(v: unknown): v is JSONWebKeySet {
  return typeof v === 'object' && v !== null && Array.isArray((v as JSONWebKeySet).keys);
}

/** The JWS algorithm meshtap uses with a key: ES256 for P-256, RS256 for RSA ≥ 2048 bits. */
export function tokenAlgorithmFor(key: KeyObject): TokenAlgorithm {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  const details = key.asymmetricKeyType === 'ec' ? ` on curve ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType === 'rsa' ? ` of ${key.asymmetricKeyDetails?.modulusLength} bits` : '';
  throw caError(CA_ERR_AUTHN_CONFIG, `token keys must be EC P-256 (ES256) or RSA of at least 2048 bits (RS256), got ${key.asymmetricKeyType ?? 'an unknown key type'}${details}`);
}

function resolveVerifyKey(key: string | KeyObject | JSONWebKeySet): { verifier: VerifyKey; algorithms: TokenAlgorithm[]; describe: string } {
  if (typeof key === 'string' && key.trim().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(key);
    } catch (err) {
      throw caError(CA_ERR_AUTHN_CONFIG, `the token key looks like JSON but does not parse: ${(err as Error).message}`, err);
    }
    if (!isJwks(parsed)) throw caError(CA_ERR_AUTHN_CONFIG, 'the token key is JSON but not a JWKS (an object with a "keys" array)');
    key = parsed;
  }
  if (isJwks(key)) {
    if (key.keys.length === 0) throw caError(CA_ERR_AUTHN_CONFIG, 'the token JWKS holds no key');
    try {
      return { verifier: createLocalJWKSet(key), algorithms: [...TOKEN_ALGORITHMS], describe: `a JWKS of ${key.keys.length} key(s)` };
    } catch (err) {
      throw caError(CA_ERR_AUTHN_CONFIG, `the token JWKS is invalid: ${(err as Error).message}`, err);
    }
  }
  let publicKey: KeyObject;
  try {
    publicKey = typeof key === 'string' || key.type === 'private' ? createPublicKey(key) : key;
  } catch (err) {
    throw caError(CA_ERR_AUTHN_CONFIG, `the token key is neither a JWKS nor a PEM public key: ${(err as Error).message}`, err);
  }
  if (publicKey.type !== 'public') throw caError(CA_ERR_AUTHN_CONFIG, `the token key must be a public key, got a ${publicKey.type} key`);
  const alg = tokenAlgorithmFor(publicKey);
  return { verifier: publicKey, algorithms: [alg], describe: `one ${alg} key` };
}

/** Verifies tokens with a key held in memory. */
export function createJwtKeyAuthenticator(options: JwtKeyAuthenticatorOptions): Authenticator {
  const opts = parseCaOptions('createJwtKeyAuthenticator', JwtKeyAuthenticatorOptionsSchema, options);
  const { verifier, algorithms } = resolveVerifyKey(opts.key);
  const now = opts.now ?? (() => new Date());
  return Object.freeze({
    kind: 'jwt-key',
    async authenticate(token: string): Promise<AuthenticatedWorkload> {
      if (typeof token !== 'string' || token.trim() === '') throw caError(CA_ERR_TOKEN_MISSING, 'no token was given');
      let payload: JWTPayload;
      try {
        // Separate calls keep TypeScript's overloads apart: a key set is a function, a key is not.
        const verifyOptions = {
          algorithms,
          audience: opts.audience,
          issuer: opts.issuer,
          clockTolerance: opts.clockToleranceSeconds,
          currentDate: now(),
          requiredClaims: ['exp'],
        };
        payload =
          typeof verifier === 'function'
            ? (await jwtVerify(token, verifier, verifyOptions)).payload
            : (await jwtVerify(token, verifier, verifyOptions)).payload;
      } catch (err) {
        throw joseFailure(err, opts.audience, opts.issuer);
      }
      return workloadFromClaims(payload);
    },
  });
}

export interface LoadJwtKeyAuthenticatorOptions extends Omit<JwtKeyAuthenticatorOptions, 'key'> {
  /** A file holding a PEM public key or a JWKS document. */
  keyFile: string;
}

/** `createJwtKeyAuthenticator` with the key read from a file, once. */
export async function loadJwtKeyAuthenticator(options: LoadJwtKeyAuthenticatorOptions): Promise<Authenticator> {
  const { keyFile, ...rest } = options;
  let key: string;
  try {
    key = await readFile(keyFile, 'utf8');
  } catch (err) {
    throw caError(CA_ERR_AUTHN_CONFIG, `cannot read the token key file ${keyFile}: ${(err as Error).message}`, err);
  }
  try {
    return createJwtKeyAuthenticator({ ...rest, key });
  } catch (err) {
    const e = err as MeshtapError;
    throw caError(CA_ERR_AUTHN_CONFIG, `${keyFile}: ${e.message}`, err);
  }
}

function fmtTime(seconds: unknown): string {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : 'an unknown time';
}

/** A jose failure as the caller should read it: what is wrong with the token, in one code. */
function joseFailure(err: unknown, audience: string, issuer: string | undefined): MeshtapError {
  if (err instanceof joseErrors.JWTExpired) {
    return caError(CA_ERR_TOKEN_EXPIRED, `the token expired at ${fmtTime(err.payload.exp)}`, err);
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const p = err.payload;
    switch (err.claim) {
      case 'aud':
        return caError(CA_ERR_TOKEN_AUDIENCE, `the token is for audience ${JSON.stringify(p.aud ?? null)}, not "${audience}"`, err);
      case 'iss':
        return caError(CA_ERR_TOKEN_ISSUER, `the token was issued by ${JSON.stringify(p.iss ?? null)}, not "${issuer}"`, err);
      case 'nbf':
        return caError(CA_ERR_TOKEN_EXPIRED, `the token is not valid before ${fmtTime(p.nbf)}`, err);
      case 'exp':
        return caError(CA_ERR_TOKEN_INVALID, 'the token has no valid "exp" claim: tokens that never expire are refused', err);
      default:
        return caError(CA_ERR_TOKEN_INVALID, `the token's "${err.claim}" claim is invalid: ${err.message}`, err);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return caError(CA_ERR_TOKEN_INVALID, "the token's signature does not verify with the CA's token key: it was signed by another key or altered", err);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) {
    return caError(CA_ERR_TOKEN_INVALID, "the token was signed by a key that is not in the CA's token key set", err);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return caError(CA_ERR_TOKEN_INVALID, `the token's signing algorithm is not accepted with the CA's token key: ${err.message}`, err);
  }
  if (err instanceof joseErrors.JOSEError) {
    return caError(CA_ERR_TOKEN_INVALID, `the token is not a valid JWT: ${err.message}`, err);
  }
  return caError(CA_ERR_TOKEN_INVALID, `the token cannot be verified: ${(err as Error)?.message ?? String(err)}`, err);
}

interface KubernetesClaim {
  namespace?: unknown;
  serviceaccount?: { name?: unknown; uid?: unknown };
  pod?: { name?: unknown; uid?: unknown };
}

/**
 * The workload a verified token names, as the API server writes it: `sub` is
 * `system:serviceaccount:<ns>:<sa>` and the `kubernetes.io` claim holds the namespace, the
 * service account and, for a pod-bound token, the pod. Either is enough; when both are there
 * they must agree.
 */
export function workloadFromClaims(payload: JWTPayload): AuthenticatedWorkload {
  const fromSub = payload.sub === undefined ? undefined : parseServiceAccountUsername(payload.sub);
  if (payload.sub !== undefined && !fromSub) {
    throw caError(CA_ERR_TOKEN_IDENTITY, `the token's subject ${JSON.stringify(payload.sub)} is not a service account (system:serviceaccount:<namespace>:<name>)`);
  }
  const raw = payload['kubernetes.io'];
  let fromClaim: AuthenticatedWorkload | undefined;
  if (raw !== undefined) {
    const k = raw as KubernetesClaim;
    if (typeof raw !== 'object' || raw === null || typeof k.namespace !== 'string' || typeof k.serviceaccount?.name !== 'string') {
      throw caError(CA_ERR_TOKEN_IDENTITY, 'the token\'s "kubernetes.io" claim lacks "namespace" or "serviceaccount.name"');
    }
    fromClaim = {
      namespace: k.namespace,
      serviceAccount: k.serviceaccount.name,
      podName: typeof k.pod?.name === 'string' ? k.pod.name : undefined,
      podUid: typeof k.pod?.uid === 'string' ? k.pod.uid : undefined,
    };
  }
  if (fromSub && fromClaim && (fromSub.namespace !== fromClaim.namespace || fromSub.serviceAccount !== fromClaim.serviceAccount)) {
    throw caError(
      CA_ERR_TOKEN_IDENTITY,
      `the token's subject names ${fromSub.namespace}/${fromSub.serviceAccount} but its "kubernetes.io" claim names ${fromClaim.namespace}/${fromClaim.serviceAccount}`,
    );
  }
  const workload = fromClaim ?? fromSub;
  if (!workload) {
    throw caError(CA_ERR_TOKEN_IDENTITY, 'the token names no service account: it has neither a system:serviceaccount subject nor a "kubernetes.io" claim');
  }
  return checkWorkload(workload, 'the token');
}

const TestTokenOptionsSchema = z.object({
  namespace: z.string().min(1),
  serviceAccount: z.string().min(1),
  podName: z.string().min(1).optional(),
  podUid: z.string().min(1).optional(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default(DEFAULT_CA_AUDIENCE),
  ttlSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(3600),
  issuer: z.string().min(1).default(KUBERNETES_DEFAULT_ISSUER),
  /** Written to the header, so a JWKS with several keys finds the right one. */
  keyId: z.string().min(1).optional(),
  now: z.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a valid Date').optional(),
});

export type TestTokenOptions = z.input<typeof TestTokenOptionsSchema>;

/**
 * A token shaped like a Kubernetes projected service-account token (audience `meshtap-ca` unless
 * told otherwise), signed with `privateKey` (EC P-256 → ES256, RSA → RS256). For the lab, which
 * has no API server, and for tests.
 */
export async function issueTestToken(privateKey: KeyObject | string, options: TestTokenOptions): Promise<string> {
  const opts = parseCaOptions('issueTestToken', TestTokenOptionsSchema, options);
  const alg = tokenAlgorithmFor(createPublicKey(privateKey));
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const claim: Record<string, unknown> = {
    namespace: opts.namespace,
    serviceaccount: { name: opts.serviceAccount, uid: randomUUID() },
  };
  if (opts.podName) claim.pod = { name: opts.podName, uid: opts.podUid ?? randomUUID() };
  return new SignJWT({ 'kubernetes.io': claim })
    .setProtectedHeader(opts.keyId ? { alg, kid: opts.keyId } : { alg })
    .setIssuer(opts.issuer)
    .setSubject(`system:serviceaccount:${opts.namespace}:${opts.serviceAccount}`)
    .setAudience(typeof opts.audience === 'string' ? [opts.audience] : opts.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + opts.ttlSeconds)
    .setJti(randomUUID())
    .sign(typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey);
}
