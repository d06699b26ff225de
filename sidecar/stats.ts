/**
 * The sidecar's counters as plain numbers: the data path and the capture worker increment
 * them (no label lookups per chunk, nothing to load); `metrics.ts` shows them to Prometheus.
 */
import type { Observer } from '../record/record.ts';

export interface DirectionStats {
  /** Connections by the protocol they were classified as (`none`: no byte; `uncaptured`: capture off). */
  connectionsByProtocol: Record<string, number>;
  active: number;
  bytesFromClient: number;
  bytesFromServer: number;
  originalDstFailures: Record<string, number>;
  upstreamConnectFailures: number;
}

export interface SidecarStats {
  outbound: DirectionStats;
  inbound: DirectionStats;
  /** `exception`: a parser threw (a bug); `parse_error`: traffic the parser could not read. */
  parserErrors: { exception: number; parse_error: number };
  /**
   * Connection captures cut, by reason: `connection_budget` and `sidecar_budget` (the hand-off
   * to the capture worker was full), `worker_failed`, `pending_exchanges` (a parser's backlog);
   * `ws_message_rate` counts WebSocket messages not recorded (over a connection's rate), one each.
   */
  captureOverflow: Record<string, number>;
  /** mTLS outcomes per listener direction (`mesh`, `plaintext`, `peer_rejected`, `strict_plaintext_refused`, ...). */
  mtls: Record<Observer, Record<string, number>>;
  /**
   * Outbound calls linked to the inbound call that caused them (`capture/flow-links.ts`):
   * `linked`, `linked_ambiguous`, `unlinked`, and entries dropped early (`evicted_full`, `evicted_age`).
   */
  flowLinks: Record<string, number>;
  records: {
    /** Exchanges completed into records. */
    emitted: number;
    /** Records the shipper took. */
    offered: number;
    /** Records dropped before reaching the shipper's queue, by reason. */
    dropped: Record<string, number>;
  };
}

function directionStats(): DirectionStats {
  return {
    connectionsByProtocol: {},
    active: 0,
    bytesFromClient: 0,
    bytesFromServer: 0,
    originalDstFailures: {},
    upstreamConnectFailures: 0,
  };
}

export function createSidecarStats(): SidecarStats {
  return {
    outbound: directionStats(),
    inbound: directionStats(),
    parserErrors: { exception: 0, parse_error: 0 },
    captureOverflow: {},
    mtls: { outbound: {}, inbound: {} },
    flowLinks: {},
    records: { emitted: 0, offered: 0, dropped: {} },
  };
}

export function countDrop(stats: SidecarStats, reason: string, n = 1): void {
  stats.records.dropped[reason] = (stats.records.dropped[reason] ?? 0) + n;
}
