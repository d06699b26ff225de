/**
 * The proxy's mTLS hooks, from the workload identity, the membership feed and the mode.
 *
 * Outbound: mesh only with a current certificate and a destination the feed calls meshed;
 * everything else (no certificate yet, CA away past expiry, no or stale feed, unmeshed
 * destination) is plaintext passthrough, counted `plaintext_<reason>`. A meshed destination
 * whose sidecar has no certificate is retried in plaintext by the proxy, counted
 * `plaintext_fallback_no_peer_identity` and logged once per destination. Inbound: see
 * `inbound-policy.ts`.
 */
import type { Logger } from '../../lib/log.ts';
import type { OriginalDst } from '../original-dst.ts';
import type { SidecarStats } from '../metrics.ts';
import type { MembershipLookup } from '../membership/lookup.ts';
import type { CurrentIdentity } from '../identity/workload-identity.ts';
import { createMeshTerminator, type MeshTerminator } from './mesh-server.ts';
import { decideInbound, type InboundPolicyConfig } from './inbound-policy.ts';
import type { MtlsHooks, OutboundMeshPlan } from './plans.ts';

export interface MtlsPolicyOptions {
  config: InboundPolicyConfig;
  identity: () => CurrentIdentity | undefined;
  /** undefined: no membership feed configured, so nothing is known to be meshed. */
  lookup: ((ip: string, port: number) => MembershipLookup) | undefined;
  stats: SidecarStats;
  log: Pick<Logger, 'warn'>;
}

/** Outcomes worth a log line: a peer refused, or a connection refused. */
const LOGGED = new Set(['peer_rejected', 'handshake_failed', 'strict_plaintext_refused', 'mesh_without_identity']);

/** A meshed destination whose sidecar had no certificate: the call was retried in plaintext. */
const FALLBACK = 'plaintext_fallback_no_peer_identity';
/** Destinations remembered for logging the fallback once; beyond that, forgotten and logged again. */
const MAX_FALLBACK_LOGGED = 1024;

export function createMtlsHooks(options: MtlsPolicyOptions): MtlsHooks {
  const { stats } = options;
  let terminator: MeshTerminator | undefined;
  let terminatorFor: CurrentIdentity | undefined;
  const fallbackLogged = new Set<unknown>();
  const count: MtlsHooks['count'] = (direction, outcome, fields) => {
    const totals = stats.mtls[direction];
    totals[outcome] = (totals[outcome] ?? 0) + 1;
    if (LOGGED.has(outcome)) options.log.warn({ ...fields }, `mtls: ${direction} ${outcome.replace(/_/g, ' ')}`);
    if (outcome === FALLBACK && !fallbackLogged.has(fields?.dst)) {
      // Once per destination: its sidecar may stay without a certificate for a while.
      if (fallbackLogged.size >= MAX_FALLBACK_LOGGED) fallbackLogged.clear();
      fallbackLogged.add(fields?.dst);
      options.log.warn({ ...fields }, 'mtls: outbound meshed peer has no identity: plaintext fallback');
    }
  };
  return {
    outbound(dst: OriginalDst): OutboundMeshPlan | undefined {
      const identity = options.identity();
      if (!identity) {
        count('outbound', 'plaintext_no_identity');
        return undefined;
      }
      if (!options.lookup) {
        count('outbound', 'plaintext_no_membership');
        return undefined;
      }
      const answer = options.lookup(dst.ip, dst.port);
      if (!answer.meshed) {
        count('outbound', `plaintext_${answer.reason.replace(/-/g, '_')}`);
        return undefined;
      }
      return { secureContext: identity.secureContext, localIdentity: identity.spiffeId, expectedIdentities: answer.identities, ...(answer.strict ? { peerStrict: true } : {}) };
    },
    inbound: {
      decide: (facts) =>
        decideInbound(options.config, {
          bytes: facts.bytes,
          serverFirst: facts.serverFirst,
          hasIdentity: options.identity() !== undefined,
          srcIp: facts.srcIp.startsWith('::ffff:') ? facts.srcIp.slice(7) : facts.srcIp,
          dstPort: facts.dst.port,
        }),
      expectsHello: (srcIp) => {
        const answer = options.lookup?.(srcIp.startsWith('::ffff:') ? srcIp.slice(7) : srcIp, 0);
        return answer?.meshed === true && answer.via === 'pod';
      },
      terminator: () => {
        const current = options.identity();
        if (!current) return undefined;
        if (terminatorFor !== current) {
          terminator = createMeshTerminator(current);
          terminatorFor = current;
        }
        return terminator;
      },
    },
    count,
  };
}
