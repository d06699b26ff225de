/**
 * The service map: workloads as nodes, caller → callee edges with request rates, errors and
 * latency percentiles, computed from the records of a time window.
 *
 * Each call is counted once. Both sidecars of a meshed call record it (an outbound and an
 * inbound record sharing `connection_id` and `ordinal`); the outbound one is used, since it
 * measures what the caller experienced. An inbound record with no outbound twin (an unmeshed
 * client, or an outbound record lost) still counts; its caller is named by what is known of it:
 * workload, pod, service, else its IP. An outbound record addressed to a service VIP takes its
 * callee's workload from the inbound twin when there is one, and its pod and node (which replica
 * answered, on which node) likewise. Beyond counts and latency each edge carries the numbers of
 * `servicemap-edge-stats.ts`: retries, timeouts, 429s, connect times, resets, reuse, cross-node
 * calls and the callee's per-replica load.
 */
import type { CallSummary } from './record-store.ts';
import { createEdgeStats, type EdgeStats, type EdgeStatsAccumulator } from './servicemap-edge-stats.ts';

export { HOT_REPLICA_FACTOR, type EdgeStats, type ReplicaLoad } from './servicemap-edge-stats.ts';

export interface ServiceMapNode {
  id: string;
  namespace: string;
  /** The workload's name; a pod, service or IP when that is all that is known. */
  workload: string;
  /** `Deployment`, `StatefulSet`, ... from the inventory; `Pod`, `Service`, `Node` or `External` when the workload is unknown. */
  kind: string;
}

export interface ServiceMapEdge extends EdgeStats {
  source: string;
  target: string;
  protocols: string[];
  /** Calls: request/response exchanges (not WebSocket messages, which are `messages`). */
  requests: number;
  rate_per_s: number;
  /**
   * WebSocket messages over the edge's upgraded connections, either way; absent when none. They
   * are not calls: no answer, no latency, so neither in `requests` nor in the percentiles.
   */
  messages?: number;
  errors: number;
  error_rate: number;
  p50_ms: number;
  p99_ms: number;
}

export interface ServiceMap {
  /** Window, ns since the epoch (decimal strings in JSON). */
  since: bigint;
  until: bigint;
  nodes: ServiceMapNode[];
  edges: ServiceMapEdge[];
  /** True when the window held more records than were read (the newest were used). */
  truncated: boolean;
  /** Set when the rates are over a shorter span than the window: its start (see `buildServiceMap`). */
  rates_since?: bigint;
}

export function nodeFor(e: CallSummary['src']): ServiceMapNode {
  const namespace = e.namespace ?? '';
  // `ns/…`, or without a namespace the rest alone (never an id that starts with a slash).
  const id = (rest: string): string => (namespace ? `${namespace}/${rest}` : rest);
  if (e.workload) return { id: id(e.workload), namespace, workload: e.workload, kind: e.workload_kind ?? 'Workload' };
  if (e.pod) return { id: id(`pod/${e.pod}`), namespace, workload: e.pod, kind: 'Pod' };
  if (e.service) return { id: id(`service/${e.service}`), namespace, workload: e.service, kind: 'Service' };
  // A node's own address (kubelet probes, hostNetwork pods): the node.
  if (e.node) return { id: `node/${e.node}`, namespace: '', workload: e.node, kind: 'Node' };
  return { id: id(`ip/${e.ip}`), namespace, workload: e.ip, kind: 'External' };
}

/**
 * An error: a failed exchange, an HTTP 5xx, or a gRPC status of the server's failure. Not one: an opaque TCP
 * connection its client reset itself — how a TCP health check (a kubelet's tcpSocket probe) or
 * a port scan ends when the server has written first (a gRPC server's SETTINGS): every probe of
 * a gRPC pod painted its edge from the node 100 % red. The record keeps `error: reset`. Nor is
 * capture's own trouble (`parse`, `capture_overflow`) when the answer was seen: its status decides.
 */
export function isErrorCall(c: Pick<CallSummary, 'error' | 'status_code' | 'grpc_status' | 'protocol' | 'connection'>): boolean {
  if (c.protocol === 'tcp' && c.error === 'reset' && c.connection?.reset_by === 'client') return false;
  const failedStatus = (c.status_code !== undefined && c.status_code >= 500) || (c.grpc_status !== undefined && GRPC_SERVER_FAILURES.has(c.grpc_status));
  // Capture's own trouble (a head over the parser's limit, a cut capture) says nothing of the
  // call when its answer was seen: a 200 after 70 KB of headers succeeded.
  if ((c.error === 'parse' || c.error === 'capture_overflow') && (c.status_code !== undefined || c.grpc_status !== undefined)) return failedStatus;
  return c.error !== undefined || failedStatus;
}

/**
 * gRPC statuses that are the server's failure, counted as errors like HTTP 5xx: the ones gRPC's
 * own HTTP mapping answers with a 5xx — UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
 * UNAVAILABLE, DATA_LOSS. The others are answers about the request, like a 4xx: NOT_FOUND,
 * INVALID_ARGUMENT, ALREADY_EXISTS, PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION,
 * ABORTED, OUT_OF_RANGE, RESOURCE_EXHAUSTED (429: the edge counts those apart), CANCELLED
 * (the caller gave up). A service whose lookups miss is not failing.
 */
