/**
 * What the MCP tools answer with, computed from record JSON: a short form of one call, error
 * and latency summaries per edge, and the per-edge differences between two windows. Pure: the
 * tools fetch, these shape.
 */
import type { CallRecordJson } from '../../record/record-json.ts';
import type { JoinedCall } from '../calls/join.ts';
import { grpcStatusName } from '../../record/grpc-status.ts';
import { isErrorCall, nodeFor } from '../servicemap.ts';
import { endpointName } from '../tap/format.ts';

/** Longest path shown in a call's short form; anything longer says how much was cut. */
export const MAX_PATH_CHARS = 2048;

export function clipText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[+${text.length - max} chars]`;
}

/** ns since the epoch (decimal string) → ISO 8601 UTC with milliseconds. */
export function isoTime(ns: string | bigint): string {
  const text = String(ns);
  if (!/^\d{1,20}$/.test(text)) return text;
  const date = new Date(Number(BigInt(text) / 1_000_000n));
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

/** ns → an RFC 3339 literal to the nanosecond (for CEL's `timestamp()`). */
export function rfc3339Ns(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const seconds = new Date(Number(ms)).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${seconds}.${fraction}Z`;
}

const latencyMs = (us: number): number => Math.round(us / 10) / 100;
const rate = (n: number): number => Math.round(n * 10_000) / 10_000;

/** HTTP status (a number); gRPC `NAME(code)`; `error` when the exchange failed without a status; null when there is none (opaque TCP). */
export function callStatus(r: Pick<CallRecordJson, 'protocol' | 'status_code' | 'grpc_status' | 'error' | 'dns_rcode'>): number | string | null {
  if (r.protocol === 'grpc' && r.grpc_status !== undefined) return `${grpcStatusName(r.grpc_status)}(${r.grpc_status})`;
  if (r.dns_rcode !== undefined) return r.error !== undefined ? `${r.dns_rcode} (error=${r.error})` : r.dns_rcode;
  if (r.status_code !== undefined) return r.status_code;
  if (r.error !== undefined) return 'error';
  return null;
}

/** The status an error is grouped by in summaries: `503`, `UNAVAILABLE`, `error=timeout`. */
export function errorKey(r: Pick<CallRecordJson, 'protocol' | 'status_code' | 'grpc_status' | 'error'>): string {
  if (r.error !== undefined) return `error=${r.error}`;
  if (r.grpc_status !== undefined && r.grpc_status !== 0) return grpcStatusName(r.grpc_status);
  return String(r.status_code ?? '?');
}

export interface CallBrief {
  id: string;
  time: string;
  protocol: string;
  observer: string;
  method?: string;
  path?: string;
  status: number | string | null;
  error?: string;
  latency_ms: number;
  src: string;
  dst: string;
  trace_id?: string;
}

/** The same object without its undefined properties (absent, as in the record JSON). */
export function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** One call in a few fields: what search results and traces list. */
export function briefCall(r: CallRecordJson): CallBrief {
  return withoutUndefined<CallBrief>({
    id: r.id,
    time: isoTime(r.start),
    protocol: r.protocol,
    observer: r.observer,
    method: r.method,
    path: r.path === undefined ? undefined : clipText(r.path, MAX_PATH_CHARS),
    status: callStatus(r),
    error: r.error === undefined ? undefined : r.error_detail !== undefined ? `${r.error}: ${clipText(r.error_detail, 200)}` : r.error,
    latency_ms: latencyMs(r.elapsed_us),
    src: endpointName(r.src),
    dst: endpointName(r.dst),
    trace_id: r.trace_id,
  });
}

export interface JoinedCallBrief {
  /** A record id of the call (the caller's observation when there is one): what get_call takes. */
  id: string;
  time: string;
  protocol: string;
  /** `both` sidecars, or only the `client`'s or the `server`'s (an unmeshed peer, or the other record not stored). */
  seen_by: 'both' | 'client' | 'server';
  method?: string;
  path?: string;
  status: number | string | null;
  error?: string;
  /** The caller's view when known, else the callee's. */
  latency_ms: number;
  /** The callee's own view, when both sides observed the call. */
  server_ms?: number;
  src: string;
  src_pod?: string;
  dst: string;
  dst_pod?: string;
  /** 1 for a first attempt, 2, 3, … for retries (HTTP, HTTP/2, gRPC). */
  attempt?: number;
  first_attempt_id?: string;
  retry_after_honoured?: boolean;
  trace_id?: string;
}

