/**
 * Retries, seen from the wire: a call is a repeat of an earlier one when the same client
 * (workload, else pod, else address) sends the same method to the same target (path with its
 * query, authority) with the same request body, within the window after an attempt that
 * FAILED (an error such as a reset or timeout, a 5xx, 408 or 429, a non-OK gRPC status). A
 * success ends the chain, so a client polling `/healthz` every second is not a retry storm.
 *
 * Each observer counts on its own (a meshed call's client and server records each get the
 * same numbers when both sides saw every attempt). Pure apart from the clock passed in;
 * bounded: at most `maxChains` chains, the oldest forgotten first.
 */
import { createHash } from 'node:crypto';
import type { CallRecord } from '../record/record.ts';

export interface RetryTrackerOptions {
  /** How long after a failed attempt a repeat still counts as its retry. Default 10 s. */
  windowMs?: number;
  /** Chains remembered at most. Default 100 000. */
  maxChains?: number;
}

export const DEFAULT_RETRY_WINDOW_MS = 10_000;

interface Chain {
  firstId: string;
  attempts: number;
  /** When the latest failed attempt ended (ns); undefined while none failed. */
  failedEnd?: bigint;
  /** When the first success after it ended: calls starting later begin a new chain. */
  succeededEnd?: bigint;
}

const RETRIED_PROTOCOLS = new Set(['http', 'http2', 'grpc']);

/** Whether an attempt failed in a way a client retries. */
export function attemptFailed(r: CallRecord): boolean {
  if (r.error !== undefined) return true;
  if (r.protocol === 'grpc' && r.grpc_status !== undefined && r.grpc_status !== 0) return true;
  const s = r.status_code;
  return s !== undefined && (s >= 500 || s === 408 || s === 429);
}

function chainKey(r: CallRecord): string {
  const client = r.src.workload ?? r.src.pod ?? r.src.ip;
  const body = r.request?.body;
  const digest = body === undefined || body.length === 0 ? '' : createHash('sha1').update(body).digest('base64');
  return `${r.observer}\u0000${r.src.namespace ?? ''}/${client}\u0000${r.method ?? ''}\u0000${r.authority ?? ''}${r.path ?? ''}\u0000${digest}`;
}

export interface RetryTracker {
  /** Sets `attempt` (and `first_attempt_id` on repeats) on an HTTP-family record; others unchanged. */
  mark(record: CallRecord): CallRecord;
  readonly size: number;
}

export function createRetryTracker(options: RetryTrackerOptions = {}): RetryTracker {
  const windowNs = BigInt(options.windowMs ?? DEFAULT_RETRY_WINDOW_MS) * 1_000_000n;
  const maxChains = options.maxChains ?? 100_000;
  const chains = new Map<string, Chain>();
  return {
    get size() {
      return chains.size;
    },
    mark(record) {
      if (!RETRIED_PROTOCOLS.has(record.protocol) || record.method === undefined) return record;
      const key = chainKey(record);
      const prev = chains.get(key);
      const failed = attemptFailed(record);
      // Concurrent retries (a burst after one failure) all belong to the chain, even once one succeeded.
      const retry =
        prev?.failedEnd !== undefined &&
        record.start - prev.failedEnd <= windowNs &&
        prev.failedEnd - record.start <= windowNs &&
        !(prev.succeededEnd !== undefined && record.start >= prev.succeededEnd);
      if (prev !== undefined && retry) {
        prev.attempts++;
        if (failed) prev.failedEnd = record.end > prev.failedEnd! ? record.end : prev.failedEnd;
        else if (prev.succeededEnd === undefined || record.end < prev.succeededEnd) prev.succeededEnd = record.end;
        chains.delete(key);
        chains.set(key, prev);
        record.attempt = prev.attempts;
        record.first_attempt_id = prev.firstId;
        return record;
      }
      chains.delete(key);
      chains.set(key, failed ? { firstId: record.id, attempts: 1, failedEnd: record.end } : { firstId: record.id, attempts: 1, succeededEnd: record.end });
      if (chains.size > maxChains) chains.delete(chains.keys().next().value as string);
      record.attempt = 1;
      return record;
    },
  };
}
