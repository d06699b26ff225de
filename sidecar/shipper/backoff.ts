/**
 * Exponential backoff with full jitter: attempt n waits a uniformly random time in
 * [0, min(cap, base * 2^n)). Full jitter spreads a fleet of sidecars reconnecting to a
 * restarted collector instead of having them arrive in waves.
 */

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Uniform in [0, 1), like Math.random. */
  random: () => number;
}

export interface Backoff {
  /** The delay before the next attempt, in ms; each call counts one failed attempt. */
  next(): number;
  /** Back to the first delay (after a success). */
  reset(): void;
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions): Backoff {
  let attempts = 0;
  return {
    next() {
      // 2^n grows past any cap quickly; stop doubling before it overflows to Infinity.
      const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempts, 52));
      attempts++;
      const r = Math.min(Math.max(options.random(), 0), 1);
      return Math.floor(r * ceiling);
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