/** One joined call (both observations) in a few fields: what search_calls lists. */
export function briefJoinedCall(c: JoinedCall): JoinedCallBrief {
  const main = (c.client ?? c.server)!;
  const detail = c.client?.error_detail ?? c.server?.error_detail;
  const timing = c.timing ?? c.latency;
  return withoutUndefined<JoinedCallBrief>({
    id: main.id,
    time: isoTime(c.start),
    protocol: c.protocol,
    seen_by: c.one_sided ?? 'both',
    method: c.method,
    path: c.path === undefined ? undefined : clipText(c.path, MAX_PATH_CHARS),
    status: callStatus(c),
    error: c.error === undefined ? undefined : detail !== undefined ? `${c.error}: ${clipText(detail, 200)}` : c.error,
    latency_ms: latencyMs(timing.client_us ?? timing.server_us ?? main.elapsed_us),
    server_ms: c.client !== undefined && timing.server_us !== undefined ? latencyMs(timing.server_us) : undefined,
    src: endpointName(c.src),
    src_pod: c.src.pod !== undefined && c.src.pod !== c.src.workload ? c.src.pod : undefined,
    dst: endpointName(c.dst),
    dst_pod: c.dst.pod !== undefined && c.dst.pod !== c.dst.workload ? c.dst.pod : undefined,
    attempt: main.attempt,
    first_attempt_id: main.first_attempt_id,
    retry_after_honoured: main.retry_after_honoured,
    trace_id: c.trace_id,
  });
}

/**
 * An edge as `service_map` and `coverage` name it: each end by its service-map node
 * (`namespace/workload`, `namespace/pod/NAME`, `namespace/service/NAME`, `node/NAME` or
 * `ip/ADDR`, no port), so an agent can match one tool's edges with another's.
 */
export function edgeName(r: Pick<CallRecordJson, 'src' | 'dst'>): string {
  return `${nodeFor(r.src).id} → ${nodeFor(r.dst).id}`;
}

/**
 * Both sidecars of a meshed call record it (same `connection_id` and `ordinal`): keep one
 * record per call, the caller's (outbound) when there are both, as the service map does.
 */
export function onePerCall(records: readonly CallRecordJson[]): CallRecordJson[] {
  const chosen = new Map<string, CallRecordJson>();
  for (const r of records) {
    const key = `${r.connection_id}\u0000${r.ordinal}`;
    const seen = chosen.get(key);
    if (seen === undefined || (seen.observer === 'inbound' && r.observer === 'outbound')) chosen.set(key, r);
  }
  return [...chosen.values()];
}

export interface EdgeStats {
  edge: string;
  calls: number;
  errors: number;
  error_rate: number;
  /** 4xx answers: not errors of the callee, but rejected requests (429s among them). */
  http_4xx: number;
  p50_ms: number;
  p99_ms: number;
  /** The most frequent error statuses, `[status, count]`, most frequent first. */
  top_errors: [string, number][];
}

/** What one record stands for: a number of calls (1 when every record was read; 0 leaves it out). */
export type RecordWeight = (record: CallRecordJson) => number;

const eachOnce: RecordWeight = () => 1;

interface Acc {
  edge: string;
  /** Σ weights: the calls. */
  calls: number;
  latencies: number[];
  weights: number[];
  errors: number;
  http4xx: number;
  errorKinds: Map<string, number>;
}

