/**
 * Keeps the collector's serving certificate, issued by the CA this controller runs, in Secret
 * `meshtap-collector-tls` (keys `tls.crt`, `tls.key`, `ca.crt`) in the collector's namespace.
 * The collector mounts it and serves gRPC ingest over mTLS (`--tls-cert-dir`): `tls.crt` names
 * the collector's Service, and `ca.crt` — the mesh trust bundle — is what client certificates
 * must chain to, so only sidecars holding a workload certificate from this CA can ship.
 *
 * Nobody has to create, copy or renew anything by hand: the Secret is written when missing,
 * re-issued when it is unreadable, names other hosts, was not issued by this CA, carries
 * another trust bundle or comes within `renewBeforeMs` of its expiry. It is checked at start
 * and then periodically by name (a `get`: no list or watch on Secrets, which would let the
 * controller read every Secret of the namespace), so a deleted or edited Secret is repaired
 * within one period. Updates carry the resourceVersion they read: two replicas cannot clobber
 * each other, and the one that loses re-reads and finds the winner's certificate good.
 *
 * The collector re-reads its certificate directory every 30 s (`collector/ingest-cert-watch.ts`),
 * so a renewal is served within a minute of the kubelet swapping the mounted files; renewal
 * still comes a third of the lifetime early, so a collector that cannot read the new set (it
 * keeps the last good one) has weeks to be fixed before the old one expires.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { createBackoff } from '../lib/backoff.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { parseTrustBundle } from '../lib/tls/trust-bundle.ts';
import { MANAGED_BY } from './trust-bundle-publisher.ts';

export const COLLECTOR_TLS_SECRET = 'meshtap-collector-tls';
export const COLLECTOR_SERVICE = 'meshtap-collector';
export const COLLECTOR_NAMESPACE = 'meshtap-system';
const DAY_MS = 86_400_000;
/** The issued certificate's lifetime. */
export const COLLECTOR_CERT_VALIDITY_DAYS = 90;
/** Re-issued once less than this is left. */
export const COLLECTOR_CERT_RENEW_BEFORE_MS = 30 * DAY_MS;

/** The three Secret calls used; `read` answers undefined for 404. Errors carry `code` (HTTP status). */
export interface SecretApi {
  read(namespace: string, name: string): Promise<V1Secret | undefined>;
  create(namespace: string, body: V1Secret): Promise<void>;
  replace(namespace: string, name: string, body: V1Secret): Promise<void>;
}

function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export function createKubeSecretApi(kc: KubeConfig): SecretApi {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async read(namespace, name) {
      try {
        return await core.readNamespacedSecret({ namespace, name });
      } catch (err) {
        if (httpStatus(err) === 404) return undefined;
        throw err;
      }
    },
    async create(namespace, body) {
      await core.createNamespacedSecret({ namespace, body });
    },
    async replace(namespace, name, body) {
      await core.replaceNamespacedSecret({ namespace, name, body });
    },
  };
}

/** The names a client may use for the Service, from the short form to the fully qualified one. */
export function collectorDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export type SecretVerdict =
  | { ok: true; notAfterMs: number }
  | { ok: false; reason: 'missing' | 'corrupt' | 'wrong-ca' | 'wrong-names' | 'expiring'; detail: string };

const decode = (v: string | undefined): string | undefined => (v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8'));

/**
 * Whether `secret` holds a usable serving certificate for `dnsNames`, issued by a root of
 * `trustBundle`, with `ca.crt` equal to `trustBundle`, and valid for more than
 * `renewBeforeMs` after `nowMs`. Pure.
 */
export function checkCollectorSecret(
  secret: V1Secret | undefined,
  expected: { trustBundle: string; dnsNames: readonly string[]; nowMs: number; renewBeforeMs: number },
): SecretVerdict {
  if (!secret) return { ok: false, reason: 'missing', detail: 'no Secret' };
  const certPem = decode(secret.data?.['tls.crt']);
  const keyPem = decode(secret.data?.['tls.key']);
  const caPem = decode(secret.data?.['ca.crt']);
  if (!certPem || !keyPem || !caPem) return { ok: false, reason: 'corrupt', detail: 'tls.crt, tls.key or ca.crt is missing' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return { ok: false, reason: 'corrupt', detail: 'tls.key does not match tls.crt' };
  } catch (err) {
    return { ok: false, reason: 'corrupt', detail: `cannot parse: ${(err as Error).message}` };
  }
  if (caPem !== expected.trustBundle) return { ok: false, reason: 'wrong-ca', detail: 'ca.crt is not the current trust bundle' };
  let roots: string[];
  try {
    roots = parseTrustBundle(expected.trustBundle);
  } catch {
    roots = [];
  }
  const issued = roots.some((pem) => {
    try {
      const root = new X509Certificate(pem);
      return cert.checkIssued(root) && cert.verify(root.publicKey);
    } catch {
      return false;
    }
  });
  if (!issued) return { ok: false, reason: 'wrong-ca', detail: 'tls.crt was not issued by this CA' };
  const sans = new Set((cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)));
  const missing = expected.dnsNames.filter((n) => !sans.has(n));
  if (missing.length > 0) return { ok: false, reason: 'wrong-names', detail: `tls.crt does not name ${missing.join(', ')}` };
  const notAfterMs = Date.parse(cert.validTo);
  if (notAfterMs - expected.nowMs <= expected.renewBeforeMs) return { ok: false, reason: 'expiring', detail: `tls.crt expires ${new Date(notAfterMs).toISOString()}` };
  return { ok: true, notAfterMs };
}

