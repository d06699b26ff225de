/**
 * Error codes of meshtap's CA: creating and loading CAs, issuing certificates, reading and
 * writing them, the signing service (ca-service.ts), its authenticators (authn/) and its client
 * (ca-client.ts). Every failure names what was wrong (the option, the file, the SAN) so an
 * operator can act on the message alone.
 */
import { defineErrors, type ErrorCodeOf } from '../lib/errors.ts';

export const CA_ERR_BAD_OPTION = 'CA_ERR_BAD_OPTION';
export const CA_ERR_BAD_IDENTITY = 'CA_ERR_BAD_IDENTITY';
export const CA_ERR_BAD_IP = 'CA_ERR_BAD_IP';
export const CA_ERR_BAD_DNS_NAME = 'CA_ERR_BAD_DNS_NAME';
export const CA_ERR_BAD_CSR = 'CA_ERR_BAD_CSR';
export const CA_ERR_CSR_SIGNATURE = 'CA_ERR_CSR_SIGNATURE';
export const CA_ERR_UNSUPPORTED_KEY = 'CA_ERR_UNSUPPORTED_KEY';
export const CA_ERR_CA_EXPIRED = 'CA_ERR_CA_EXPIRED';
export const CA_ERR_TOKEN_MISSING = 'CA_ERR_TOKEN_MISSING';
export const CA_ERR_TOKEN_INVALID = 'CA_ERR_TOKEN_INVALID';
export const CA_ERR_TOKEN_AUDIENCE = 'CA_ERR_TOKEN_AUDIENCE';
export const CA_ERR_TOKEN_EXPIRED = 'CA_ERR_TOKEN_EXPIRED';
export const CA_ERR_TOKEN_ISSUER = 'CA_ERR_TOKEN_ISSUER';
export const CA_ERR_TOKEN_IDENTITY = 'CA_ERR_TOKEN_IDENTITY';
export const CA_ERR_AUTHN_UNAVAILABLE = 'CA_ERR_AUTHN_UNAVAILABLE';
export const CA_ERR_AUTHN_CONFIG = 'CA_ERR_AUTHN_CONFIG';
export const CA_ERR_CA_UNAVAILABLE = 'CA_ERR_CA_UNAVAILABLE';
export const CA_ERR_CA_UNAUTHENTICATED = 'CA_ERR_CA_UNAUTHENTICATED';
export const CA_ERR_CA_REFUSED = 'CA_ERR_CA_REFUSED';
export const CA_ERR_CA_BAD_RESPONSE = 'CA_ERR_CA_BAD_RESPONSE';

