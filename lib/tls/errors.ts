/**
 * Error codes of reading and writing PEM certificates, keys and trust bundles (lib/tls/). They
 * keep the `CA_ERR_` prefix they had when only the CA read these files: codes are stable, they
 * appear in logs and in what callers match on.
 */
import { defineErrors, MeshtapError } from '../errors.ts';

export const CA_ERR_BAD_PEM = 'CA_ERR_BAD_PEM';
export const CA_ERR_KEY_MISMATCH = 'CA_ERR_KEY_MISMATCH';
export const CA_ERR_NOT_CA = 'CA_ERR_NOT_CA';
export const CA_ERR_BAD_BUNDLE = 'CA_ERR_BAD_BUNDLE';
export const CA_ERR_EXISTS = 'CA_ERR_EXISTS';
export const CA_ERR_READ = 'CA_ERR_READ';
export const CA_ERR_WRITE = 'CA_ERR_WRITE';

export const tlsErrors = defineErrors(
  { component: 'lib', title: 'TLS files: PEM certificates, keys, trust bundles and TLS directories', prefix: 'CA_ERR_' },
  {
    [CA_ERR_BAD_PEM]: {
      summary: 'A PEM text is not what was expected (no block, wrong label, unparsable content).',
      action: 'Check the file the message names: it must hold the PEM block the message expects.',
    },
    [CA_ERR_KEY_MISMATCH]: {
      summary: 'A private key does not belong to the certificate it is paired with.',
      action: 'Put the matching `tls.key` next to `tls.crt` (or issue both again with `meshtap certs`).',
    },
    [CA_ERR_NOT_CA]: {
      summary: 'A certificate used to sign is not a CA certificate.',
      action: 'Give the CA certificate (`ca.crt` of `meshtap certs init`), not a leaf certificate.',
    },
    [CA_ERR_BAD_BUNDLE]: {
      summary: 'A trust bundle is unusable: empty, or missing the CA that issued the certificate it must verify.',
      action: 'Regenerate the bundle from the CA that signs (`ca.crt`) and give it to every component.',
    },
    [CA_ERR_EXISTS]: {
      summary: 'Writing would replace an existing private key and overwriting was not asked for.',
      action: 'Pass `--force` to replace it, or choose another directory.',
    },
    [CA_ERR_READ]: {
      summary: 'A certificate, key, bundle or token file cannot be read.',
      action: 'Check that the path exists and is readable by the process (the message names the file and the reason).',
    },
    [CA_ERR_WRITE]: {
      summary: 'A certificate, key or bundle file or its directory cannot be written.',
      action: 'Check the directory exists or can be created and is writable by the process.',
    },
  },
);

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