/** The Secret to write for `bundle`: a new object, or `existing` with its three keys replaced (other keys, labels and its type kept). */
export function collectorSecretBody(namespace: string, name: string, bundle: CertBundle, existing: V1Secret | undefined): V1Secret {
  const data = {
    'tls.crt': Buffer.from(bundle.cert).toString('base64'),
    'tls.key': Buffer.from(bundle.key).toString('base64'),
    'ca.crt': Buffer.from(bundle.ca).toString('base64'),
  };
  if (!existing) {
    return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace, labels: { ...MANAGED_BY } }, data };
  }
  return { ...existing, apiVersion: 'v1', kind: 'Secret', data: { ...(existing.data ?? {}), ...data } };
}

export type CollectorCertOutcome = 'created' | 'renewed' | 'repaired' | 'unchanged';

export interface CollectorCertPublisherOptions {
  readonly api: SecretApi;
  readonly namespace: string;
  readonly secretName: string;
  readonly service: string;
  /** The mesh trust bundle (`ca.crt`); the current one is read before each check. */
  readonly trustBundle: () => string;
  /** Issues a serving certificate for `dnsNames` from the CA (`issueWebhookCert` in the controller). */
  readonly issue: (dnsNames: readonly string[]) => CertBundle;
  readonly log?: Logger;
  readonly now?: () => number;
  /** The Secret is checked again this often. Default 1 min. */
  readonly checkEveryMs?: number;
  readonly renewBeforeMs?: number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  readonly random?: () => number;
}

export interface CollectorCertPublisher {
  start(): void;
  stop(): Promise<void>;
  /** Checks now (and writes if needed); resolves with the outcome. Throws what the API threw. */
  check(): Promise<CollectorCertOutcome>;
  /** The outcome of the last successful check. */
  last(): CollectorCertOutcome | undefined;
}

export function createCollectorCertPublisher(options: CollectorCertPublisherOptions): CollectorCertPublisher {
  const { api, namespace, secretName } = options;
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const checkEveryMs = options.checkEveryMs ?? 60_000;
  const renewBeforeMs = options.renewBeforeMs ?? COLLECTOR_CERT_RENEW_BEFORE_MS;
  const dnsNames = collectorDnsNames(options.service, namespace);
  const backoff = createBackoff({ baseMs: options.retryInitialMs ?? 1000, capMs: options.retryMaxMs ?? 60_000, random: options.random ?? Math.random });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  let lastOutcome: CollectorCertOutcome | undefined;

  const ensure = async (): Promise<CollectorCertOutcome> => {
    for (let attempt = 1; ; attempt++) {
      const existing = await api.read(namespace, secretName);
      const verdict = checkCollectorSecret(existing, { trustBundle: options.trustBundle(), dnsNames, nowMs: now(), renewBeforeMs });
      if (verdict.ok) return 'unchanged';
      const body = collectorSecretBody(namespace, secretName, options.issue(dnsNames), existing);
      try {
        if (!existing) await api.create(namespace, body);
        else await api.replace(namespace, secretName, body);
        const outcome = !existing ? 'created' : verdict.reason === 'expiring' ? 'renewed' : 'repaired';
        log.info({ event: 'collector-cert-published', namespace, secret: secretName, outcome, reason: verdict.reason, detail: verdict.detail }, `collector serving certificate ${outcome} in Secret ${namespace}/${secretName}`);
        return outcome;
      } catch (err) {
        // 409: created or changed meanwhile (another replica): read again, it may be good now.
        if (httpStatus(err) !== 409 || attempt >= 3) throw err;
      }
    }
  };

  const schedule = (ms: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void run(), ms);
    timer.unref?.();
  };

  const check = (): Promise<CollectorCertOutcome> => {
    const p = (running ?? Promise.resolve()).then(ensure);
    running = p.catch(() => undefined);
    return p.then((outcome) => {
      lastOutcome = outcome;
      return outcome;
    });
  };

  async function run(): Promise<void> {
    if (stopped) return;
    try {
      await check();
      backoff.reset();
      schedule(checkEveryMs);
    } catch (err) {
      const wait = Math.max(backoff.next(), 50);
      log.warn({ event: 'collector-cert-publish-failed', namespace, secret: secretName, status: httpStatus(err), error: (err as Error).message, retryInMs: wait }, `cannot publish the collector serving certificate in ${namespace}`);
      schedule(wait);
    }
  }

  return {
    start() {
      void run();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    check,
    last: () => lastOutcome,
  };
}
