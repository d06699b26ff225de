/** The inventory's error codes (part of the collector's `COL_ERR_*` codes). */
import { defineErrors } from '../../lib/errors.ts';

export const COL_ERR_INVENTORY_CONFIG = 'COL_ERR_INVENTORY_CONFIG';
export const COL_ERR_INVENTORY_KUBECONFIG = 'COL_ERR_INVENTORY_KUBECONFIG';
export const COL_ERR_INVENTORY_LIST_TIMEOUT = 'COL_ERR_INVENTORY_LIST_TIMEOUT';

export const inventoryErrors = defineErrors(
  { component: 'collector', title: 'the Kubernetes inventory', prefix: 'COL_ERR_' },
  {
    [COL_ERR_INVENTORY_CONFIG]: {
      summary: 'An inventory option (resources to watch, timeouts) has a bad value.',
      action: 'Fix the option the message names.',
    },
    [COL_ERR_INVENTORY_KUBECONFIG]: {
      summary: 'The Kubernetes client could not be configured (no in-cluster service account, unreadable kubeconfig).',
      action: 'Run in a cluster with the collector\'s service account mounted, or give a readable kubeconfig.',
    },
    [COL_ERR_INVENTORY_LIST_TIMEOUT]: {
      summary: 'A list call to the Kubernetes API server did not answer in time.',
      action: 'Check the API server is reachable from the collector and its RBAC allows list and watch on the resources the message names.',
    },
  },
);

