import { MeshtapError } from '../lib/errors.ts';
import {
  CA_ERR_BAD_BUNDLE,
  CA_ERR_BAD_PEM,
  CA_ERR_EXISTS,
  CA_ERR_KEY_MISMATCH,
  CA_ERR_NOT_CA,
  CA_ERR_READ,
  CA_ERR_WRITE,
} from '../lib/tls/errors.ts';

// Reading and writing PEM files lives in lib/tls/ (collector and controller read TLS
// directories too); its codes are part of this catalog.
export { CA_ERR_BAD_BUNDLE, CA_ERR_BAD_PEM, CA_ERR_EXISTS, CA_ERR_KEY_MISMATCH, CA_ERR_NOT_CA, CA_ERR_READ, CA_ERR_WRITE };

/**
 * Error codes of meshtap's CA: creating and loading CAs, issuing certificates, reading and
 * writing them. Every failure names what was wrong (the option, the file, the SAN) so an
 * operator can act on the message alone.
 */

/** An option has the wrong type or is out of range (validity, key size, ...). */
export const CA_ERR_BAD_OPTION = 'CA_ERR_BAD_OPTION';
/** A part of a SPIFFE identity (trust domain, namespace, service account, path) is invalid. */
export const CA_ERR_BAD_IDENTITY = 'CA_ERR_BAD_IDENTITY';
/** An IP address meant for a SAN is not a valid IPv4 or IPv6 address. */
export const CA_ERR_BAD_IP = 'CA_ERR_BAD_IP';
/** A DNS name meant for a SAN is not a valid DNS name. */
export const CA_ERR_BAD_DNS_NAME = 'CA_ERR_BAD_DNS_NAME';
/** A certificate signing request cannot be parsed. */
export const CA_ERR_BAD_CSR = 'CA_ERR_BAD_CSR';
/** A certificate signing request is not signed by the key it carries (tampered or forged). */
export const CA_ERR_CSR_SIGNATURE = 'CA_ERR_CSR_SIGNATURE';
/** A key is of a type or size the CA does not sign or sign with. */
export const CA_ERR_UNSUPPORTED_KEY = 'CA_ERR_UNSUPPORTED_KEY';
/** The signing CA is not valid at the requested time (expired or not yet valid). */
export const CA_ERR_CA_EXPIRED = 'CA_ERR_CA_EXPIRED';

// The CA's signing service (ca-service.ts), its authenticators (authn/) and its client (ca-client.ts).

/** A signing request carried no bearer token. */
export const CA_ERR_TOKEN_MISSING = 'CA_ERR_TOKEN_MISSING';
/** A token is malformed, or its signature does not verify with any trusted key, or the API server rejected it. */
export const CA_ERR_TOKEN_INVALID = 'CA_ERR_TOKEN_INVALID';
/** A token was issued for another audience than the CA's. */
export const CA_ERR_TOKEN_AUDIENCE = 'CA_ERR_TOKEN_AUDIENCE';
/** A token has expired or is not valid yet. */
export const CA_ERR_TOKEN_EXPIRED = 'CA_ERR_TOKEN_EXPIRED';
/** A token was issued by another issuer than the configured one. */
export const CA_ERR_TOKEN_ISSUER = 'CA_ERR_TOKEN_ISSUER';
/** A token is genuine but does not name a Kubernetes service account meshtap can give an identity to. */
export const CA_ERR_TOKEN_IDENTITY = 'CA_ERR_TOKEN_IDENTITY';
/** The authenticator's backend (the API server's TokenReview) cannot be asked or refused to answer. */
export const CA_ERR_AUTHN_UNAVAILABLE = 'CA_ERR_AUTHN_UNAVAILABLE';
/** An authenticator or the signing service is misconfigured (key file, in-cluster config, TLS). */
export const CA_ERR_AUTHN_CONFIG = 'CA_ERR_AUTHN_CONFIG';
/** The CA's signing service cannot be reached in time. */
export const CA_ERR_CA_UNAVAILABLE = 'CA_ERR_CA_UNAVAILABLE';
/** The CA's signing service did not accept the caller's token. */
export const CA_ERR_CA_UNAUTHENTICATED = 'CA_ERR_CA_UNAUTHENTICATED';
/** The CA's signing service refused or failed a request for another reason (bad CSR, internal error). */
export const CA_ERR_CA_REFUSED = 'CA_ERR_CA_REFUSED';
/** The CA's answer is unusable: the certificate does not match the key, chain to the bundle or name the identity. */
export const CA_ERR_CA_BAD_RESPONSE = 'CA_ERR_CA_BAD_RESPONSE';

export type CaErrorCode =
  | typeof CA_ERR_BAD_OPTION
  | typeof CA_ERR_BAD_IDENTITY
  | typeof CA_ERR_BAD_IP
  | typeof CA_ERR_BAD_DNS_NAME
  | typeof CA_ERR_BAD_CSR
  | typeof CA_ERR_CSR_SIGNATURE
  | typeof CA_ERR_UNSUPPORTED_KEY
  | typeof CA_ERR_BAD_PEM
  | typeof CA_ERR_KEY_MISMATCH
  | typeof CA_ERR_NOT_CA
  | typeof CA_ERR_CA_EXPIRED
  | typeof CA_ERR_BAD_BUNDLE
  | typeof CA_ERR_EXISTS
  | typeof CA_ERR_READ
  | typeof CA_ERR_WRITE
  | typeof CA_ERR_TOKEN_MISSING
  | typeof CA_ERR_TOKEN_INVALID
  | typeof CA_ERR_TOKEN_AUDIENCE
  | typeof CA_ERR_TOKEN_EXPIRED
  | typeof CA_ERR_TOKEN_ISSUER
  | typeof CA_ERR_TOKEN_IDENTITY
  | typeof CA_ERR_AUTHN_UNAVAILABLE
  | typeof CA_ERR_AUTHN_CONFIG
  | typeof CA_ERR_CA_UNAVAILABLE
  | typeof CA_ERR_CA_UNAUTHENTICATED
  | typeof CA_ERR_CA_REFUSED
  | typeof CA_ERR_CA_BAD_RESPONSE;

export function caError(code: CaErrorCode, message: string, cause?: unknown): MeshtapError {
  return new MeshtapError(code, message, cause === undefined ? undefined : { cause });
}