function accumulate(records: readonly CallRecordJson[], weightOf: RecordWeight = eachOnce): Map<string, Acc> {
  const edges = new Map<string, Acc>();
  for (const r of onePerCall(records)) {
    const w = weightOf(r);
    if (!(w > 0)) continue;
    const edge = edgeName(r);
    let acc = edges.get(edge);
    if (acc === undefined) {
      acc = { edge, calls: 0, latencies: [], weights: [], errors: 0, http4xx: 0, errorKinds: new Map() };
      edges.set(edge, acc);
    }
    acc.calls += w;
    acc.latencies.push(r.elapsed_us);
    acc.weights.push(w);
    if (isErrorCall(r)) {
      acc.errors += w;
      const key = errorKey(r);
      acc.errorKinds.set(key, (acc.errorKinds.get(key) ?? 0) + w);
    } else if (r.status_code !== undefined && r.status_code >= 400 && r.status_code < 500) {
      acc.http4xx += w;
    }
  }
  return edges;
}

/** Nearest-rank percentile of weighted values: the smallest value whose cumulative weight reaches p % of the total (with weights of 1, `percentile`). */
export function weightedPercentile(values: readonly number[], weights: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const target = (p / 100) * total;
  let cumulative = 0;
  for (const i of order) {
    cumulative += weights[i];
    if (cumulative >= target) return values[i];
  }
  return values[order[order.length - 1]];
}

/** The stats of one edge; `calls` unrounded when records were weighted. */
function statsOf(acc: Acc, topErrors: number): EdgeStats {
  const top = [...acc.errorKinds.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, topErrors)
    .map(([key, n]): [string, number] => [key, Math.round(n)]);
  return {
    edge: acc.edge,
    calls: acc.calls,
    errors: Math.round(acc.errors),
    error_rate: rate(acc.errors / acc.calls),
    http_4xx: Math.round(acc.http4xx),
    p50_ms: latencyMs(weightedPercentile(acc.latencies, acc.weights, 50)),
    p99_ms: latencyMs(weightedPercentile(acc.latencies, acc.weights, 99)),
    top_errors: top,
  };
}

/** Per edge, most errors first, then most calls. */
export function edgeSummaries(records: readonly CallRecordJson[], topErrors = 3): EdgeStats[] {
  return [...accumulate(records).values()].map((acc) => statsOf(acc, topErrors)).sort((a, b) => b.errors - a.errors || b.calls - a.calls || a.edge.localeCompare(b.edge));
}

export interface WindowSide {
  calls: number;
  error_rate: number | null;
  p99_ms: number | null;
}

export interface EdgeChange {
  edge: string;
  /**
   * `new`: no calls in window A; `gone`: none in window B. When that window was sampled (not every
   * call read), its absence is not known: `unseen_in_a` / `unseen_in_b`, none among the calls read.
   */
  change?: 'new' | 'gone' | 'unseen_in_a' | 'unseen_in_b';
  calls: [number, number];
  error_rate: [number | null, number | null];
  p99_ms: [number | null, number | null];
  delta: {
    /** Change of the call rate (calls per second, so windows of different lengths compare), in percent; absent for new or gone edges. */
    rate_pct?: number;
    /** B − A, in rate units (0.25 = 25 percentage points). */
    error_rate?: number;
    p99_ms?: number;
  };
  top_errors_b: [string, number][];
  /** How big the change is; rows are sorted by it. */
  score: number;
}

/**
 * How much an edge changed, one number: the largest of the error-rate change (10 × its
 * percentage points / 100, so +10 points = 1), the p99 ratio (log2: doubling = 1) and half the
 * call-rate ratio (log2, with one call of slack so a few calls on a quiet edge do not dominate).
 */
export function changeScore(a: WindowSide, b: WindowSide, lengthRatio: number): number {
  const errA = a.error_rate ?? 0;
  const errB = b.error_rate ?? 0;
  const errorTerm = Math.abs(errB - errA) * 10;
  const p99Term = a.p99_ms !== null && b.p99_ms !== null ? Math.abs(Math.log2((b.p99_ms + 1) / (a.p99_ms + 1))) : 0;
  const trafficTerm = 0.5 * Math.abs(Math.log2((b.calls * lengthRatio + 1) / (a.calls + 1)));
  return Math.round(Math.max(errorTerm, p99Term, trafficTerm) * 1000) / 1000;
}

