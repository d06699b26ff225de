/**
 * When to renew a workload certificate: at half of its remaining life, counted from when it
 * was received rather than from `notBefore` (the CA backdates `notBefore` for clock skew, so
 * with a short lifetime the textbook half-life would already be past). Pure.
 */

/** Never renew sooner than this after receiving a certificate (a CA answering tiny lifetimes must not make us spin). */
export const MIN_RENEW_DELAY_MS = 1000;

export function renewDelayMs(receivedAtMs: number, notAfterMs: number): number {
  return Math.max(MIN_RENEW_DELAY_MS, Math.floor((notAfterMs - receivedAtMs) / 2));
}