export const caErrors = defineErrors(
  { component: 'certs', title: 'the CA, its signing service and client', prefix: 'CA_ERR_' },
  {
    [CA_ERR_BAD_OPTION]: {
      summary: 'An option has the wrong type or is out of range (validity, key size, trust domain), or the signing service cannot listen.',
      action: 'Fix the option the message names; for a listen failure, free the port or choose another.',
    },
    [CA_ERR_BAD_IDENTITY]: {
      summary: 'A part of a SPIFFE identity (trust domain, namespace, service account, path) is invalid.',
      action: 'Use DNS-label names for namespace and service account and a DNS name for the trust domain.',
    },
    [CA_ERR_BAD_IP]: {
      summary: 'An IP address meant for a certificate SAN is not a valid IPv4 or IPv6 address.',
      action: 'Correct the address given for the certificate.',
    },
    [CA_ERR_BAD_DNS_NAME]: {
      summary: 'A DNS name meant for a certificate SAN is not a valid DNS name.',
      action: 'Correct the name given for the certificate (labels of letters, digits and hyphens).',
    },
    [CA_ERR_BAD_CSR]: {
      summary: 'A certificate signing request is empty, too large or cannot be parsed.',
      action: 'Send exactly one PEM `CERTIFICATE REQUEST` block; sidecars build it themselves, so this points at a foreign client.',
    },
    [CA_ERR_CSR_SIGNATURE]: {
      summary: 'A certificate signing request is not signed by the key it carries (tampered or forged).',
      action: 'Build the CSR with the private key whose public key it carries.',
    },
    [CA_ERR_UNSUPPORTED_KEY]: {
      summary: 'A key is of a type or size the CA does not sign or sign with.',
      action: 'Use an RSA key of at least the size the message names.',
    },
    [CA_ERR_CA_EXPIRED]: {
      summary: 'The signing CA is not valid at the requested time (expired or not yet valid).',
      action: 'Create a new CA (`meshtap certs init --force`) and roll out its trust bundle; check the clock if the CA is not valid yet.',
    },
    [CA_ERR_TOKEN_MISSING]: {
      summary: 'A signing request carried no bearer token (or the token file is empty).',
      action: 'Send the workload\'s service-account token as gRPC metadata `authorization: Bearer <token>`; check the projected token volume of the pod.',
    },
    [CA_ERR_TOKEN_INVALID]: {
      summary: 'A token is malformed, its signature does not verify with any trusted key, or the API server rejected it.',
      action: 'Check that the CA trusts the key that signs service-account tokens (`--token-key`) or can reach the API server for TokenReview.',
    },
    [CA_ERR_TOKEN_AUDIENCE]: {
      summary: 'A token was issued for another audience than the CA\'s.',
      action: 'Project the service-account token with the CA\'s audience in the pod spec.',
    },
    [CA_ERR_TOKEN_EXPIRED]: {
      summary: 'A token has expired or is not valid yet.',
      action: 'Use a fresh projected token (the kubelet rotates them); check the clocks of caller and CA.',
    },
    [CA_ERR_TOKEN_ISSUER]: {
      summary: 'A token was issued by another issuer than the configured one.',
      action: 'Configure the CA with the cluster\'s service-account issuer.',
    },
    [CA_ERR_TOKEN_IDENTITY]: {
      summary: 'A token is genuine but does not name a Kubernetes service account meshtap can give an identity to.',
      action: 'Sign with a pod\'s service-account token, not a user or node token.',
    },
    [CA_ERR_AUTHN_UNAVAILABLE]: {
      summary: 'The authenticator\'s backend (the API server\'s TokenReview) cannot be asked or refused to answer.',
      action: 'Check that the API server is reachable from the controller and that its RBAC allows creating TokenReviews; callers retry.',
    },
    [CA_ERR_AUTHN_CONFIG]: {
      summary: 'An authenticator or the signing service is misconfigured (token key file, in-cluster config, TLS).',
      action: 'Fix the setting the message names (a token key must be a PEM public key or a JWKS).',
    },
    [CA_ERR_CA_UNAVAILABLE]: {
      summary: 'The CA\'s signing service cannot be reached in time, or the trust bundle cannot verify it.',
      action: 'Check the CA address, that the controller runs and that the client has the trust bundle of the CA it calls.',
    },
    [CA_ERR_CA_UNAUTHENTICATED]: {
      summary: 'The CA\'s signing service did not accept the caller\'s token.',
      action: 'See the CA\'s reason in the message (a `CA_ERR_TOKEN_*` code) and fix the token or the CA\'s token settings.',
    },
    [CA_ERR_CA_REFUSED]: {
      summary: 'The CA\'s signing service refused or failed a request for another reason (bad CSR, internal error).',
      action: 'See the CA\'s reason in the message and the CA\'s log.',
    },
    [CA_ERR_CA_BAD_RESPONSE]: {
      summary: 'The CA\'s answer is unusable: the certificate does not match the key, chain to the bundle or name the identity.',
      action: 'Give the client the trust bundle of the CA it talks to; a mismatch after a CA rotation clears once the bundle is updated.',
    },
  },
);

export type CaErrorCode = ErrorCodeOf<typeof caErrors>;

/** A `MeshtapError` with a CA code; `cause` only when given. */
export const caError = caErrors.create;
