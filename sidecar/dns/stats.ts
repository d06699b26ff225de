/**
 * The DNS side's counters, plain numbers incremented where things happen; `metrics.ts` shows
 * them as `meshtap_sidecar_dns_*`. Kept apart from `SidecarStats`, whose capture counters are
 * mirrored from the capture worker and would overwrite anything counted on this thread.
 */
import type { DnsTransport } from './render.ts';

export interface DnsStats {
  /** The UDP and TCP listeners are bound (false before start, after a failed bind, after close). */
  listening: boolean;
  queries: Record<DnsTransport, number>;
  answers: Record<DnsTransport, number>;
  /** Queries no resolver answered within its timeout, after every resolver was tried. */
  timeouts: number;
  /** Messages capture could not decode (forwarded all the same), by `query` / `answer`. */
  parseErrors: { query: number; answer: number };
  /** Upstream attempts that failed, by reason: `timeout`, `error` (refused, unreachable), `no_resolver`, `connect` (TCP). */
  upstreamFailures: Record<string, number>;
  /** Answers with the TC bit (the app is expected to retry over TCP). */
  truncated: number;
  /** TCP connections from the app. */
  tcpConnections: number;
  /** Queries not forwarded because too many were in flight (the app retries). */
  overloaded: number;
  records: {
    emitted: number;
    /** Before the shipper: `capture_queue_full`, `build_error`, `mask_error`, `no_collector`, `shipper_refused`. */
    dropped: Record<string, number>;
  };
}

export function createDnsStats(): DnsStats {
  return {
    listening: false,
    queries: { udp: 0, tcp: 0 },
    answers: { udp: 0, tcp: 0 },
    timeouts: 0,
    parseErrors: { query: 0, answer: 0 },
    upstreamFailures: {},
    truncated: 0,
    tcpConnections: 0,
    overloaded: 0,
    records: { emitted: 0, dropped: {} },
  };
}

export function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}
