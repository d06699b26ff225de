/**
 * Exponential backoff with jitter, the one copy every retrying client uses (shipper, CA and
 * membership clients, Loki pusher, trust-bundle publisher): jitter spreads a fleet of
 * sidecars or collectors retrying against a restarted peer instead of having them arrive in
 * waves. Pure: the attempt and the random draw are arguments.
 */

/** The ceiling of retry `attempt` (1-based): base * 2^(attempt-1), capped. */
export function backoffCeilingMs(attempt: number, baseMs: number, capMs: number): number {
  // 2^n grows past any cap quickly; stop doubling before it overflows to Infinity.
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 52));
}

/** A draw clamped to [0, 1], so a bad random source can never yield a negative or oversized delay. */
function unit(random: number): number {
  return Math.min(Math.max(random, 0), 1);
}

/** Full jitter: uniform in [0, ceiling) (a draw of exactly 1 gives the ceiling). */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: number): number {
  return Math.floor(unit(random) * backoffCeilingMs(attempt, baseMs, capMs));
}

/** Equal jitter: half the ceiling fixed, half random, so a retry never comes back immediately. */
export function equalJitterDelay(attempt: number, baseMs: number, capMs: number, random: number): number {
  const ceiling = backoffCeilingMs(attempt, baseMs, capMs);
  return Math.round(ceiling / 2 + (ceiling / 2) * unit(random));
}

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Uniform in [0, 1), like Math.random. */
  random: () => number;
  /** Default `full`. */
  jitter?: 'full' | 'equal';
}

export interface Backoff {
  /** The delay before the next attempt, in ms; each call counts one failed attempt. */
  next(): number;
  /** Back to the first delay (after a success). */
  reset(): void;
  readonly attempts: number;
}

/** A counter of failed attempts around the delay functions above. */
export function createBackoff(options: BackoffOptions): Backoff {
  const delay = options.jitter === 'equal' ? equalJitterDelay : fullJitterDelay;
  let attempts = 0;
  return {
    next() {
      attempts++;
      return delay(attempts, options.baseMs, options.capMs, options.random());
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
