/** The shipper's error codes. Drops are counters, never errors; these are for misconfiguration. */
export const SC_ERR_SHIPPER_CONFIG = 'SC_ERR_SHIPPER_CONFIG';
