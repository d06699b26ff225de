/** Codes of `meshtap controller` (the control-plane process); components keep their own (`WH_ERR_*`, `CA_ERR_*`). */
import { defineErrors } from '../lib/errors.ts';

export const CTL_ERR_CONFIG = 'CTL_ERR_CONFIG';
export const CTL_ERR_LISTEN = 'CTL_ERR_LISTEN';

export const controllerErrors = defineErrors(
  { component: 'controller', title: '`meshtap controller`', prefix: 'CTL_ERR_' },
  {
    [CTL_ERR_CONFIG]: {
      summary: 'A flag or file the controller needs is missing or unusable (certificates, token key, trust domain).',
      action: 'Fix the flag or file the message names; `meshtap controller --help` lists them.',
    },
    [CTL_ERR_LISTEN]: {
      summary: 'The controller\'s gRPC port (CA signing and membership) could not be bound.',
      action: 'Free the port the message names or choose another one.',
    },
  },
);

