/** Codes of `meshtap controller` (the control-plane process); components keep their own (`WH_ERR_*`, `CA_ERR_*`). */
import { defineErrors } from '../lib/errors.ts';

export const CTL_ERR_CONFIG = 'CTL_ERR_CONFIG';
export const CTL_ERR_LISTEN = 'CTL_ERR_LISTEN';

export const controllerErrors = defineErrors(
  { component: 'controller', title: '`meshtap controller`', prefix: 'CTL_ERR_' },
  {
    [CTL_ERR_CONFIG]: {
      summary: 'A file the controller reads at start is missing or unusable: the CA (`--ca-dir`) or the gRPC serving certificate. Missing or invalid flags and variables are usage errors (`CLI_ERR_USAGE`, exit 2), every one named in one message.',
      action: 'Fix the file the message names (`meshtap certs init` writes the CA); `meshtap controller --help` lists the flags.',
    },
    [CTL_ERR_LISTEN]: {
      summary: 'A port of the controller (gRPC for CA signing and membership, or the webhook) could not be bound, or `--host` is no address of this machine.',
      action: 'Free the port the message names or choose another one; give `--host` an address of this machine (or `0.0.0.0` / `::`).',
    },
  },
);

