/**
 * Error codes of `meshtap init`, the init container that installs the pod's redirection.
 * Every one of them is fatal for the init container: a pod whose traffic would silently
 * bypass the sidecar is worse than a pod that does not start.
 */
import { MeshtapError } from '../../lib/errors.ts';

/** An option (flag, environment variable or programmatic option) has a value init cannot use. */
export const SC_ERR_INIT_BAD_OPTION = 'SC_ERR_INIT_BAD_OPTION';
/** The iptables tools for the chosen backend are not installed (or not on PATH). */
export const SC_ERR_INIT_IPTABLES_MISSING = 'SC_ERR_INIT_IPTABLES_MISSING';
/** The kernel refused: not root, or without CAP_NET_ADMIN in the pod's network namespace. */
export const SC_ERR_INIT_NOT_PERMITTED = 'SC_ERR_INIT_NOT_PERMITTED';
/** The backend could not be determined from `iptables --version`. */
export const SC_ERR_INIT_BACKEND_UNKNOWN = 'SC_ERR_INIT_BACKEND_UNKNOWN';
/** Reading the nat table (`iptables-save`) failed for another reason. */
export const SC_ERR_INIT_READ_FAILED = 'SC_ERR_INIT_READ_FAILED';
/** `iptables-restore` rejected the rules, or a tool failed for another reason. */
export const SC_ERR_INIT_APPLY_FAILED = 'SC_ERR_INIT_APPLY_FAILED';

export type InitErrorCode =
  | typeof SC_ERR_INIT_BAD_OPTION
  | typeof SC_ERR_INIT_IPTABLES_MISSING
  | typeof SC_ERR_INIT_NOT_PERMITTED
  | typeof SC_ERR_INIT_BACKEND_UNKNOWN
  | typeof SC_ERR_INIT_READ_FAILED
  | typeof SC_ERR_INIT_APPLY_FAILED;

export function initError(code: InitErrorCode, message: string, cause?: unknown): MeshtapError {
  return new MeshtapError(code, message, cause === undefined ? undefined : { cause });
}
