/** The shipper's error codes. Drops are counters, never errors; these are for misconfiguration. */
import { defineErrors } from '../../lib/errors.ts';

export const SC_ERR_SHIPPER_CONFIG = 'SC_ERR_SHIPPER_CONFIG';

export const shipperErrors = defineErrors(
  { component: 'sidecar', title: 'the shipper', prefix: 'SC_ERR_' },
  {
    [SC_ERR_SHIPPER_CONFIG]: {
      summary: 'The shipper got options out of range or inconsistent with each other (a batch larger than the queue, a backoff base above its cap).',
      action: 'Fix the sizes or times the message names.',
    },
  },
);

