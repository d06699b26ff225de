/**
 * The mTLS side of `meshtap sidecar` (the IO shell): the workload identity from the CA, the
 * membership client, and the proxy hooks built from them. Nothing here blocks the start:
 * the CA and the controller are retried in the background, and until they answer traffic
 * passes through in plaintext.
 */
import { readFileSync } from 'node:fs';
import { requestWorkloadCertificate } from '../../certs/ca-client.ts';
import type { SidecarConfig } from '../config.ts';
import { createMembershipClient, type MembershipClient } from '../membership/client.ts';
import type { SidecarStats } from '../metrics.ts';
import type { Logger } from '../../lib/log.ts';
import { createWorkloadIdentity, type WorkloadIdentity } from '../identity/workload-identity.ts';
import type { MtlsHooks } from './plans.ts';
import { createMtlsHooks } from './policy.ts';

export interface SidecarMtls {
  hooks: MtlsHooks;
  identity: WorkloadIdentity;
  membership: MembershipClient | undefined;
  close(): Promise<void>;
}

/**
 * The trust bundle's text, or an error naming the variable and the file: a path that is a
 * directory or holds no certificate was reported as "EISDIR" or "trustBundlePem: no PEM
 * certificate found", naming neither.
 */
export function readTrustBundle(path: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string {
  let text: string;
  try {
    text = read(path);
  } catch (err) {
    throw new Error(`MESHTAP_TRUST_BUNDLE ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`MESHTAP_TRUST_BUNDLE ${path} holds no PEM certificate`);
  return text;
}

/** undefined when mTLS is off or cannot work (no CA address, token or trust bundle: see the config warnings). */
export function startSidecarMtls(config: SidecarConfig, stats: SidecarStats, log: Logger): SidecarMtls | undefined {
  const m = config.mtls;
  if (m.mode === 'off' || m.caAddr === undefined || m.tokenFile === undefined || m.trustBundle === undefined) return undefined;
  const { caAddr, tokenFile, trustBundle } = m;
  const identity = createWorkloadIdentity({
    // The bundle and the token are read again for every request: both are rotated by others
    // (a few KiB, once per certificate or retry: read at once).
    request: async () =>
      requestWorkloadCertificate({ caAddr, tokenFile, trustBundlePem: readTrustBundle(trustBundle), validitySeconds: m.certTtlSeconds, timeoutMs: 5000 }),
    log,
  });
  let membership: MembershipClient | undefined;
  if (m.controllerAddr !== undefined) {
    try {
      membership = createMembershipClient({ controllerAddr: m.controllerAddr, trustBundlePem: readTrustBundle(trustBundle), tokenFile, log });
    } catch (err) {
      log.warn({ error: (err as Error).message }, 'mtls: no membership feed: outbound traffic stays plaintext');
    }
  }
  const client = membership;
  const hooks = createMtlsHooks({
    config: { mode: m.mode, probePorts: m.probePorts, probePaths: m.probePaths, hostIp: m.hostIp },
    identity: () => identity.current(),
    lookup: client ? (ip, port) => client.lookup(ip, port) : undefined,
    stats,
    log,
  });
  return {
    hooks,
    identity,
    membership,
    async close() {
      identity.close();
      await membership?.close();
    },
  };
}
