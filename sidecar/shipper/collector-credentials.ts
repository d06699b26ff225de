/**
 * How the shipper authenticates to the collector (`MESHTAP_COLLECTOR_TLS`):
 *
 * - `off`: plaintext, as before sidecars had certificates.
 * - `on`: mTLS only. Without a current workload certificate a connection attempt fails (the
 *   shipper backs off and retries; records wait, then are dropped as `collector_unavailable`).
 * - `auto` (default): mTLS while a workload certificate is in hand, plaintext otherwise (no CA,
 *   CA not answered yet, certificate expired). A collector serving mTLS refuses the plaintext
 *   attempts, so records are counted dropped until the certificate arrives; a plaintext
 *   collector refuses the mTLS ones, so `auto` needs a collector started with `--tls-cert-dir`
 *   wherever sidecars get certificates (or `off` in the sidecars).
 *
 * The provider is called for every connection attempt: after a rotation the next stream
 * presents the new certificate, while an open stream keeps the one it was opened with.
 */
import { isIP } from 'node:net';
import type { GrpcTlsOptions } from '../../lib/grpc-client/connection.ts';
import type { CollectorTlsMode } from '../config.ts';
import type { CurrentIdentity } from '../identity/workload-identity.ts';

/** What the shipper presents to the collector: the workload certificate as PEM. */
export type CollectorIdentity = Pick<CurrentIdentity, 'spiffeId' | 'serialNumber' | 'keyPem' | 'certPem' | 'trustBundlePem'>;

/** `none`: mode `on` without a certificate, so no connection is attempted. */
export interface CollectorTransport {
  transport: 'plaintext' | 'mtls' | 'none';
  spiffeId?: string;
  serial?: string;
}

export interface CollectorCredentialsOptions {
  mode: CollectorTlsMode;
  /** `host:port` of the collector. */
  collectorAddr: string;
  /** The name the collector's certificate is checked for when the address is an IP. */
  serverName: string;
  /** The current workload identity (undefined before the first certificate and once expired). */
  identity: () => CollectorIdentity | undefined;
  /**
   * `auto` only: awaited before the first connection attempt, so a sidecar whose certificate
   * arrives during start ships over mTLS from its first stream (`waitForFirst` with the CA
   * timeout). Records queue meanwhile; `offer` never waits.
   */
  firstIdentity?: () => Promise<unknown>;
  /** Told when the transport changes (plaintext ↔ mTLS, or a new certificate). */
  onChange?: (transport: CollectorTransport) => void;
}

export interface CollectorCredentials {
  /** The TLS options of the next connection attempt; undefined for plaintext. */
  credentials: () => Promise<GrpcTlsOptions | undefined>;
  /** The name the collector's certificate is checked for, when not the address's host (an IP address). */
  serverNameOverride: string | undefined;
}

/** The host of `host:port` (brackets of an IPv6 address removed). */
function hostOf(addr: string): string {
  const host = addr.slice(0, addr.lastIndexOf(':'));
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

export function createCollectorCredentials(options: CollectorCredentialsOptions): CollectorCredentials {
  // An IP address is no name a certificate can be checked against: check the service's name.
  const serverNameOverride = options.mode !== 'off' && isIP(hostOf(options.collectorAddr)) !== 0 ? options.serverName : undefined;
  let cached: { serial: string; credentials: GrpcTlsOptions } | undefined;
  let last: string | undefined;
  let started = false;

  const report = (transport: CollectorTransport): void => {
    const key = `${transport.transport} ${transport.serial ?? ''}`;
    if (key === last) return;
    last = key;
    options.onChange?.(transport);
  };

  return {
    serverNameOverride,
    async credentials() {
      if (!started) {
        started = true;
        if (options.mode === 'auto' && options.firstIdentity) await options.firstIdentity();
      }
      if (options.mode === 'off') {
        report({ transport: 'plaintext' });
        return undefined;
      }
      const identity = options.identity();
      if (!identity) {
        if (options.mode === 'on') {
          report({ transport: 'none' });
          throw new Error('no workload certificate yet: not connecting to the collector in plaintext (MESHTAP_COLLECTOR_TLS=on)');
        }
        report({ transport: 'plaintext' });
        return undefined;
      }
      if (cached?.serial !== identity.serialNumber) {
        cached = {
          serial: identity.serialNumber,
          credentials: {
            ca: identity.trustBundlePem,
            key: identity.keyPem,
            cert: identity.certPem,
            ...(serverNameOverride === undefined ? {} : { servername: serverNameOverride }),
          },
        };
      }
      report({ transport: 'mtls', spiffeId: identity.spiffeId, serial: identity.serialNumber });
      return cached.credentials;
    },
  };
}
