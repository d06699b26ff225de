/**
 * Retries, seen from the wire: a call is a repeat of an earlier one when the same client
 * (workload, else pod, else address) sends the same method to the same target (path with its
 * query, authority) with the same request body, within the window after an attempt that
 * FAILED (a transport error such as a reset, `timeout` or `client_timeout`, a 5xx, 408 or 429, a
 * transient gRPC status such as UNAVAILABLE). A success or any other answer ends the chain, so
 * a client polling `/healthz` every second is not a retry storm.
 *
 * A client's attempts are kept in order of `start`, not of arrival: records reach the collector in
 * the order their exchanges ended, from several pods of one workload, so a retry may be marked
 * before an attempt that started earlier. The tracker keeps two views of each attempt kept:
 * - its place by the rules over every attempt seen so far, in order of start (`attempt`,
 *   `firstId`): a late record takes its place and moves the ones after it, here only;
 * - the mark it was given (`mark`, `markFirst`): stored and exported, never changed.
 * A record is marked with its place, kept within the marks already given in the chain it joins
 * (the one its chain's first attempt was marked in): at least one more than any of that chain
 * that started before it, at most the lowest of that chain that started after it. So within a
 * chain marks never go back in order of start (attempt 5 never started before attempt 4); a late
 * record with no free number between its neighbours shares the later one's, and the attempts
 * after it count it (a number is skipped). `markAll` orders one batch by `start` first, so
 * reordering inside a batch never shows.
 *
 * After a 429 or 503 carrying `Retry-After` (delay-seconds or an HTTP-date), the retry says
 * whether the client waited that long (`retry_after_honoured`).
 *
 * Each observer counts on its own (a meshed call's client and server records each get the
 * same numbers when both sides saw every attempt and none came late). Pure apart from the
 * clock passed in; bounded: at most `maxChains` histories of at most `MAX_CHAIN_ATTEMPTS`
 * attempts, the oldest forgotten first (an attempt that started before all those kept of its
 * history is a first attempt of its own chain).
 */
import { hash } from 'node:crypto';
import type { CallRecord } from '../record/record.ts';

export interface RetryTrackerOptions {
  /** How long after a failed attempt a repeat still counts as its retry. Default 10 s; at least 5 s. */
  windowMs?: number;
  /** Chains remembered at most. Default 100 000. */
  maxChains?: number;
}

export const DEFAULT_RETRY_WINDOW_MS = 10_000;
/** Shorter windows miss clients that back off for a few seconds (and honour `Retry-After: 5`). */
export const MIN_RETRY_WINDOW_MS = 5_000;
/** Attempts remembered per client and request (each keeps the id of its chain's first). */
export const MAX_CHAIN_ATTEMPTS = 64;
/**
 * How much earlier than `Retry-After` asked a retry may start and still count as honouring it:
 * the two instants are taken at the sidecar, not at the client, and differ by its hop.
 */
export const RETRY_AFTER_SLACK_NS = 50_000_000n;
/** An HTTP-date has whole seconds: a client aiming at it can be up to a second early. */
const HTTP_DATE_SLACK_NS = 1_000_000_000n;

interface Attempt {
  id: string;
  start: bigint;
  end: bigint;
  failed: boolean;
  /** The earliest instant (ns) a retry honouring this attempt's `Retry-After` could start. */
  retryNotBefore?: bigint;
  /** Its place in its chain as the tracker now knows it (what a later attempt counts on). */
  attempt: number;
  firstId: string;
  /** What its record was marked (`attempt`, and `first_attempt_id` or its own id): fixed once given. */
  mark: number;
  markFirst: string;
}

const RETRIED_PROTOCOLS = new Set(['http', 'http2', 'grpc']);

/**
 * gRPC statuses that are transient failures, the ones gRPC's own mapping puts beside HTTP 5xx,
 * 408 and 429 (CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL,
 * UNAVAILABLE, DATA_LOSS). An answer such as NOT_FOUND, INVALID_ARGUMENT or PERMISSION_DENIED is
 * the service's reply, like a 404: a client asking again is a new request, not a retry.
 */
export const RETRIED_GRPC_STATUSES: ReadonlySet<number> = new Set([1, 2, 4, 8, 10, 13, 14, 15]);

/** Whether an attempt failed in a way a client retries. */
export function attemptFailed(r: CallRecord): boolean {
  if (r.error !== undefined) return true;
  if (r.protocol === 'grpc' && r.grpc_status !== undefined) return RETRIED_GRPC_STATUSES.has(r.grpc_status);
  const s = r.status_code;
  return s !== undefined && (s >= 500 || s === 408 || s === 429);
}

/**
 * When a retry of `r` may start according to its `Retry-After` (429 and 503 only), in ns on the
 * observer's clock: delay-seconds count from the response's end; an HTTP-date is an instant
 * (less a second: it has whole seconds only). Undefined when there is no usable header.
 */
export function retryNotBefore(r: Pick<CallRecord, 'status_code' | 'response' | 'end'>): bigint | undefined {
  if (r.status_code !== 429 && r.status_code !== 503) return undefined;
  const value = r.response?.headers?.['retry-after']?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,9}$/.test(value)) return r.end + BigInt(value) * 1_000_000_000n - RETRY_AFTER_SLACK_NS;
  const ms = Date.parse(value);
  // Only the HTTP-date forms (IMF-fixdate and the two obsolete ones) name a weekday or "GMT".
  if (Number.isNaN(ms) || !/GMT$/i.test(value)) return undefined;
  return BigInt(ms) * 1_000_000n - HTTP_DATE_SLACK_NS;
}

