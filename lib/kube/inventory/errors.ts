/** The inventory's error codes (part of the collector's `COL_ERR_*` catalog). */
export const COL_ERR_INVENTORY_CONFIG = 'COL_ERR_INVENTORY_CONFIG';
/** The Kubernetes client could not be configured (no in-cluster service account, unreadable kubeconfig). */
export const COL_ERR_INVENTORY_KUBECONFIG = 'COL_ERR_INVENTORY_KUBECONFIG';
/** A list call did not answer in time. */
export const COL_ERR_INVENTORY_LIST_TIMEOUT = 'COL_ERR_INVENTORY_LIST_TIMEOUT';
