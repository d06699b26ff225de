/**
 * Error codes of the sidecar's DNS capture. Per-query outcomes (a resolver that does not
 * answer, a message that cannot be decoded) are counters and records, never these errors.
 */
import { defineErrors, type ErrorCodeOf } from '../../lib/errors.ts';

export const SC_ERR_DNS_LISTEN = 'SC_ERR_DNS_LISTEN';

export const dnsErrors = defineErrors(
  { component: 'sidecar', title: 'DNS capture in the sidecar', prefix: 'SC_ERR_' },
  {
    [SC_ERR_DNS_LISTEN]: {
      summary:
        'The DNS listener (UDP and TCP on `MESHTAP_DNS_PORT`, 127.0.0.1 and ::1) could not be bound. The pod\'s DNS is redirected to it, so the sidecar does not report ready while it is missing and keeps retrying.',
      action:
        'Free the port (another process in the pod uses it) or set `MESHTAP_DNS_PORT` and `meshtap init --dns-port` to another one; or opt the pod out of DNS capture with the annotation `meshtap.io/dns-capture: "false"`.',
    },
  },
);

export type DnsErrorCode = ErrorCodeOf<typeof dnsErrors>;

export const dnsError = dnsErrors.create;
