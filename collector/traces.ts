/**
 * One trace's records as a tree: ordered by start (the caller's record first at the same
 * instant), each linked to its parent when one of the trace's records is it.
 *
 * Parent, first match wins: the record whose `span_id` is this record's `parent_span_id`; for
 * an inbound record, the outbound record of the same exchange (same `connection_id` and
 * `ordinal`: the caller's side of the same call); for an outbound record that carries a new
 * trace its app started, the request that caused it (`caused_by_span_id`, whose trace this one
 * was joined into); for an outbound record still without one, by timing: the inbound record at the same pod that was in flight when it started, the
 * latest-starting one (the request the pod was handling when it called out; both dated by that
 * pod's sidecar, so no clock skew enters). In flight at its start, not enclosing it: a stream or
 * long poll the request opened may outlive it. The last is what nests a flow whose apps forward `traceparent`
 * without adding spans of their own: every hop then names the first app's span as its parent,
 * which no record carries, and each hop would be a root of its own. Such a link is marked
 * `linkedBy: 'timing'`: with several requests in flight at the pod it may pick the wrong one.
 *
 * A sidecar links by timing too, before the collector sees the record: an outbound call without
 * trace context gets the trace and parent of the inbound request its pod was serving, and
 * `link_confidence` (1: one request was in flight; 1/n: n overlapped, the latest was taken).
 * Such a parent is found by span id here, so each entry repeats the record's confidence as
 * `linkConfidence`: without it, that guess would read as a causal link.
 */
import type { CallRecord, Endpoint } from '../record/record.ts';
import { compareTraceOrder } from './record-store.ts';

export interface TraceEntry {
  record: CallRecord;
  /** Id of the parent record within this trace. */
  parentId?: string;
  /** 0 for roots. */
  depth: number;
  /** Set when the parent was found by timing alone (no span id or exchange named it). */
  linkedBy?: 'timing';
  /** The sidecar linked this record to its parent by timing: how sure it was (1, or 1/n with n requests in flight). */
  linkConfidence?: number;
}

/** Where a sidecar sits: its pod (namespace and name), else its address. */
const podOf = (e: Endpoint): string => (e.pod !== undefined && e.pod !== '' ? `pod\u0000${e.namespace ?? ''}\u0000${e.pod}` : `ip\u0000${e.ip}`);

export function buildTrace(records: readonly CallRecord[]): TraceEntry[] {
  const ordered = [...records].sort(compareTraceOrder);
  const bySpan = new Map<string, CallRecord>();
  const outboundByExchange = new Map<string, CallRecord>();
  for (const r of ordered) {
    if (r.span_id !== undefined && !bySpan.has(r.span_id)) bySpan.set(r.span_id, r);
    if (r.observer === 'outbound' && r.connection_id !== '') outboundByExchange.set(`${r.connection_id}\u0000${r.ordinal}`, r);
  }
  const parentOf = new Map<string, string>();
  for (const r of ordered) {
    let parent = r.parent_span_id !== undefined ? bySpan.get(r.parent_span_id) : undefined;
    if ((parent === undefined || parent === r) && r.observer === 'inbound' && r.connection_id !== '') {
      parent = outboundByExchange.get(`${r.connection_id}\u0000${r.ordinal}`);
    }
    if ((parent === undefined || parent === r) && r.observer === 'outbound' && r.caused_by_span_id !== undefined) {
      parent = bySpan.get(r.caused_by_span_id);
    }
    if (parent !== undefined && parent !== r) parentOf.set(r.id, parent.id);
  }
  // By timing: an outbound record still without a parent, under the request its pod was serving.
  const inboundAt = new Map<string, CallRecord[]>();
  for (const r of ordered) {
    if (r.observer !== 'inbound') continue;
    const key = podOf(r.dst);
    const list = inboundAt.get(key);
    if (list === undefined) inboundAt.set(key, [r]);
    else list.push(r);
  }
  const byTiming = new Set<string>();
  for (const r of ordered) {
    if (r.observer !== 'outbound' || parentOf.has(r.id)) continue;
    let best: CallRecord | undefined;
    for (const candidate of inboundAt.get(podOf(r.src)) ?? []) {
      if (candidate.start > r.start || candidate.end < r.start) continue;
      if (best === undefined || candidate.start > best.start) best = candidate;
    }
    if (best === undefined) continue;
    parentOf.set(r.id, best.id);
    byTiming.add(r.id);
  }
  const depthOf = (id: string): number => {
    // Bounded walk: a cycle in hostile span ids cannot loop forever.
    let depth = 0;
    let current = parentOf.get(id);
    const seen = new Set<string>([id]);
    while (current !== undefined && !seen.has(current)) {
      seen.add(current);
      depth++;
      current = parentOf.get(current);
    }
    return depth;
  };
  return ordered.map((record) => {
    const parentId = parentOf.get(record.id);
    return {
      record,
      depth: depthOf(record.id),
      ...(parentId !== undefined ? { parentId } : {}),
      ...(byTiming.has(record.id) ? { linkedBy: 'timing' as const } : {}),
      ...(record.link_confidence !== undefined ? { linkConfidence: record.link_confidence } : {}),
    };
  });
}
