/**
 * The sidecar's workload identity: a certificate from the CA, kept fresh.
 *
 * At start it asks the CA (a fresh key and CSR each time, `requestWorkloadCertificate`),
 * retrying with backoff and full jitter while the CA is away; it renews at half of the
 * remaining life and keeps retrying after a failed renewal. Each certificate becomes one
 * `tls.SecureContext`: new connections take the current one, established connections keep
 * theirs, so a rotation drops nothing. A certificate past `notAfter` is no identity at all
 * (the proxy then passes traffic through in plaintext rather than fail handshakes).
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { IssuedWorkloadCertificate } from '../../certs/ca-client.ts';
import { createBackoff } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/log.ts';
import { renewDelayMs } from './renewal.ts';

export interface CurrentIdentity {
  readonly spiffeId: string;
  readonly serialNumber: string;
  readonly notAfterMs: number;
  /** Our key and certificate, and every root peers may chain to. */
  readonly secureContext: SecureContext;
  /** The same as PEM, for a TLS server (which builds its own context). */
  readonly keyPem: string;
  readonly certPem: string;
  readonly trustBundlePem: string;
}

export interface IdentityStats {
  readonly issued: number;
  readonly rotations: number;
  readonly caFailures: number;
  readonly current: { spiffeId: string; serialNumber: string; notAfterMs: number } | undefined;
}

export interface WorkloadIdentity {
  /** The certificate to use for a new connection; undefined before the first or once expired. */
  current(): CurrentIdentity | undefined;
  /** Resolves true once a certificate is in hand, false after `timeoutMs` (or on close). */
  waitForFirst(timeoutMs: number): Promise<boolean>;
  /** Calls `listener` after each certificate obtained or rotated (a listener that throws is ignored). */
  onIssued(listener: () => void): void;
  stats(): IdentityStats;
  close(): void;
}

export interface WorkloadIdentityOptions {
  /** One request to the CA (reads the token and the trust bundle itself). */
  request: () => Promise<IssuedWorkloadCertificate>;
  log: Pick<Logger, 'info' | 'warn'>;
  backoff?: { initialMs: number; maxMs: number };
  now?: () => number;
  random?: () => number;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createWorkloadIdentity(options: WorkloadIdentityOptions): WorkloadIdentity {
  const now = options.now ?? Date.now;
  const backoff = createBackoff({ baseMs: options.backoff?.initialMs ?? 500, capMs: options.backoff?.maxMs ?? 30_000, random: options.random ?? Math.random });
  let identity: CurrentIdentity | undefined;
  let issued = 0;
  let caFailures = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const waiters = new Set<(ok: boolean) => void>();
  const issuedListeners: (() => void)[] = [];

  const schedule = (delayMs: number) => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void attempt(), delayMs);
    timer.unref();
  };

  async function attempt(): Promise<void> {
    if (closed) return;
    let cert: IssuedWorkloadCertificate;
    let secureContext: SecureContext;
    try {
      cert = await options.request();
      secureContext = createSecureContext({ key: cert.keyPem, cert: cert.certPem, ca: cert.trustBundlePem });
    } catch (err) {
      if (closed) return;
      caFailures++;
      let wait = Math.max(backoff.next(), 100);
      // A certificate about to expire is worth an earlier retry than a long backoff.
      if (identity) wait = Math.min(wait, Math.max(100, (identity.notAfterMs - now()) / 4));
      options.log.warn({ error: describe(err), retry_in_ms: wait, has_certificate: identity !== undefined }, 'identity: cannot get a certificate from the CA; retrying');
      schedule(wait);
      return;
    }
    if (closed) return;
    backoff.reset();
    const previous = identity?.serialNumber;
    identity = Object.freeze({
      spiffeId: cert.spiffeId,
      serialNumber: cert.serialNumber,
      notAfterMs: cert.notAfter.getTime(),
      secureContext,
      keyPem: cert.keyPem,
      certPem: cert.certPem,
      trustBundlePem: cert.trustBundlePem,
    });
    issued++;
    const delay = renewDelayMs(now(), identity.notAfterMs);
    options.log.info(
      {
        spiffe_id: cert.spiffeId,
        serial: cert.serialNumber,
        previous_serial: previous,
        not_after: cert.notAfter.toISOString(),
        renew_in_ms: delay,
      },
      previous ? 'identity: certificate rotated' : 'identity: certificate obtained',
    );
    for (const w of [...waiters]) w(true);
    for (const listener of issuedListeners) {
      try {
        listener();
      } catch {
        // a listener must not stop the renewals
      }
    }
    schedule(delay);
  }

  void attempt();

  return {
    current() {
      return identity && now() < identity.notAfterMs ? identity : undefined;
    },
    waitForFirst(timeoutMs) {
      if (identity) return Promise.resolve(true);
      if (closed) return Promise.resolve(false);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(t);
          waiters.delete(done);
          resolve(ok);
        };
        const t = setTimeout(() => done(false), timeoutMs);
        waiters.add(done);
      });
    },
    onIssued(listener) {
      issuedListeners.push(listener);
    },
    stats() {
      return {
        issued,
        rotations: Math.max(0, issued - 1),
        caFailures,
        current: identity ? { spiffeId: identity.spiffeId, serialNumber: identity.serialNumber, notAfterMs: identity.notAfterMs } : undefined,
      };
    },
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of [...waiters]) w(false);
    },
  };
}
