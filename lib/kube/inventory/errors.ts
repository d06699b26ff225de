/**
 * The inventory's error codes. They keep the `COL_ERR_` prefix they had when only the collector
 * ran an inventory (the controller runs one too now): codes are stable, logs and callers match them.
 */

/** An inventory option has the wrong type or is out of range. */
export const COL_ERR_INVENTORY_CONFIG = 'COL_ERR_INVENTORY_CONFIG';
/** The Kubernetes client could not be configured (no in-cluster service account, unreadable kubeconfig). */
export const COL_ERR_INVENTORY_KUBECONFIG = 'COL_ERR_INVENTORY_KUBECONFIG';
/** A list call did not answer in time. */
export const COL_ERR_INVENTORY_LIST_TIMEOUT = 'COL_ERR_INVENTORY_LIST_TIMEOUT';
