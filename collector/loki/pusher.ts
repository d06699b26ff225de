/**
 * Pushes call records to Loki: a byte-bounded queue, batches cut by size or age, one push in
 * flight at a time, retries with backoff on what Loki or the network may recover from.
 *
 * `push` never throws and never waits: a record that cannot be queued is dropped and counted.
 * Retries happen on 429, 5xx and network errors/timeouts only, honouring Retry-After, within
 * a retry count and a time budget per batch; other answers (400 for a too-old entry, 401,
 * 413 …) would fail the same way again, so that batch is dropped at once and Loki's error text
 * is logged. Loki may have stored the valid entries of a batch it answered 400 to; the batch
 * still counts as dropped, since the answer does not say which entries made it.
 */
import { Buffer } from 'node:buffer';
import type { CallRecord } from '../../record/record.ts';
import { equalJitterDelay } from '../../lib/backoff.ts';
import { createJsonLogger, createSinkLogger, type Logger } from '../../lib/log.ts';
import type { LokiConfig } from './config.ts';
import { buildLokiEntry, type LokiEntry } from './entry.ts';
import { encodePush, type EncodedPush } from './push-encode.ts';

/**
 * Why entries were dropped: the queue was full; Loki stayed unavailable past the retry count or
 * time; Loki refused the batch (4xx other than 429, or another non-retryable status); a record
 * or batch could not be mapped or encoded (a bug); the pusher was closed before they went out.
 */
export const LOKI_DROP_REASONS = ['queue_full', 'retries_exhausted', 'rejected_4xx', 'rejected_other', 'encode_error', 'shutdown'] as const;
export type LokiDropReason = (typeof LOKI_DROP_REASONS)[number];

export interface LokiPushStats {
  /** Entries Loki acknowledged (2xx). */
  pushed_entries: number;
  pushed_batches: number;
  /** Request body bytes of acknowledged pushes (compressed). */
  pushed_bytes: number;
  /** Attempts repeated after a retryable failure. */
  retries: number;
  /** Entries dropped, by reason. */
  dropped: Record<LokiDropReason, number>;
  /** Entries whose line was cut to fit Loki's line limit (still pushed). */
  truncated_lines: number;
  queued_entries: number;
  queued_bytes: number;
  /** The last failure seen (HTTP status and Loki's text, or the network error), for health output. */
  last_error?: string;
}

export interface LokiPusherDeps {
  fetch?: typeof globalThis.fetch;
  /** Wall clock in ms: retry time budget and Retry-After dates. */
  now?: () => number;
  /** In [0, 1): backoff jitter. */
  random?: () => number;
  /** Resolves after `ms`, rejects when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The collector's logger; JSON lines on stderr when absent. */
  log?: Logger;
}

export interface LokiPusher {
  /** Queues one record. Never throws, never blocks. */
  push(record: CallRecord): void;
  /** Sends everything queued now, without waiting for the batch timer; resolves when the queue is empty. */
  flush(): Promise<void>;
  stats(): LokiPushStats;
  /**
   * Stops accepting records, sends what is queued, and gives up after `drainMs` (in-flight
   * push and retries aborted, the rest dropped as `shutdown`). Resolves with the final stats.
   */
  close(options?: { drainMs?: number }): Promise<LokiPushStats>;
}

export const DEFAULT_DRAIN_MS = 5000;
const MAX_ERROR_TEXT = 1024;
const QUEUE_FULL_LOG_INTERVAL_MS = 10_000;

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

function authorizationHeader(config: LokiConfig): string | undefined {
  if (config.basicAuth) {
    return `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`;
  }
  if (config.bearerToken) return `Bearer ${config.bearerToken}`;
  return undefined;
}

type Attempt =
  | { kind: 'ok' }
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  | { kind: 'reject'; reason: LokiDropReason; status: number; error: string }
  | { kind: 'aborted' };

