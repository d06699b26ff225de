/**
 * The lab's stand-in for the API server's token signer: a key pair made at `lab up`, whose
 * public half the controller is given (`--token-key`), and an issuer writing each injected pod
 * a projected service-account token signed with the private half. Tokens are shaped as the
 * kubelet gets them for a pod (`certs/authn/jwt-key.ts`'s `issueTestToken`).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { issueTestToken } from '../certs/authn/jwt-key.ts';

/** Issues the projected service-account token a pod's sidecar presents to the CA. */
export type TokenIssuer = (request: {
  pod: { name: string; namespace: string; uid: string; serviceAccount: string };
  audience: string;
  expirationSeconds: number;
}) => Promise<string>;

/** The audience the injected token volume asks for unless configured otherwise. */
export const DEFAULT_TOKEN_AUDIENCE = 'meshtap-ca';

export interface TokenKeyPair {
  privateKey: KeyObject;
  /** SPKI PEM: what `meshtap controller --token-key` reads. */
  publicPem: string;
  /** PKCS#8 PEM. */
  privatePem: string;
}

/** An EC P-256 key pair (tokens are ES256), fresh for every lab. */
export function createTokenKeyPair(): TokenKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function createKeyTokenIssuer(privateKey: KeyObject): TokenIssuer {
  return ({ pod, audience, expirationSeconds }) =>
    issueTestToken(privateKey, {
      namespace: pod.namespace,
      serviceAccount: pod.serviceAccount,
      podName: pod.name,
      podUid: pod.uid,
      audience: audience || DEFAULT_TOKEN_AUDIENCE,
      ttlSeconds: expirationSeconds,
    });
}
