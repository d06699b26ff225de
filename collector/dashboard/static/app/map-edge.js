// What the map says about one edge: its short label, the filter selecting its calls, and the
// rows of its detail panel. Pure, so it is tested in Node.
import { celString, formatMs, formatPercent, formatRate } from './format.js';

/**
 * @typedef {{ id: string, namespace?: string, workload?: string, kind?: string }} MapNode
 * @typedef {{ pod: string, requests: number, share: number }} ReplicaLoad
 * @typedef {{ source: string, target: string, protocols?: string[], requests?: number, rate_per_s?: number, messages?: number,
 *   errors?: number, error_rate?: number, p50_ms?: number, p99_ms?: number,
 *   retries?: number, retry_rate?: number, timeouts?: number, timeout_rate?: number, throttled?: number, throttled_rate?: number,
 *   connects?: number, connect_p50_ms?: number, connect_p99_ms?: number, resets_by_client?: number, resets_by_server?: number,
 *   connections?: number, exchanges_per_connection?: number, cross_node_calls?: number, cross_node?: boolean,
 *   server_p50_ms?: number, server_p99_ms?: number, network_p50_ms?: number, network_p99_ms?: number, tls_handshake_p50_ms?: number,
 *   replicas?: ReplicaLoad[], replica_imbalance?: number, hot_replicas?: string[] }} MapEdge
 */

/**
 * The few characters drawn on the map: rate and error share. Everything else is on hover and in the panel.
 * @param {MapEdge} e
 */
export function edgeLabel(e) {
  return `${formatRate(e.rate_per_s)} · ${formatPercent(e.error_rate)}`;
}

/**
 * The CEL filter for one end of an edge, by what the node is: a workload by namespace and
 * workload, a pod, service, node or address by that field.
 * @param {'src' | 'dst'} side
 * @param {MapNode | undefined} node
 * @param {string} id
 */
function endFilter(side, node, id) {
  const name = node?.workload || id;
  const ns = node?.namespace ? `${side}.namespace == ${celString(node.namespace)} && ` : '';
  switch (node?.kind) {
    case 'Pod':
      return `${ns}${side}.pod == ${celString(name)}`;
    case 'Service':
      return `${ns}${side}.service == ${celString(name)}`;
    case 'Node':
      return `${side}.node == ${celString(name)}`;
    case 'External':
      return `${ns}${side}.ip == ${celString(name)}`;
    default:
      return `${ns}${side}.workload == ${celString(name)}`;
  }
}

/**
 * The filter selecting an edge's calls in the stream; with `sinceMs`, only those that started
 * from then on (the map's window), so the list holds the calls the map counted.
 * @param {{ source: string, target: string }} edge
 * @param {MapNode[]} nodes
 * @param {number} [sinceMs] the window's start, in ms since the epoch
 */
export function edgeCallsFilter(edge, nodes, sinceMs) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ends = `${endFilter('src', byId.get(edge.source), edge.source)} && ${endFilter('dst', byId.get(edge.target), edge.target)}`;
  return sinceMs === undefined ? ends : `${ends} && start >= timestamp("${new Date(sinceMs).toISOString()}")`;
}

/**
 * @param {number | undefined} n
 * @param {number | undefined} rate
 */
const countAndShare = (n, rate) => `${n ?? 0} (${formatPercent(rate ?? 0)})`;

/**
 * The detail panel's rows, [label, value], in reading order.
 * @param {MapEdge} e
 * @returns {Array<[string, string]>}
 */
export function edgeDetailRows(e) {
  /** @type {Array<[string, string]>} */
  const rows = [
    ['Protocols', (e.protocols ?? []).join(', ') || '—'],
    ['Requests', `${e.requests ?? 0} · ${formatRate(e.rate_per_s)}`],
    ...(e.messages ? /** @type {Array<[string, string]>} */ ([['WebSocket messages', `${e.messages} (not calls: neither in the requests nor in the latencies)`]]) : []),
    ['Errors', countAndShare(e.errors, e.error_rate)],
    ['Latency p50 / p99', `${formatMs(e.p50_ms)} / ${formatMs(e.p99_ms)}`],
    [
      'Server p50 / p99',
      e.server_p50_ms !== undefined ? `${formatMs(e.server_p50_ms)} / ${formatMs(e.server_p99_ms)} (network and mesh ${formatMs(e.network_p50_ms)} / ${formatMs(e.network_p99_ms)})` : 'not seen by both sides',
    ],
    ['Retries', countAndShare(e.retries, e.retry_rate)],
    ['Timeouts', countAndShare(e.timeouts, e.timeout_rate)],
    ['HTTP 429', countAndShare(e.throttled, e.throttled_rate)],
    ['Connect p50 / p99', e.connects ? `${formatMs(e.connect_p50_ms)} / ${formatMs(e.connect_p99_ms)} (${e.connects} connects)` : 'no connect seen'],
    ['mTLS handshake p50', e.tls_handshake_p50_ms !== undefined ? formatMs(e.tls_handshake_p50_ms) : '—'],
    ['Resets', `client ${e.resets_by_client ?? 0} · server ${e.resets_by_server ?? 0}`],
    ['Connection reuse', e.connections ? `${e.exchanges_per_connection ?? 0} calls per connection over its life so far (${e.connections} connections in the window)` : '—'],
    ['Cross-node', e.cross_node ? `yes: ${e.cross_node_calls ?? 0} calls crossed nodes` : 'no'],
  ];
  if ((e.replicas ?? []).length > 0) rows.push(['Replica imbalance', `${e.replica_imbalance ?? 0}× the even share over ${(e.replicas ?? []).length} replicas`]);
  return rows;
}

/**
 * The hover card's few lines.
 * @param {MapEdge} e
 * @returns {string[]}
 */
export function edgeHoverLines(e) {
  const lines = [`${e.requests ?? 0} calls · ${formatRate(e.rate_per_s)} · ${formatPercent(e.error_rate)} errors`, `p50 ${formatMs(e.p50_ms)} · p99 ${formatMs(e.p99_ms)}`];
  const extra = [
    e.retries ? `${e.retries} retries` : '',
    e.timeouts ? `${e.timeouts} timeouts` : '',
    e.throttled ? `${e.throttled}× 429` : '',
    e.messages ? `${e.messages} WebSocket messages` : '',
    e.cross_node ? 'cross-node' : '',
    (e.hot_replicas ?? []).length > 0 ? `hot: ${(e.hot_replicas ?? []).join(', ')}` : '',
  ].filter((s) => s !== '');
  if (extra.length > 0) lines.push(extra.join(' · '));
  lines.push('Click for details');
  return lines;
}
