/**
 * Error codes of the sidecar (the proxy, its admin server and its CLI).
 * Expected per-connection outcomes (an unreachable upstream, a parser bug, a dropped record)
 * are counters and records, never these errors: these are for the process as a whole.
 */
export const SC_ERR_CONFIG = 'SC_ERR_CONFIG';
/** A listener (outbound, inbound or admin) could not bind its port. */
export const SC_ERR_LISTEN = 'SC_ERR_LISTEN';
/** libc's getsockopt could not be loaded, so no original destination can be read. */
export const SC_ERR_ORIGINAL_DST = 'SC_ERR_ORIGINAL_DST';
/** The shipper or another collaborator could not be created from the config. */
export const SC_ERR_STARTUP = 'SC_ERR_STARTUP';

export type SidecarErrorCode = typeof SC_ERR_CONFIG | typeof SC_ERR_LISTEN | typeof SC_ERR_ORIGINAL_DST | typeof SC_ERR_STARTUP;
