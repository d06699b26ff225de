/** Codes of the sidecar's membership client (thrown only for bad options, never while running). */
import { defineErrors } from '../../lib/errors.ts';

export const SC_ERR_MEMBERSHIP_CONFIG = 'SC_ERR_MEMBERSHIP_CONFIG';

export const membershipClientErrors = defineErrors(
  { component: 'sidecar', title: 'the membership client', prefix: 'SC_ERR_' },
  {
    [SC_ERR_MEMBERSHIP_CONFIG]: {
      summary: 'The membership client got bad options, or its trust bundle cannot verify the controller.',
      action: 'Fix the option the message names; give the sidecar the trust bundle of meshtap\'s CA.',
    },
  },
);

