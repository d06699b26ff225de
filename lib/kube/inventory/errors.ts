/**
 * The inventory's error codes. They keep the `COL_ERR_` prefix they had when only the collector
 * ran an inventory (the controller runs one too now): codes are stable, logs and callers match them.
 */
import { defineErrors } from '../../errors.ts';

export const COL_ERR_INVENTORY_CONFIG = 'COL_ERR_INVENTORY_CONFIG';
export const COL_ERR_INVENTORY_KUBECONFIG = 'COL_ERR_INVENTORY_KUBECONFIG';
export const COL_ERR_INVENTORY_LIST_TIMEOUT = 'COL_ERR_INVENTORY_LIST_TIMEOUT';

export const inventoryErrors = defineErrors(
  { component: 'lib', title: 'the Kubernetes inventory (lib/kube/inventory)', prefix: 'COL_ERR_' },
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

