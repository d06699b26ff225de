/**
 * The mTLS side of `meshtap sidecar` (the IO shell): the workload identity from the CA, the
 * membership client, and the proxy hooks built from them. Nothing here blocks the start:
 * the CA and the controller are retried in the background, and until they answer traffic
 * passes through in plaintext.
 */
import { readFile } from 'node:fs/promises';
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

/** undefined when mTLS is off or cannot work (no CA address, token or trust bundle: see the config warnings). */
export function startSidecarMtls(config: SidecarConfig, stats: SidecarStats, log: Logger): SidecarMtls | undefined {
  const m = config.mtls;
  if (m.mode === 'off' || m.caAddr === undefined || m.tokenFile === undefined || m.trustBundle === undefined) return undefined;
  const { caAddr, tokenFile, trustBundle } = m;
  const identity = createWorkloadIdentity({
    // The bundle and the token are read again for every request: both are rotated by others.
    request: async () =>
      requestWorkloadCertificate({ caAddr, tokenFile, trustBundlePem: await readFile(trustBundle, 'utf8'), validitySeconds: m.certTtlSeconds, timeoutMs: 5000 }),
    log,
  });
  let membership: MembershipClient | undefined;
  if (m.controllerAddr !== undefined) {
    try {
      membership = createMembershipClient({ controllerAddr: m.controllerAddr, trustBundlePem: readFileSync(trustBundle, 'utf8'), tokenFile, log });
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
