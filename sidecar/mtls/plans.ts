/**
 * What the proxy is told per connection by the mTLS layer (`policy.ts` builds these). Kept
 * separate so the proxy depends on shapes, not on the CA, the membership feed or the config.
 */
import type { SecureContext } from 'node:tls';
import type { OriginalDst } from '../original-dst.ts';
import type { InboundDecision } from './inbound-policy.ts';
import type { MeshTerminator } from './mesh-server.ts';

/** Outbound: wrap the upstream connection in mesh mTLS. */
export interface OutboundMeshPlan {
  readonly secureContext: SecureContext;
  readonly localIdentity: string;
  /** The peer's certificate must carry one of these SPIFFE ids. */
  readonly expectedIdentities: readonly string[];
  /** The peer's sidecar is in strict mode: a failed handshake never falls back to plaintext. */
  readonly peerStrict?: boolean;
}

/** Inbound: the listener's side of mTLS. */
export interface InboundMesh {
  decide(facts: { bytes: Uint8Array; serverFirst: boolean; srcIp: string; dst: OriginalDst }): InboundDecision;
  /**
   * Whether a client at `srcIp` opens with a mesh ClientHello (the membership feed lists it as
   * a meshed pod): its app may wait for a server-first protocol's greeting, its sidecar does not.
   */
  expectsHello(srcIp: string): boolean;
  /** What terminates mesh mTLS with the current certificate; undefined without one. */
  terminator(): MeshTerminator | undefined;
}

export interface MtlsHooks {
  /** undefined: plaintext passthrough. Counts its own outcome. */
  outbound(dst: OriginalDst): OutboundMeshPlan | undefined;
  inbound: InboundMesh;
  /** Counts an outcome (`direction` × `outcome`) and logs the notable ones. */
  count(direction: 'outbound' | 'inbound', outcome: string, fields?: Record<string, unknown>): void;
}
