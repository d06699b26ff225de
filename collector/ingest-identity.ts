/**
 * Records only from the sidecar that saw them. Over mTLS the collector knows which workload
 * ships on a stream (the SPIFFE id of its client certificate, issued by the mesh CA from the
 * pod's own token); a record whose observing end — the client for an outbound record, the
 * server for an inbound one — claims another identity or namespace is a forgery (or a bug) and
 * is rejected and counted, never stored. Pure.
 */
import type { CallRecord } from '../record/record.ts';

/** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` → its namespace. */
export function spiffeNamespace(spiffeId: string): string | undefined {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(spiffeId);
  return m ? m[1] : undefined;
}

export interface IdentityCheck {
  ok: boolean;
  detail?: string;
}

/**
 * Whether `record` may come from the stream of `streamSpiffeId`. Claims the record leaves out
 * are not checked (enrichment fills them from the inventory by address); claims it makes must
 * be the stream's own.
 */
export function checkObserverClaim(record: CallRecord, streamSpiffeId: string | undefined, batchNamespace?: string): IdentityCheck {
  if (streamSpiffeId === undefined) return { ok: false, detail: 'the client certificate carries no SPIFFE id' };
  const namespace = spiffeNamespace(streamSpiffeId);
  if (namespace === undefined) return { ok: false, detail: `the client certificate's SPIFFE id ${streamSpiffeId} names no namespace` };
  const observing = record.observer === 'outbound' ? record.src : record.dst;
  if (observing.identity !== undefined && observing.identity !== '' && observing.identity !== streamSpiffeId) {
    return { ok: false, detail: `the record's ${record.observer} end claims ${observing.identity}, the stream is ${streamSpiffeId}` };
  }
  if (observing.namespace !== undefined && observing.namespace !== '' && observing.namespace !== namespace) {
    return { ok: false, detail: `the record's ${record.observer} end claims namespace ${observing.namespace}, the stream's identity is in ${namespace}` };
  }
  if (batchNamespace !== undefined && batchNamespace !== '' && batchNamespace !== namespace) {
    return { ok: false, detail: `the batch's sidecar claims namespace ${batchNamespace}, the stream's identity is in ${namespace}` };
  }
  return { ok: true };
}
