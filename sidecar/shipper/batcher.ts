/** When to cut a batch: enough records, enough bytes, or the oldest record has waited long enough. */

export interface BatchLimits {
  maxRecords: number;
  maxBytes: number;
  lingerMs: number;
}

export interface QueueState {
  queuedRecords: number;
  queuedBytes: number;
  /** `at` of the oldest queued record (ms), undefined when empty. */
  oldestAt: number | undefined;
}

export type BatchDecision = { send: true } | { send: false; waitMs: number | undefined };

/**
 * `send` when a batch should go now; otherwise how long until the oldest record's linger runs
 * out (undefined when nothing is queued). `flush` (shutting down) sends whatever is queued.
 */
export function decideBatch(state: QueueState, now: number, limits: BatchLimits, flush = false): BatchDecision {
  if (state.queuedRecords === 0 || state.oldestAt === undefined) return { send: false, waitMs: undefined };
  if (flush || state.queuedRecords >= limits.maxRecords || state.queuedBytes >= limits.maxBytes) return { send: true };
  const waited = now - state.oldestAt;
  if (waited >= limits.lingerMs) return { send: true };
  return { send: false, waitMs: limits.lingerMs - waited };
}
