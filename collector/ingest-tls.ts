/**
 * mTLS for the gRPC ingest port: the serving credentials from a TLS directory, and who is on
 * the other end of a stream.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { readTlsDir } from '../lib/tls/tls-dir.ts';
import { MeshtapError } from '../lib/errors.ts';
import { COL_ERR_TLS } from './errors.ts';
import { watchIngestCertificates, type CertWatchOptions, type WatchedCertificates } from './ingest-cert-watch.ts';

/**
 * TLS with a required client certificate that chains to `ca.crt` of `dir`: a sidecar without a
 * workload certificate, or with one from another CA, fails the handshake. `readTlsDir` checks
 * that the key matches the certificate and that `ca.crt` issued it, so a broken directory is
 * refused at start instead of at the first handshake.
 */
export interface IngestCredentials {
  credentials: grpc.ServerCredentials;
  /** The directory is re-read every `reloadIntervalMs`: a renewed certificate is served without a restart. */
  certificates: WatchedCertificates;
}

export async function loadIngestCredentials(
  dir: string,
  options: { reloadIntervalMs?: number; onReload?: CertWatchOptions['onReload'] } = {},
): Promise<IngestCredentials> {
  let bundle;
  try {
    bundle = await readTlsDir(dir);
  } catch (err) {
    throw new MeshtapError(COL_ERR_TLS, `--tls-cert-dir ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const certificates = watchIngestCertificates({ dir, initial: bundle, intervalMs: options.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS, onReload: options.onReload });
  return { credentials: grpc.experimental.createCertificateProviderServerCredentials(certificates, certificates, true), certificates };
}

/** How often the ingest certificate directory is re-read (a Secret volume updates within about a minute). */
export const DEFAULT_RELOAD_INTERVAL_MS = 30_000;

export interface StreamPeerIdentity {
  /** The client certificate's SPIFFE URI SAN, when it has exactly one. */
  spiffeId?: string;
  serial: string;
}

/** The verified client certificate of an mTLS stream; undefined on plaintext. */
export function streamPeerIdentity(cert: PeerCertificate | undefined): StreamPeerIdentity | undefined {
  if (!cert || !cert.serialNumber) return undefined;
  const uris = (cert.subjectaltname ?? '')
    .split(', ')
    .filter((san) => san.startsWith('URI:spiffe://'))
    .map((san) => san.slice('URI:'.length));
  return { serial: cert.serialNumber.toLowerCase(), ...(uris.length === 1 ? { spiffeId: uris[0] } : {}) };
}