/**
 * Per edge seen in either window: calls, error rate and p99 in each, and the deltas, biggest
 * change first. `lengthA`/`lengthB` are the windows' lengths (any unit, same for both);
 * `weights` say what each record of a window stands for when not every record was read
 * (`window-sample.ts`): calls are then scaled counts, error rates and p99 weighted alike.
 * `sampled` says which windows were not read whole: an edge missing from one of those is
 * `unseen_in_…`, not `new` or `gone` (it may have calls in the part not read).
 */
export function compareWindows(
  a: readonly CallRecordJson[],
  b: readonly CallRecordJson[],
  lengthA: number,
  lengthB: number,
  weights: { a?: RecordWeight; b?: RecordWeight } = {},
  sampled: { a?: boolean; b?: boolean } = {},
): EdgeChange[] {
  const accA = accumulate(a, weights.a);
  const accB = accumulate(b, weights.b);
  const lengthRatio = lengthB > 0 ? lengthA / lengthB : 1;
  const side = (acc: Acc | undefined): WindowSide => {
    if (acc === undefined) return { calls: 0, error_rate: null, p99_ms: null };
    const s = statsOf(acc, 0);
    return { calls: s.calls, error_rate: s.error_rate, p99_ms: s.p99_ms };
  };
  const names = new Set([...accA.keys(), ...accB.keys()]);
  const rows: EdgeChange[] = [];
  for (const edge of names) {
    const sa = side(accA.get(edge));
    const sb = side(accB.get(edge));
    const delta: EdgeChange['delta'] = {};
    if (sa.calls > 0 && sb.calls > 0) {
      delta.rate_pct = Math.round(((sb.calls * lengthRatio) / sa.calls - 1) * 1000) / 10;
      delta.error_rate = rate(sb.error_rate! - sa.error_rate!);
      delta.p99_ms = Math.round((sb.p99_ms! - sa.p99_ms!) * 100) / 100;
    }
    const accB1 = accB.get(edge);
    rows.push({
      edge,
      ...(sa.calls === 0 ? { change: sampled.a ? ('unseen_in_a' as const) : ('new' as const) } : sb.calls === 0 ? { change: sampled.b ? ('unseen_in_b' as const) : ('gone' as const) } : {}),
      // Scaled counts are estimates: shown whole, compared unrounded.
      calls: [Math.round(sa.calls), Math.round(sb.calls)],
      error_rate: [sa.error_rate, sb.error_rate],
      p99_ms: [sa.p99_ms, sb.p99_ms],
      delta,
      top_errors_b: accB1 === undefined ? [] : statsOf(accB1, 3).top_errors,
      score: changeScore(sa, sb, lengthRatio),
    });
  }
  return rows.sort((x, y) => y.score - x.score || y.calls[1] - x.calls[1] || x.edge.localeCompare(y.edge));
}

const AGO_NS: Record<string, bigint> = { ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n };

/**
 * An instant for a window bound: an RFC 3339 timestamp with its zone (`2025-11-24T16:00:00Z`,
 * `…17:00:00.5+01:00`), `now`, or a duration ago (`90m` = 90 minutes before `now`). ns since
 * the epoch, or a message saying what is expected.
 */
export function parseInstant(text: string, now: bigint): { ok: true; ns: bigint } | { ok: false; message: string } {
  const t = text.trim();
  if (t.toLowerCase() === 'now') return { ok: true, ns: now };
  const ago = /^(\d{1,9})(ms|s|m|h|d)$/.exec(t);
  if (ago) return { ok: true, ns: now - BigInt(ago[1]) * AGO_NS[ago[2]] };
  const rfc = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/.exec(t);
  const ms = rfc ? Date.parse(`${rfc[1]}T${rfc[2]}${rfc[4].toUpperCase()}`) : NaN;
  if (!rfc || Number.isNaN(ms)) {
    return { ok: false, message: `expected an ISO 8601 / RFC 3339 time with its zone (2025-11-24T16:00:00Z), "now" or a duration ago (30m, 2h), got ${JSON.stringify(text)}` };
  }
  return { ok: true, ns: BigInt(ms) * 1_000_000n + BigInt((rfc[3] ?? '').padEnd(9, '0')) };
}
