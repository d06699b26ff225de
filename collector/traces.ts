/**
 * One trace's records as a tree: ordered by start (the caller's record first at the same
 * instant), each linked to its parent when one of the trace's records is it.
 *
 * Parent, first match wins: the record whose `span_id` is this record's `parent_span_id`; for
 * an inbound record, the outbound record of the same exchange (same `connection_id` and
 * `ordinal`: the caller's side of the same call).
 */
import type { CallRecord } from '../record/record.ts';
import { compareTraceOrder } from './record-store.ts';

export interface TraceEntry {
  record: CallRecord;
  /** Id of the parent record within this trace. */
  parentId?: string;
  /** 0 for roots. */
  depth: number;
}

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
    if (parent !== undefined && parent !== r) parentOf.set(r.id, parent.id);
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
    return { record, depth: depthOf(record.id), ...(parentId !== undefined ? { parentId } : {}) };
  });
}
