/**
 * The numbers of one service map edge beyond counts and latency: retries, timeouts, 429s,
 * connect times, resets by side, connection reuse, calls crossing nodes, and how the callee's
 * replicas share the load. An accumulator fed one call at a time, then read once. Pure.
 */
import type { CallSummary } from './record-store.ts';

/** A replica with at least this many times its even share of an edge's calls is a hot spot. */
export const HOT_REPLICA_FACTOR = 1.5;
/** Most replicas listed per edge (the busiest); the imbalance is computed over all of them. */
export const MAX_LISTED_REPLICAS = 100;

export interface ReplicaLoad {
  pod: string;
  requests: number;
  /** Fraction of the edge's calls whose callee pod is known that went to this pod. */
  share: number;
}

export interface EdgeStats {
  /** Calls that were a retry of an earlier failed call (`attempt` > 1). */
  retries: number;
  retry_rate: number;
  /** Calls that timed out: the server side (`timeout`) or the client gave up (`client_timeout`). */
  timeouts: number;
  timeout_rate: number;
  /** Calls answered HTTP 429 (throttled). */
  throttled: number;
  throttled_rate: number;
  /** Calls that opened their connection and carried its connect time. */
  connects: number;
  /** Connect time percentiles over `connects`; absent when no call carried one. */
  connect_p50_ms?: number;
  connect_p99_ms?: number;
  /**
   * Where the time went, over the calls both sidecars recorded: the server side's own latency
   * (its app, as its sidecar saw it) and what the client saw beyond it (network and the two
   * sidecars); absent when no call of the edge was recorded on both sides.
   */
  server_p50_ms?: number;
  server_p99_ms?: number;
  network_p50_ms?: number;
  network_p99_ms?: number;
  /** The mesh mTLS handshake of the calls that opened their connection; absent when none did. */
  tls_handshake_p50_ms?: number;
  /** Calls whose connection ended with a TCP reset, by the side that sent it. */
  resets_by_client: number;
  resets_by_server: number;
  /** Distinct connections the edge's calls travelled on. */
  connections: number;
  /** Mean exchanges per connection: 1 means a new connection per call. */
  exchanges_per_connection: number;
  /** Calls whose caller and callee sit on different nodes (both known). */
  cross_node_calls: number;
  cross_node: boolean;
  /** Calls per callee pod, busiest first (at most MAX_LISTED_REPLICAS). */
  replicas: ReplicaLoad[];
  /**
   * The busiest replica's share over the even share (1 / replicas): 1 is perfectly even, N means
   * one of N replicas took every call. 1 with a single known replica, 0 when none is known.
   */
  replica_imbalance: number;
  /** Replicas taking at least HOT_REPLICA_FACTOR times their even share. */
  hot_replicas: string[];
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

function nearestRank(sorted: readonly number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface EdgeStatsAccumulator {
  /**
   * One call of the edge; `callee` is the callee as best known (the inbound twin's view when
   * there is one), `serverUs` the inbound twin's own latency when both sides recorded it.
   */
  add(call: CallSummary, callee: CallSummary['dst'], serverUs?: number): void;
  result(): EdgeStats;
}

export function createEdgeStats(): EdgeStatsAccumulator {
  let calls = 0;
  let retries = 0;
  let timeouts = 0;
  let throttled = 0;
  let resetsByClient = 0;
  let resetsByServer = 0;
  let crossNode = 0;
  const connectMs: number[] = [];
  const serverMs: number[] = [];
  const networkMs: number[] = [];
  const handshakeMs: number[] = [];
  /** connection id → its calls in the window, and the most exchanges its sidecar reported on it. */
  const perConnection = new Map<string, { seen: number; reported: number }>();
  const perPod = new Map<string, number>();
  return {
    add(c, callee, serverUs) {
      calls++;
      if (serverUs !== undefined && Number.isFinite(serverUs) && serverUs >= 0) {
        serverMs.push(serverUs / 1000);
        // Clocks of two sidecars never enter: each latency is one sidecar's own difference.
        networkMs.push(Math.max(0, c.elapsed_us - serverUs) / 1000);
      }
      if (c.attempt !== undefined && c.attempt > 1) retries++;
      if (c.error === 'timeout' || c.error === 'client_timeout') timeouts++;
      if (c.status_code === 429) throttled++;
      const conn = c.connection;
      if (conn?.connect_us !== undefined && Number.isFinite(conn.connect_us) && conn.connect_us >= 0) connectMs.push(conn.connect_us / 1000);
      if (conn?.tls_handshake_us !== undefined && Number.isFinite(conn.tls_handshake_us) && conn.tls_handshake_us >= 0) handshakeMs.push(conn.tls_handshake_us / 1000);
      if (conn?.reset_by === 'client') resetsByClient++;
      else if (conn?.reset_by === 'server') resetsByServer++;
      if (c.src.node !== undefined && callee.node !== undefined && c.src.node !== callee.node) crossNode++;
      if (c.connection_id !== '') {
        const reported = conn?.exchanges !== undefined && Number.isFinite(conn.exchanges) ? conn.exchanges : 0;
        const held = perConnection.get(c.connection_id);
        // Counted apart: adding one to a running max that already held the reported count
        // counted each call of the window on top of it (twice the reuse, newest records first).
        if (held === undefined) perConnection.set(c.connection_id, { seen: 1, reported });
        else {
          held.seen++;
          held.reported = Math.max(held.reported, reported);
        }
      }
      if (callee.pod !== undefined) perPod.set(callee.pod, (perPod.get(callee.pod) ?? 0) + 1);
    },
    result() {
      const rate = (n: number): number => (calls === 0 ? 0 : round3(n / calls));
      for (const list of [connectMs, serverMs, networkMs, handshakeMs]) list.sort((a, b) => a - b);
      const p = (list: number[], q: number): number => round3(nearestRank(list, q));
      const connections = perConnection.size;
      // A connection's records may be partly outside the window: its own count wins when larger.
      const exchanges = [...perConnection.values()].reduce((a, b) => a + Math.max(b.seen, b.reported), 0);
      const known = [...perPod.values()].reduce((a, b) => a + b, 0);
      const loads = [...perPod.entries()]
        .map(([pod, requests]) => ({ pod, requests, share: round3(requests / known) }))
        .sort((a, b) => b.requests - a.requests || (a.pod < b.pod ? -1 : 1));
      const even = loads.length === 0 ? 0 : 1 / loads.length;
      const imbalance = loads.length === 0 ? 0 : round3(loads[0].requests / known / even);
      const hot = loads.length < 2 ? [] : loads.filter((l) => l.requests / known >= HOT_REPLICA_FACTOR * even).map((l) => l.pod);
      return {
        retries,
        retry_rate: rate(retries),
        timeouts,
        timeout_rate: rate(timeouts),
        throttled,
        throttled_rate: rate(throttled),
        connects: connectMs.length,
        ...(connectMs.length > 0 ? { connect_p50_ms: p(connectMs, 50), connect_p99_ms: p(connectMs, 99) } : {}),
        ...(serverMs.length > 0
          ? { server_p50_ms: p(serverMs, 50), server_p99_ms: p(serverMs, 99), network_p50_ms: p(networkMs, 50), network_p99_ms: p(networkMs, 99) }
          : {}),
        ...(handshakeMs.length > 0 ? { tls_handshake_p50_ms: p(handshakeMs, 50) } : {}),
        resets_by_client: resetsByClient,
        resets_by_server: resetsByServer,
        connections,
        exchanges_per_connection: connections === 0 ? 0 : round3(exchanges / connections),
        cross_node_calls: crossNode,
        cross_node: crossNode > 0,
        replicas: loads.slice(0, MAX_LISTED_REPLICAS),
        replica_imbalance: imbalance,
        hot_replicas: hot,
      };
    },
  };
}
