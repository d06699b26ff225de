/**
 * The ingest rate limit: records per second per sidecar, a token bucket per stream identity
 * (the SPIFFE id over mTLS, else the peer's address). One sidecar flooding the collector —
 * a bug, or a forged stream — costs its own records, not everyone's: records over its rate
 * are refused in the ack (`rate_limited`, counted) and the shipper does not send them again.
 *
 * Pure: time comes in as an argument. Buckets idle for a minute are forgotten.
 */

export interface IngestRateLimiter {
  /** How many of `n` records `key` may store now (0..n); the rest are over its rate. */
  take(key: string, n: number, nowMs: number): number;
  readonly buckets: number;
}

export interface IngestRateOptions {
  /** Records per second per identity; 0 means no limit. */
  recordsPerSecond: number;
  /** Burst allowance in seconds of the rate (a full bucket). Default 2. */
  burstSeconds?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const IDLE_MS = 60_000;

export function createIngestRateLimiter(options: IngestRateOptions): IngestRateLimiter {
  const rate = options.recordsPerSecond;
  const capacity = rate * (options.burstSeconds ?? 2);
  const buckets = new Map<string, Bucket>();
  let sweptAt = 0;

  function sweep(nowMs: number): void {
    if (nowMs - sweptAt < IDLE_MS) return;
    sweptAt = nowMs;
    for (const [key, b] of buckets) if (nowMs - b.at > IDLE_MS) buckets.delete(key);
  }

  return {
    take(key, n, nowMs) {
      if (rate <= 0 || n <= 0) return Math.max(0, n);
      sweep(nowMs);
      let b = buckets.get(key);
      if (b === undefined) {
        b = { tokens: capacity, at: nowMs };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(capacity, b.tokens + ((nowMs - b.at) / 1000) * rate);
        b.at = nowMs;
      }
      const granted = Math.min(n, Math.floor(b.tokens));
      b.tokens -= granted;
      return granted;
    },
    get buckets() {
      return buckets.size;
    },
  };
}
