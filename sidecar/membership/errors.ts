/** Codes of the sidecar's membership client (thrown only for bad options, never while running). */
export const SC_ERR_MEMBERSHIP_CONFIG = 'SC_ERR_MEMBERSHIP_CONFIG';