export function createLokiPusher(config: LokiConfig, deps: LokiPusherDeps = {}): LokiPusher {
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? defaultSleep;
  const baseLog = deps.log ?? createJsonLogger(process.stderr);
  // A failing logger must never break pushing or make `push` throw.
  const log = createSinkLogger((level, msg, fields) => {
    try {
      const write = level === 'debug' ? baseLog.debug : baseLog[level];
      write?.call(baseLog, { component: 'loki', ...fields }, msg);
    } catch {
      // ignored
    }
  });

  const baseHeaders: Record<string, string> = { 'user-agent': 'meshtap' };
  if (config.tenant) baseHeaders['x-scope-orgid'] = config.tenant;
  const authorization = authorizationHeader(config);
  if (authorization) baseHeaders.authorization = authorization;

  const dropped = Object.fromEntries(LOKI_DROP_REASONS.map((r) => [r, 0])) as Record<LokiDropReason, number>;
  const counters = { pushed_entries: 0, pushed_batches: 0, pushed_bytes: 0, retries: 0, truncated_lines: 0 };
  let lastError: string | undefined;

  let queue: LokiEntry[] = [];
  let head = 0;
  let waitingBytes = 0;
  let inflightBytes = 0;
  let flushRequested = false;
  let closing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let loop: Promise<void> | undefined;
  let lastQueueFullLog = -Infinity;
  const shutdown = new AbortController();

  const waiting = () => queue.length - head;

  function drop(reason: LokiDropReason, count: number): void {
    dropped[reason] += count;
  }

  function ready(): boolean {
    return waiting() > 0 && !shutdown.signal.aborted && (waitingBytes >= config.batchBytes || flushRequested || closing);
  }

  function kick(): void {
    if (loop) return;
    if (ready()) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      loop = run();
      return;
    }
    if (waiting() > 0 && !timer && !shutdown.signal.aborted) {
      timer = setTimeout(() => {
        timer = undefined;
        flushRequested = true;
        kick();
      }, config.batchWaitMs);
      timer.unref?.();
    }
  }

  function take(): LokiEntry[] {
    const batch: LokiEntry[] = [];
    let bytes = 0;
    while (head < queue.length) {
      const entry = queue[head];
      if (batch.length > 0 && bytes + entry.bytes > config.batchBytes) break;
      batch.push(entry);
      bytes += entry.bytes;
      head++;
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    waitingBytes -= bytes;
    inflightBytes += bytes;
    return batch;
  }

  async function run(): Promise<void> {
    // Continue asynchronously, so `loop` is set before this body can finish and clear it.
    await null;
    try {
      while (ready()) {
        const batch = take();
        if (waiting() === 0) flushRequested = false;
        const bytes = batch.reduce((n, e) => n + e.bytes, 0);
        try {
          await send(batch);
        } catch (err) {
          // send handles every expected failure; this is a bug, and must not stop the loop.
          drop('encode_error', batch.length);
          log.warn({ entries: batch.length, error: (err as Error)?.message ?? String(err) }, 'unexpected error pushing to Loki; entries dropped');
        } finally {
          inflightBytes -= bytes;
        }
      }
    } finally {
      loop = undefined;
      kick();
    }
  }

  async function attempt(encoded: EncodedPush): Promise<Attempt> {
    let res: Response;
    try {
      res = await fetchImpl(config.pushUrl, {
        method: 'POST',
        headers: { ...baseHeaders, ...encoded.headers },
        body: encoded.body,
        signal: AbortSignal.any([shutdown.signal, AbortSignal.timeout(config.timeoutMs)]),
      });
    } catch (err) {
      if (shutdown.signal.aborted) return { kind: 'aborted' };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'retry', error: `network: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
    }
    let text = '';
    try {
      text = (await res.text()).slice(0, MAX_ERROR_TEXT).trim();
    } catch {
      if (shutdown.signal.aborted) return { kind: 'aborted' };
      // A body cut short does not change what the status says.
    }
    if (res.ok) return { kind: 'ok' };
    const error = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
    if (res.status === 429 || res.status >= 500) {
      return { kind: 'retry', error, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), now()) };
    }
    return { kind: 'reject', reason: res.status >= 400 && res.status < 500 ? 'rejected_4xx' : 'rejected_other', status: res.status, error };
  }

  async function send(batch: LokiEntry[]): Promise<void> {
    let encoded: EncodedPush;
    try {
      encoded = await encodePush(batch, config.encoding);
    } catch (err) {
      drop('encode_error', batch.length);
      log.warn({ entries: batch.length, error: (err as Error).message }, 'could not encode a Loki push; entries dropped');
      return;
    }
    const started = now();
    for (let retries = 0; ; retries++) {
      const result = await attempt(encoded);
      if (result.kind === 'ok') {
        counters.pushed_entries += batch.length;
        counters.pushed_batches++;
        counters.pushed_bytes += encoded.body.byteLength;
        return;
      }
      if (result.kind === 'aborted') {
        drop('shutdown', batch.length);
        return;
      }
      lastError = result.error;
      if (result.kind === 'reject') {
        drop(result.reason, batch.length);
        log.warn({ status: result.status, loki_error: result.error, entries: batch.length }, 'Loki rejected a push; entries dropped');
        return;
      }
      const delay = result.retryAfterMs ?? equalJitterDelay(retries + 1, config.minBackoffMs, config.maxBackoffMs, random());
      if (retries >= config.maxRetries || now() - started + delay > config.maxRetryMs) {
        drop('retries_exhausted', batch.length);
        log.warn(
          {
            loki_error: result.error,
            entries: batch.length,
            attempts: retries + 1,
            elapsed_ms: now() - started,
          },
          'Loki push failed after retries; entries dropped',
        );
        return;
      }
      log.debug?.({ loki_error: result.error, delay_ms: delay, attempt: retries + 1 }, 'Loki push failed; retrying');
      counters.retries++;
      try {
        await sleep(delay, shutdown.signal);
      } catch {
        drop('shutdown', batch.length);
        return;
      }
    }
  }

  function push(record: CallRecord): void {
    try {
      if (closing) {
        drop('shutdown', 1);
        return;
      }
      const entry = buildLokiEntry(record, { cluster: config.clusterName, maxLineBytes: config.maxLineBytes });
      if (waitingBytes + inflightBytes + entry.bytes > config.maxQueueBytes) {
        drop('queue_full', 1);
        const t = now();
        if (t - lastQueueFullLog >= QUEUE_FULL_LOG_INTERVAL_MS) {
          lastQueueFullLog = t;
          log.warn({ dropped_queue_full: dropped.queue_full, max_queue_bytes: config.maxQueueBytes }, 'Loki queue full; dropping records');
        }
        return;
      }
      if (entry.truncated) counters.truncated_lines++;
      queue.push(entry);
      waitingBytes += entry.bytes;
      kick();
    } catch (err) {
      drop('encode_error', 1);
      log.warn({ error: (err as Error)?.message ?? String(err) }, 'could not map a record to a Loki entry; dropped');
    }
  }

  async function idle(): Promise<void> {
    while (loop) await loop;
  }

  function stats(): LokiPushStats {
    return {
      ...counters,
      dropped: { ...dropped },
      queued_entries: waiting(),
      queued_bytes: waitingBytes,
      ...(lastError === undefined ? {} : { last_error: lastError }),
    };
  }

  let closed: Promise<LokiPushStats> | undefined;

  return {
    push,
    stats,
    async flush() {
      flushRequested = true;
      kick();
      await idle();
    },
    close(options = {}) {
      closed ??= (async () => {
        closing = true;
        const deadline = setTimeout(() => shutdown.abort(new Error('Loki pusher closed')), options.drainMs ?? DEFAULT_DRAIN_MS);
        kick();
        await idle();
        clearTimeout(deadline);
        if (timer) clearTimeout(timer);
        timer = undefined;
        shutdown.abort(new Error('Loki pusher closed'));
        drop('shutdown', waiting());
        queue = [];
        head = 0;
        waitingBytes = 0;
        return stats();
      })();
      return closed;
    },
  };
}
