/**
 * Error codes of the sidecar (the proxy, its admin server, its CLI and its masking policy).
 * Expected per-connection outcomes (an unreachable upstream, a parser bug, a dropped record)
 * are counters and records, never these errors: these are for the process as a whole.
 * The init container, the HTTP/1 capture, the membership client and the shipper keep their
 * codes in their own folders (`init/errors.ts`, ...), in the same shape.
 */
import { defineErrors, type ErrorCodeOf } from '../lib/errors.ts';

export const SC_ERR_CONFIG = 'SC_ERR_CONFIG';
export const SC_ERR_LISTEN = 'SC_ERR_LISTEN';
export const SC_ERR_ORIGINAL_DST = 'SC_ERR_ORIGINAL_DST';
export const SC_ERR_STARTUP = 'SC_ERR_STARTUP';
export const SC_ERR_MASK_POLICY = 'SC_ERR_MASK_POLICY';

export const sidecarErrors = defineErrors(
  { component: 'sidecar', title: 'the proxy, its admin server and CLI', prefix: 'SC_ERR_' },
  {
    [SC_ERR_CONFIG]: {
      summary: 'An environment variable of `meshtap sidecar` is missing or has a value the sidecar cannot use.',
      action: 'Fix the variables the message names (the injected pod spec sets them; a hand-made spec must set `POD_NAME`, `POD_NAMESPACE`, ...).',
      exitCode: 2,
    },
    [SC_ERR_LISTEN]: {
      summary: 'A listener (outbound, inbound or admin) could not bind its port.',
      action: 'Free the port the message names or configure another one; two sidecars in one pod collide.',
    },
    [SC_ERR_ORIGINAL_DST]: {
      summary: 'libc\'s `getsockopt` could not be loaded, so no original destination can be read.',
      action: 'Run the sidecar on Linux with glibc (`libc.so.6`), as the meshtap image does.',
    },
    [SC_ERR_STARTUP]: {
      summary: 'The shipper or another collaborator of the proxy could not be created from the config (reserved: nothing raises it today).',
      action: 'Read the message and its cause; it names the part that failed.',
    },
    [SC_ERR_MASK_POLICY]: {
      summary: 'A masking policy has a bad value or an unknown key (a renamed key fails with a hint).',
      action: 'Fix the key the message names in the masking policy.',
    },
  },
);

export type SidecarErrorCode = ErrorCodeOf<typeof sidecarErrors>;
