/**
 * The worst offenders of a window: clients (workloads) and edges (client → callee) ranked by how
 * often they retry, time out and get rate-limited. Pure: records in, ranked rows out.
 *
 * Each call is counted once, from the caller's record when there is one: retries, timeouts
 * and a 429 are the caller's experience (`client_timeout` is only ever seen on its side), and the
 * server's record of the same call would count it twice. Only HTTP, HTTP/2 and gRPC calls are
 * counted: the retry rules cover nothing else.
 */
import type { CallRecord, Endpoint } from '../record/record.ts';

export interface OffenderRow {
  /** `namespace/workload` (else pod, service, address) for a client; `client → callee` for an edge. */
  name: string;
  calls: number;
  /** Calls with `attempt > 1`. */
  retries: number;
  retry_rate: number;
  /** Calls that ended in `timeout` or `client_timeout`. */
  timeouts: number;
  timeout_rate: number;
  /** Answers with status 429 (Too Many Requests). */
  rate_limited: number;
  rate_limited_rate: number;
  /** Retries that did not wait as long as a `Retry-After` asked. */
  retry_after_ignored: number;
  /** The worst of the three rates: what rows are ranked by. */
  score: number;
}

export interface Offenders {
  calls: number;
  clients: OffenderRow[];
  edges: OffenderRow[];
}

export const RANKED_KINDS = ['retry', 'timeout', 'rate_limited'] as const;
export type RankedKind = (typeof RANKED_KINDS)[number];

const COUNTED = new Set(['http', 'http2', 'grpc']);

function endName(e: Endpoint, withPort: boolean): string {
  const ns = e.namespace ? `${e.namespace}/` : '';
  if (e.workload) return `${ns}${e.workload}`;
  if (e.pod) return `${ns}${e.pod}`;
  if (e.service) return `${ns}${e.service}`;
  // A caller without identity by its address only: its port is ephemeral.
  return withPort ? `${e.ip}:${e.port}` : e.ip;
}

/** One record per call: the outbound one when both sides observed it. */
function onePerCall(records: Iterable<CallRecord>): CallRecord[] {
  const chosen = new Map<string, CallRecord>();
  for (const r of records) {
    if (!COUNTED.has(r.protocol)) continue;
    const key = `${r.connection_id}\u0000${r.ordinal}`;
    const seen = chosen.get(key);
    if (seen === undefined || (seen.observer === 'inbound' && r.observer === 'outbound')) chosen.set(key, r);
  }
  return [...chosen.values()];
}

interface Acc {
  calls: number;
  retries: number;
  timeouts: number;
  rateLimited: number;
  ignored: number;
}

const round = (n: number): number => Math.round(n * 10_000) / 10_000;

function row(name: string, a: Acc): OffenderRow {
  const retryRate = round(a.retries / a.calls);
  const timeoutRate = round(a.timeouts / a.calls);
  const limitedRate = round(a.rateLimited / a.calls);
  return {
    name,
    calls: a.calls,
    retries: a.retries,
    retry_rate: retryRate,
    timeouts: a.timeouts,
    timeout_rate: timeoutRate,
    rate_limited: a.rateLimited,
    rate_limited_rate: limitedRate,
    retry_after_ignored: a.ignored,
    score: Math.max(retryRate, timeoutRate, limitedRate),
  };
}

const rateOf = (r: OffenderRow, by: RankedKind | 'score'): number =>
  by === 'retry' ? r.retry_rate : by === 'timeout' ? r.timeout_rate : by === 'rate_limited' ? r.rate_limited_rate : r.score;

/** Worst first by `by` (default: the worst of the three rates), then busiest, then by name; rows with nothing to report left out. */
export function rankOffenders(rows: OffenderRow[], by: RankedKind | 'score' = 'score'): OffenderRow[] {
  return rows.filter((r) => rateOf(r, by) > 0).sort((a, b) => rateOf(b, by) - rateOf(a, by) || b.calls - a.calls || a.name.localeCompare(b.name));
}

export function buildOffenders(records: Iterable<CallRecord>, options: { limit: number; by?: RankedKind | 'score' }): Offenders {
  const clients = new Map<string, Acc>();
  const edges = new Map<string, Acc>();
  const calls = onePerCall(records);
  const add = (map: Map<string, Acc>, name: string, r: CallRecord): void => {
    let a = map.get(name);
    if (a === undefined) {
      a = { calls: 0, retries: 0, timeouts: 0, rateLimited: 0, ignored: 0 };
      map.set(name, a);
    }
    a.calls++;
    if ((r.attempt ?? 1) > 1) a.retries++;
    if (r.error === 'timeout' || r.error === 'client_timeout') a.timeouts++;
    if (r.status_code === 429) a.rateLimited++;
    if (r.retry_after_honoured === false) a.ignored++;
  };
  for (const r of calls) {
    const client = endName(r.src, false);
    add(clients, client, r);
    add(edges, `${client} → ${endName(r.dst, true)}`, r);
  }
  const ranked = (map: Map<string, Acc>) => rankOffenders([...map].map(([name, a]) => row(name, a)), options.by).slice(0, options.limit);
  return { calls: calls.length, clients: ranked(clients), edges: ranked(edges) };
}
