/**
 * The ingest port's serving certificate, re-read while the collector runs.
 *
 * The controller renews Secret `meshtap-collector-tls` before it expires and the kubelet swaps
 * the mounted files; a collector that read them once would serve the old certificate until it
 * expired and every sidecar's handshake failed. This provider re-reads the directory every
 * `intervalMs`, hands grpc-js a new identity and trust bundle only when the files changed
 * and still form a valid set (key matches certificate, the bundle issued it), and keeps the
 * last good set otherwise (logged once per bad state). New handshakes get the new set;
 * established streams keep theirs.
 */
import { readFile } from 'node:fs/promises';
import type { experimental } from '@grpc/grpc-js';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { readTlsDir, tlsDirPaths } from '../lib/tls/tls-dir.ts';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface CertWatchOptions {
  dir: string;
  /** First set, already read and checked at start (a bad directory fails the start). */
  initial: CertBundle;
  intervalMs: number;
  /** A changed set was taken (`ok`) or refused (`error`, with why). */
  onReload?: (event: { ok: true } | { ok: false; error: string }) => void;
}

export interface WatchedCertificates extends CertificateProvider {
  /** Re-reads the directory now (the timer calls this too). */
  check(): Promise<void>;
  close(): void;
}

async function fingerprint(dir: string): Promise<string> {
  const p = tlsDirPaths(dir);
  const [cert, key, ca] = await Promise.all([readFile(p.cert, 'utf8'), readFile(p.key, 'utf8'), readFile(p.ca, 'utf8')]);
  return `${cert}\0${key}\0${ca}`;
}

export function watchIngestCertificates(options: CertWatchOptions): WatchedCertificates {
  let bundle = options.initial;
  let seen = `${bundle.cert}\0${bundle.key}\0${bundle.ca}`;
  let lastError: string | undefined;
  let checking: Promise<void> | undefined;
  const caListeners = new Set<CaListener>();
  const identityListeners = new Set<IdentityListener>();

  const caUpdate = () => ({ caCertificate: Buffer.from(bundle.ca) });
  const identityUpdate = () => ({ certificate: Buffer.from(bundle.cert), privateKey: Buffer.from(bundle.key) });

  const runCheck = async (): Promise<void> => {
    let print: string;
    try {
      print = await fingerprint(options.dir);
    } catch (err) {
      // Mid-swap or gone: keep serving what we have, look again next time.
      const error = (err as Error).message;
      if (error !== lastError) options.onReload?.({ ok: false, error });
      lastError = error;
      return;
    }
    if (print === seen) return;
    try {
      const next = await readTlsDir(options.dir);
      seen = print;
      lastError = undefined;
      bundle = next;
      for (const l of caListeners) l(caUpdate());
      for (const l of identityListeners) l(identityUpdate());
      options.onReload?.({ ok: true });
    } catch (err) {
      const error = (err as Error).message;
      if (error !== lastError) options.onReload?.({ ok: false, error });
      lastError = error;
    }
  };

  const check = (): Promise<void> => {
    checking ??= runCheck().finally(() => {
      checking = undefined;
    });
    return checking;
  };

  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();

  return {
    addCaCertificateListener(listener) {
      caListeners.add(listener);
      // Later, not now: grpc-js registers its own watcher only after adding this listener.
      queueMicrotask(() => caListeners.has(listener) && listener(caUpdate()));
    },
    removeCaCertificateListener(listener) {
      caListeners.delete(listener);
    },
    addIdentityCertificateListener(listener) {
      identityListeners.add(listener);
      queueMicrotask(() => identityListeners.has(listener) && listener(identityUpdate()));
    },
    removeIdentityCertificateListener(listener) {
      identityListeners.delete(listener);
    },
    check,
    close() {
      clearInterval(timer);
    },
  };
}
