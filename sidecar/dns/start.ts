/**
 * The sidecar's DNS side, wired: resolv.conf source, relays, capture, counters, and the
 * listener's life — bound at start, rebound every `RETRY_MS` after a failure (logged with
 * `SC_ERR_DNS_LISTEN`; the sidecar is not ready meanwhile, so the app never runs behind a
 * redirect to nothing).
 */
import { describeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { CallRecord } from '../../record/record.ts';
import type { NsClock } from '../capture/session.ts';
import type { SidecarConfig } from '../config.ts';
import { resolveMaskPolicy } from '../mask/policy.ts';
import { createConnectionIdSource } from '../proxy/connection-id.ts';
import { createRecordMasker } from '../proxy/masking.ts';
import { createDnsCapture, type DnsCapture } from './dns-capture.ts';
import { existsSync } from 'node:fs';
import { DNS_LISTEN_ADDRESS, DNS_LISTEN_ADDRESS6, createDnsServer, type DnsServer } from './dns-server.ts';
import { RESOLV_CONF, createResolvConfSource } from './resolv-conf-source.ts';
import { createDnsStats, type DnsStats } from './stats.ts';

export const RETRY_MS = 2000;

export interface DnsSideOptions {
  readonly config: Pick<SidecarConfig, 'dnsPort' | 'capture' | 'maxBodyBytes' | 'mask' | 'pod'>;
  readonly clock: NsClock;
  readonly log: Logger;
  /** Hands a masked record to the shipper (absent: no collector, records counted as dropped). */
  readonly ship?: (record: CallRecord) => boolean;
  readonly resolvConfPath?: string;
  /** Listen on ::1 too; default: when the kernel has IPv6 (init then redirects IPv6 DNS there). */
  readonly ipv6?: boolean;
}

/** The file init checks too: without it the pod has no IPv6 and init installs no IPv6 rules. */
const IPV6_PROC_FILE = '/proc/net/if_inet6';

export interface DnsSide {
  readonly stats: DnsStats;
  readonly listening: boolean;
  /** Binds the listener; on failure logs, keeps retrying, and resolves false. */
  start(): Promise<boolean>;
  close(): Promise<void>;
}

export function createDnsSide(options: DnsSideOptions): DnsSide {
  const { config, log } = options;
  const stats = createDnsStats();
  const capture: DnsCapture | undefined = config.capture
    ? createDnsCapture({
        build: { local: { pod: config.pod.name, namespace: config.pod.namespace, node: config.pod.node }, maxBodyBytes: config.maxBodyBytes },
        stats,
        mask: createRecordMasker(resolveMaskPolicy(config.mask)),
        ship: options.ship,
        onFailure: (stage, err) => log.warn({ stage, error: describeError(err) }, 'dns: a record could not be built or masked'),
      })
    : undefined;
  const resolvConf = options.resolvConfPath ?? RESOLV_CONF;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const ipv6 = options.ipv6 ?? existsSync(IPV6_PROC_FILE);
  const server: DnsServer = createDnsServer({
    hosts: ipv6 ? [DNS_LISTEN_ADDRESS, DNS_LISTEN_ADDRESS6] : [DNS_LISTEN_ADDRESS],
    port: config.dnsPort,
    resolvers: createResolvConfSource(resolvConf, (message) => log.warn({ path: resolvConf }, `dns: ${message}`)),
    clock: options.clock,
    stats,
    newId: createConnectionIdSource(),
    onExchange: (exchange) => capture?.offer(exchange),
    onListenerError: (err) => {
      log.error({ code: 'SC_ERR_DNS_LISTEN', error: err.message }, 'dns: the listener failed; not ready until it is bound again');
      schedule();
    },
  });
  const attempt = async (): Promise<boolean> => {
    try {
      const bound = await server.start();
      log.info({ dns: bound.addresses.map((a) => (a.includes(':') ? `[${a}]:${bound.port}` : `${a}:${bound.port}`)), resolv_conf: resolvConf }, 'dns: listening');
      return true;
    } catch (err) {
      log.error({ code: 'SC_ERR_DNS_LISTEN', error: describeError(err), retry_ms: RETRY_MS }, 'dns: cannot listen; not ready while the pod\'s DNS would go nowhere');
      schedule();
      return false;
    }
  };
  const schedule = () => {
    if (closed || retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      if (!closed) void attempt();
    }, RETRY_MS);
  };
  return {
    stats,
    get listening() {
      return server.listening;
    },
    start: attempt,
    async close() {
      closed = true;
      clearTimeout(retry);
      await server.close();
      capture?.flush();
    },
  };
}
