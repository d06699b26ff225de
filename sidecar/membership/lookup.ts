/**
 * The pure half of the membership client: a snapshot from the controller becomes a table
 * answering "is ip:port meshed, and whose certificate must the peer present?" in O(1), and a
 * freshness rule decides whether the table may be trusted at all.
 *
 * Fail-open: every doubt answers "not meshed", and the proxy then passes the connection
 * through in plaintext (the server sidecar accepts plaintext from unmeshed clients). Wrongly
 * answering "meshed" would break the connection (an mTLS handshake to a peer without a
 * sidecar); wrongly answering "not meshed" only costs encryption. Hence:
 *
 * - no snapshot yet, or a feed disconnected for longer than the staleness limit → not meshed;
 * - a pod IP is meshed when the snapshot lists it as a meshed workload;
 * - a service VIP:port is meshed only when it has endpoints for that port and every one of
 *   them is a meshed workload; the answer carries the identities of all of them, since the
 *   proxy dials the VIP and only learns on the wire which endpoint it reached;
 * - anything else (unknown IP, unknown port, no endpoints, some endpoints unmeshed) → not meshed.
 */
import type { MembershipSnapshotMessage, MeshServiceMessage, MeshedWorkloadMessage } from '../../record/membership-proto.ts';

export type NotMeshedReason =
  /** No snapshot received yet. */
  | 'no-snapshot'
  /** Disconnected from the controller for longer than the staleness limit. */
  | 'stale'
  /** Neither a meshed pod's IP nor a service VIP. */
  | 'not-meshed'
  /** A service VIP, but not one of its TCP ports. */
  | 'service-port-unknown'
  /** A service port without endpoints. */
  | 'service-no-endpoints'
  /** Some (or all) of the port's endpoints are not meshed pods. */
  | 'service-not-meshed';

export type MembershipLookup =
  | {
      readonly meshed: true;
      readonly via: 'pod';
      /** The identity the peer's certificate must carry. */
      readonly identity: string;
      /** `[identity]`, so callers can treat pods and services alike. */
      readonly identities: readonly string[];
      readonly endpointIp: string;
      readonly namespace: string;
      readonly pod: string;
      /** The peer's sidecar is in strict mTLS mode: no plaintext fallback towards it. */
      readonly strict: boolean;
    }
  | {
      readonly meshed: true;
      readonly via: 'service';
      /** Present when every endpoint has the same identity (the usual case: one service account). */
      readonly identity?: string;
      /** Sorted, distinct, never empty: the peer's certificate must carry one of them. */
      readonly identities: readonly string[];
      readonly namespace: string;
      readonly service: string;
      /** Some endpoint's sidecar is in strict mTLS mode: no plaintext fallback towards the service. */
      readonly strict: boolean;
    }
  | { readonly meshed: false; readonly reason: NotMeshedReason };

export interface MembershipTable {
  readonly version: number;
  readonly trustDomain: string;
  readonly workloads: number;
  readonly services: number;
  lookup(ip: string, port: number): MembershipLookup;
}

const NOT_MESHED = Object.freeze({ meshed: false, reason: 'not-meshed' }) as MembershipLookup;
const notMeshed = (reason: NotMeshedReason): MembershipLookup => Object.freeze({ meshed: false, reason });

/** `::ffff:10.0.0.1` (an IPv4 address seen through a dual-stack socket) → `10.0.0.1`. */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

function isTcp(protocol: string): boolean {
  return protocol === '' || protocol.toUpperCase() === 'TCP';
}

function servicePortAnswers(service: MeshServiceMessage, pods: ReadonlyMap<string, MeshedWorkloadMessage>): Map<number, MembershipLookup> {
  const answers = new Map<number, MembershipLookup>();
  for (const port of service.ports) {
    if (!isTcp(port.protocol) || answers.has(port.port)) continue;
    const endpoints = port.target_port ? service.endpoints.filter((e) => e.port === port.target_port) : service.endpoints;
    const ips = [...new Set(endpoints.map((e) => normalizeIp(e.ip)))];
    if (ips.length === 0) {
      answers.set(port.port, notMeshed('service-no-endpoints'));
      continue;
    }
    const identities = new Set<string>();
    let all = true;
    let strict = false;
    for (const ip of ips) {
      const pod = pods.get(ip);
      if (!pod) {
        all = false;
        break;
      }
      identities.add(pod.identity);
      strict ||= pod.strict === true;
    }
    if (!all) {
      answers.set(port.port, notMeshed('service-not-meshed'));
      continue;
    }
    const sorted = Object.freeze([...identities].sort());
    answers.set(
      port.port,
      Object.freeze({
        meshed: true as const,
        via: 'service' as const,
        ...(sorted.length === 1 ? { identity: sorted[0] } : {}),
        identities: sorted,
        namespace: service.namespace,
        service: service.name,
        strict,
      }),
    );
  }
  return answers;
}

/** Indexes a snapshot; every answer is computed here, so `lookup` allocates nothing. */
export function buildMembershipTable(snapshot: MembershipSnapshotMessage): MembershipTable {
  const pods = new Map<string, MeshedWorkloadMessage>();
  const podAnswers = new Map<string, MembershipLookup>();
  for (const w of snapshot.workloads ?? []) {
    const ip = normalizeIp(w.ip);
    if (!ip || !w.identity || pods.has(ip)) continue;
    pods.set(ip, w);
    podAnswers.set(
      ip,
      Object.freeze({ meshed: true as const, via: 'pod' as const, identity: w.identity, identities: Object.freeze([w.identity]), endpointIp: ip, namespace: w.namespace, pod: w.pod, strict: w.strict === true }),
    );
  }
  const vips = new Map<string, Map<number, MembershipLookup>>();
  for (const s of snapshot.services ?? []) {
    const vip = normalizeIp(s.vip);
    if (!vip || vips.has(vip)) continue;
    vips.set(vip, servicePortAnswers(s, pods));
  }
  const portUnknown = notMeshed('service-port-unknown');
  return Object.freeze({
    version: Number(snapshot.version) || 0,
    trustDomain: snapshot.trust_domain,
    workloads: pods.size,
    services: vips.size,
    lookup(ip: string, port: number): MembershipLookup {
      const key = normalizeIp(ip);
      const pod = podAnswers.get(key);
      if (pod) return pod;
      const ports = vips.get(key);
      if (ports) return ports.get(port) ?? portUnknown;
      return NOT_MESHED;
    },
  });
}

export interface FeedState {
  /** The latest snapshot's table; undefined before the first one. */
  readonly table: MembershipTable | undefined;
  /** A stream to the controller is open now. */
  readonly connected: boolean;
  /** When the feed was last known good (connected, or a snapshot received), ms on the caller's clock. */
  readonly lastGoodAt: number | undefined;
}

/** The table may be used: connected, or disconnected for no longer than `staleAfterMs`. */
export function feedUsable(state: FeedState, now: number, staleAfterMs: number): boolean {
  if (!state.table) return false;
  if (state.connected) return true;
  return state.lastGoodAt !== undefined && now - state.lastGoodAt <= staleAfterMs;
}

/** `table.lookup` behind the freshness rule: the answer a proxy acts on. */
export function resolveMembership(state: FeedState, ip: string, port: number, now: number, staleAfterMs: number): MembershipLookup {
  if (!state.table) return notMeshed('no-snapshot');
  if (!feedUsable(state, now, staleAfterMs)) return notMeshed('stale');
  return state.table.lookup(ip, port);
}