function chainKey(r: CallRecord): string {
  const client = r.src.workload ?? r.src.pod ?? r.src.ip;
  const body = r.request?.body;
  const digest = body === undefined || body.length === 0 ? '' : hash('sha1', body, 'base64');
  return `${r.observer}\u0000${r.src.namespace ?? ''}/${client}\u0000${r.method ?? ''}\u0000${r.authority ?? ''}${r.path ?? ''}\u0000${digest}`;
}

/**
 * Places the attempt at `i` of a client's history (in order of start) in its chain: it repeats
 * the chain running before it when one of that chain's attempts failed within the window of it
 * (before or after: a burst of concurrent retries follows one failure) and none had already
 * succeeded by the time it started. The chain is the run since the last attempt numbered 1.
 * Returns where its chain starts (the first attempt, or the oldest kept when that was forgotten;
 * `i` when it starts one).
 */
function place(history: Attempt[], i: number, windowNs: bigint): number {
  const a = history[i];
  let head = i - 1;
  while (head > 0 && history[head].attempt !== 1) head--;
  let near = false;
  let ended = false;
  for (let j = Math.max(0, head); j < i; j++) {
    const c = history[j];
    if (c.failed && a.start - c.end <= windowNs && c.end - a.start <= windowNs) near = true;
    if (!c.failed && c.end <= a.start) ended = true;
  }
  if (i > 0 && near && !ended) {
    a.attempt = history[i - 1].attempt + 1;
    a.firstId = history[head].firstId;
    return head;
  }
  a.attempt = 1;
  a.firstId = a.id;
  return i;
}

/**
 * The mark of the attempt at `i`, placed (`place`) as a repeat whose chain starts at `head`: it
 * joins the chain `head` was marked in, numbered by its place but kept between that chain's marks
 * of the attempts that started before it and after it (those are stored: they cannot move).
 */
function markRepeat(history: Attempt[], i: number, head: number): void {
  const a = history[i];
  const chain = history[head].markFirst;
  let before = 0;
  for (let j = i - 1; j >= 0; j--) {
    const c = history[j];
    if (c.markFirst !== chain) continue;
    if (c.mark > before) before = c.mark;
    // Nothing of the chain comes before its first attempt.
    if (c.id === chain) break;
  }
  let after = Infinity;
  for (let j = i + 1; j < history.length; j++) {
    const c = history[j];
    if (c.markFirst === chain && c.mark < after) after = c.mark;
  }
  a.mark = Math.min(after, Math.max(a.attempt, before + 1));
  a.markFirst = chain;
}

export interface RetryTracker {
  /**
   * Sets `attempt` (and `first_attempt_id` on repeats, `retry_after_honoured` on a repeat of a
   * 429/503 that said when to retry) on an HTTP-family record; others unchanged.
   */
  mark(record: CallRecord): CallRecord;
  /** `mark` for a batch, in order of `start` (the batch's own order is kept in what it returns). */
  markAll(records: readonly CallRecord[]): CallRecord[];
  readonly size: number;
}

export function createRetryTracker(options: RetryTrackerOptions = {}): RetryTracker {
  const windowMs = Math.max(MIN_RETRY_WINDOW_MS, options.windowMs ?? DEFAULT_RETRY_WINDOW_MS);
  const windowNs = BigInt(windowMs) * 1_000_000n;
  const maxChains = options.maxChains ?? 100_000;
  // Per client and request: its recent attempts in order of start.
  const histories = new Map<string, Attempt[]>();

  function mark(record: CallRecord): CallRecord {
    if (!RETRIED_PROTOCOLS.has(record.protocol) || record.method === undefined) return record;
    const key = chainKey(record);
    const attempt: Attempt = { id: record.id, start: record.start, end: record.end, failed: attemptFailed(record), attempt: 1, firstId: record.id, mark: 1, markFirst: record.id };
    const notBefore = retryNotBefore(record);
    if (notBefore !== undefined) attempt.retryNotBefore = notBefore;
    const history = histories.get(key) ?? [];
    let position = history.length;
    while (position > 0 && history[position - 1].start > record.start) position--;
    history.splice(position, 0, attempt);
    const head = place(history, position, windowNs);
    // The failure this attempt answers: the chain's latest one that ended before it started.
    let previous: Attempt | undefined;
    if (attempt.attempt > 1) {
      markRepeat(history, position, head);
      for (let j = position - 1; j >= 0 && history[j].firstId === attempt.firstId; j--) {
        const c = history[j];
        if (c.failed && c.end <= record.start && (previous === undefined || c.end > previous.end)) previous = c;
      }
    }
    // A late attempt moves the ones after it: placed again here for the attempts still to come (their marks stay).
    for (let k = position + 1; k < history.length; k++) place(history, k, windowNs);
    if (history.length > MAX_CHAIN_ATTEMPTS) history.shift();
    // Most recently used last: the oldest history goes first when over the bound.
    histories.delete(key);
    histories.set(key, history);
    if (histories.size > maxChains) histories.delete(histories.keys().next().value as string);

    record.attempt = attempt.mark;
    if (attempt.mark === 1) {
      delete record.first_attempt_id;
      return record;
    }
    record.first_attempt_id = attempt.markFirst;
    if (previous?.retryNotBefore !== undefined) record.retry_after_honoured = record.start >= previous.retryNotBefore;
    return record;
  }

  return {
    get size() {
      return histories.size;
    },
    mark,
    markAll(records) {
      const order = records.map((_r, i) => i).sort((a, b) => (records[a].start < records[b].start ? -1 : records[a].start > records[b].start ? 1 : a - b));
      for (const i of order) mark(records[i]);
      return [...records];
    },
  };
}
