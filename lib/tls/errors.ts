import { MeshtapError } from '../errors.ts';

/**
 * Error codes of reading and writing PEM certificates, keys and trust bundles. They keep the
 * `CA_ERR_` prefix they had when only the CA read these files: codes are stable, they appear
 * in logs and in what callers match on. `../../certs/errors.ts` re-exports them as part of
 * the CA's catalog.
 */

/** A PEM text is not what was expected (no block, wrong label, unparsable content). */
export const CA_ERR_BAD_PEM = 'CA_ERR_BAD_PEM';
/** A private key does not belong to the certificate it is paired with. */
export const CA_ERR_KEY_MISMATCH = 'CA_ERR_KEY_MISMATCH';
/** A certificate used to sign is not a CA certificate. */
export const CA_ERR_NOT_CA = 'CA_ERR_NOT_CA';
/** A trust bundle is unusable (empty, or missing the certificate that must be in it). */
export const CA_ERR_BAD_BUNDLE = 'CA_ERR_BAD_BUNDLE';
/** Writing would replace an existing private key and overwriting was not asked for. */
export const CA_ERR_EXISTS = 'CA_ERR_EXISTS';
/** A certificate, key or bundle file cannot be read. */
export const CA_ERR_READ = 'CA_ERR_READ';
/** A certificate, key or bundle file cannot be written. */
export const CA_ERR_WRITE = 'CA_ERR_WRITE';

export type TlsErrorCode =
  | typeof CA_ERR_BAD_PEM
  | typeof CA_ERR_KEY_MISMATCH
  | typeof CA_ERR_NOT_CA
  | typeof CA_ERR_BAD_BUNDLE
  | typeof CA_ERR_EXISTS
  | typeof CA_ERR_READ
  | typeof CA_ERR_WRITE;

export function tlsError(code: TlsErrorCode, message: string, cause?: unknown): MeshtapError {
  return new MeshtapError(code, message, cause === undefined ? undefined : { cause });
}