export const GRPC_SERVER_FAILURES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** One call as the map counts it: the record chosen for it, both ends as nodes, and what is known of its other side. */
export interface ResolvedCall {
  call: CallSummary;
  src: ServiceMapNode;
  dst: ServiceMapNode;
  /** The callee as best known: the record's `dst`, with the pod and node of the inbound twin when there is one. */
  callee: CallSummary['dst'];
  /** Both sidecars recorded the call (an outbound record with its inbound twin in the window). */
  twinned: boolean;
  /** The server side's own latency (its inbound twin's `elapsed_us`), when both sides recorded the call. */
  serverUs?: number;
}

/** Each call once (the outbound record when both sides recorded it), with its ends named. */
export function resolveCalls(calls: readonly CallSummary[]): ResolvedCall[] {
  const key = (c: CallSummary): string | undefined => (c.connection_id === '' ? undefined : `${c.connection_id}\u0000${c.ordinal}`);
  const outboundKeys = new Set<string>();
  // The inbound twin of each outbound record, by the id key they share.
  const inboundById = new Map<string, CallSummary>();
  for (const c of calls) {
    const k = key(c);
    if (k === undefined) continue;
    if (c.observer === 'outbound') outboundKeys.add(k);
    else inboundById.set(k, c);
  }
  const out: ResolvedCall[] = [];
  for (const c of calls) {
    const k = key(c);
    if (c.observer === 'inbound' && k !== undefined && outboundKeys.has(k)) continue;
    // Only an outbound record has a twin here: inbound records with one were skipped above.
    const answered = c.observer === 'outbound' && k !== undefined ? inboundById.get(k) : undefined;
    // The callee as its own sidecar saw it: an outbound record addressed to a service VIP knows
    // the service, its inbound twin knows which workload answered and which replica (pod, node).
    const twin = answered !== undefined && !c.dst.workload && answered.dst.workload ? answered.dst : undefined;
    const callee = { ...c.dst, ...(answered?.dst.pod !== undefined ? { pod: answered.dst.pod } : {}), ...(answered?.dst.node !== undefined ? { node: answered.dst.node } : {}) };
    out.push({
      call: c,
      src: nodeFor(c.src),
      dst: nodeFor(twin ?? c.dst),
      callee,
      twinned: answered !== undefined,
      ...(answered !== undefined ? { serverUs: answered.elapsed_us } : {}),
    });
  }
  return out;
}

/**
 * `ratesSince`: where the data behind the rates starts when that is later than `since` (a
 * collector up for less than the window, or the newest records of a truncated window): rates
 * are requests over `[ratesSince, until]`, not over an empty stretch of the window.
 */
export function buildServiceMap(calls: readonly CallSummary[], window: { since: bigint; until: bigint; truncated?: boolean; ratesSince?: bigint }): ServiceMap {
  const nodes = new Map<string, ServiceMapNode>();
  const edges = new Map<string, { source: string; target: string; protocols: Set<string>; latencies: number[]; errors: number; messages: number; stats: EdgeStatsAccumulator }>();
  for (const { call: c, src, dst, callee, serverUs } of resolveCalls(calls)) {
    if (!nodes.has(src.id)) nodes.set(src.id, src);
    if (!nodes.has(dst.id)) nodes.set(dst.id, dst);
    const edgeKey = `${src.id}\u0000${dst.id}`;
    let edge = edges.get(edgeKey);
    if (edge === undefined) {
      edge = { source: src.id, target: dst.id, protocols: new Set(), latencies: [], errors: 0, messages: 0, stats: createEdgeStats() };
      edges.set(edgeKey, edge);
    }
    edge.protocols.add(c.protocol);
    if (c.protocol === 'ws') {
      edge.messages++;
      continue;
    }
    edge.latencies.push(c.elapsed_us / 1000);
    if (isErrorCall(c)) edge.errors++;
    edge.stats.add(c, callee, serverUs);
  }
  const ratesSince = window.ratesSince !== undefined && window.ratesSince > window.since && window.ratesSince < window.until ? window.ratesSince : window.since;
  const seconds = Math.max(Number(window.until - ratesSince) / 1e9, 1e-9);
  const out: ServiceMapEdge[] = [...edges.values()].map((e) => {
    const sorted = e.latencies.sort((a, b) => a - b);
    return {
      source: e.source,
      target: e.target,
      protocols: [...e.protocols].sort(),
      requests: sorted.length,
      rate_per_s: round3(sorted.length / seconds),
      ...(e.messages > 0 ? { messages: e.messages } : {}),
      errors: e.errors,
      error_rate: sorted.length === 0 ? 0 : round3(e.errors / sorted.length),
      p50_ms: round3(percentile(sorted, 50)),
      p99_ms: round3(percentile(sorted, 99)),
      ...e.stats.result(),
    };
  });
  out.sort((a, b) => (a.source + '\u0000' + a.target < b.source + '\u0000' + b.target ? -1 : 1));
  return {
    since: window.since,
    until: window.until,
    ...(ratesSince !== window.since ? { rates_since: ratesSince } : {}),
    nodes: [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    edges: out,
    truncated: window.truncated === true,
  };
}
