/**
 * Error codes of `meshtap init`, the init container that installs the pod's redirection.
 * Every one of them is fatal for the init container: a pod whose traffic would silently
 * bypass the sidecar is worse than a pod that does not start.
 */
import { defineErrors, type ErrorCodeOf } from '../../lib/errors.ts';

export const SC_ERR_INIT_BAD_OPTION = 'SC_ERR_INIT_BAD_OPTION';
export const SC_ERR_INIT_IPTABLES_MISSING = 'SC_ERR_INIT_IPTABLES_MISSING';
export const SC_ERR_INIT_NOT_PERMITTED = 'SC_ERR_INIT_NOT_PERMITTED';
export const SC_ERR_INIT_BACKEND_UNKNOWN = 'SC_ERR_INIT_BACKEND_UNKNOWN';
export const SC_ERR_INIT_READ_FAILED = 'SC_ERR_INIT_READ_FAILED';
export const SC_ERR_INIT_APPLY_FAILED = 'SC_ERR_INIT_APPLY_FAILED';

export const initErrors = defineErrors(
  { component: 'sidecar', title: '`meshtap init` (the init container)', prefix: 'SC_ERR_' },
  {
    [SC_ERR_INIT_BAD_OPTION]: {
      summary: 'An option (flag, environment variable or programmatic option) has a value init cannot use.',
      action: 'Fix the flag or variable the message names; `meshtap init --help` lists them.',
      exitCode: 2,
    },
    [SC_ERR_INIT_IPTABLES_MISSING]: {
      summary: 'The iptables tools for the chosen backend are not installed (or not on PATH).',
      action: 'Use the meshtap image (it ships iptables), or install Debian\'s `iptables` package.',
    },
    [SC_ERR_INIT_NOT_PERMITTED]: {
      summary: 'The kernel refused: not root, or without CAP_NET_ADMIN in the pod\'s network namespace.',
      action: 'Let the init container run as root with the `NET_ADMIN` and `NET_RAW` capabilities (the injected spec asks for them; a PodSecurity policy may strip them).',
    },
    [SC_ERR_INIT_BACKEND_UNKNOWN]: {
      summary: 'The iptables backend (nft or legacy) could not be determined from `iptables --version`.',
      action: 'Choose the backend with `--backend` (`MESHTAP_IPTABLES_BACKEND`): `nft` or `legacy`.',
    },
    [SC_ERR_INIT_READ_FAILED]: {
      summary: 'Reading the nat table (`iptables-save`) failed for another reason.',
      action: 'Read the tool\'s output in the message.',
    },
    [SC_ERR_INIT_APPLY_FAILED]: {
      summary: '`iptables-restore` rejected the rules, or a tool failed for another reason.',
      action: 'Read the tool\'s output in the message; `meshtap init --dry-run` prints the rules it would apply.',
    },
  },
);

export type InitErrorCode = ErrorCodeOf<typeof initErrors>;

/** A `MeshtapError` with an init code; `cause` only when given. */
export const initError = initErrors.create;
