/**
 * The pure membership builder: what the controller knows about pods and services (from the
 * cluster's informers or the lab's file) → the content of a `MembershipSnapshot`. Sorted and
 * deduplicated, so that two builds of the same state compare equal and an unrelated
 * inventory event (a node heartbeat, a pod becoming Ready) does not publish a new version.
 */
import { spiffeIdFor } from '../../certs/spiffe-id.ts';
import type { MembershipSnapshotMessage, MeshServiceMessage, MeshedWorkloadMessage, ServicePortMessage } from '../../record/membership-proto.ts';

/** The injector's record of what it injected; its presence means the pod has a sidecar. */
export const STATUS_ANNOTATION = 'meshtap.io/status';

export interface MembershipPodInput {
  readonly name: string;
  readonly namespace: string;
  readonly ips: readonly string[];
  /** Kubernetes fills in `default` when a pod names none; so does the builder. */
  readonly serviceAccount?: string;
  /** `Pending` and `Running` pods may be meshed (`isMeshedPod`); undefined counts as Running (the lab's file has no phases). */
  readonly phase?: string;
  /** The pod carries `meshtap.io/status`. */
  readonly injected: boolean;
  /** Its sidecar runs in strict mTLS mode. */
  readonly strict?: boolean;
  readonly hostNetwork?: boolean;
}

export interface MembershipServicePortInput {
  readonly port: number;
  /** A number, a named container port, or absent (= `port`). */
  readonly targetPort?: number | string;
  readonly protocol?: string;
  readonly name?: string;
}

export interface MembershipEndpointInput {
  readonly ip: string;
  readonly port: number;
  /** The service port's name this backend port serves (EndpointSlices say it); absent when unknown. */
  readonly portName?: string;
}

export interface MembershipServiceInput {
  readonly name: string;
  readonly namespace: string;
  /** Cluster IPs; none for headless and ExternalName services. */
  readonly vips: readonly string[];
  readonly ports: readonly MembershipServicePortInput[];
  readonly endpoints: readonly MembershipEndpointInput[];
}

export interface MembershipInput {
  readonly pods: readonly MembershipPodInput[];
  readonly services: readonly MembershipServiceInput[];
}

export type MembershipContent = Omit<MembershipSnapshotMessage, 'version' | 'generated_unix_ms'>;

export interface MembershipSkip {
  readonly pod: string;
  readonly reason: string;
}

export interface MembershipBuild {
  readonly content: MembershipContent;
  /** Injected pods left out because their names cannot form an identity (never expected from a real API server). */
  readonly skipped: readonly MembershipSkip[];
}

const byKey = <T>(key: (v: T) => string) => (a: T, b: T) => {
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/** Phases of a pod that holds its IP: from its sandbox's creation until its containers end. */
const LIVE_PHASES: ReadonlySet<string> = new Set(['Pending', 'Running']);

/**
 * An injected pod is meshed from the moment it has an IP, not from when its sidecar is ready.
 * Its init container redirects every inbound connection to the sidecar before any other
 * container starts, so until the sidecar listens a connection to it is refused whether the
 * caller speaks mTLS or not, and a caller that reaches the sidecar before it has a certificate
 * falls back to plaintext (the peer ends the handshake before its ServerHello). Waiting for the
 * pod to run instead left a window after its sidecar was ready (the app starts at once) in which
 * callers still dialled it in plaintext, and a connection opened then (a pool's) stayed
 * plaintext for its life, each call two records that never join.
 */
export function isMeshedPod(pod: MembershipPodInput): boolean {
  return pod.injected && !pod.hostNetwork && (pod.phase === undefined || LIVE_PHASES.has(pod.phase)) && pod.ips.some((ip) => ip !== '');
}

/** A service port's backend port: numeric target, else what the endpoints of that port name say when they agree, else 0 (unknown). */
function resolveTargetPort(port: MembershipServicePortInput, endpoints: readonly MembershipEndpointInput[]): number {
  const target = port.targetPort;
  if (target === undefined || target === '') return port.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const named = new Set(endpoints.filter((e) => e.portName !== undefined && e.portName === (port.name ?? '')).map((e) => e.port));
  return named.size === 1 ? [...named][0] : 0;
}

export function buildMembership(input: MembershipInput, options: { trustDomain: string }): MembershipBuild {
  const skipped: MembershipSkip[] = [];
  const workloads = new Map<string, MeshedWorkloadMessage>();
  for (const pod of input.pods) {
    if (!isMeshedPod(pod)) continue;
    const serviceAccount = pod.serviceAccount || 'default';
    let identity: string;
    try {
      identity = spiffeIdFor({ trustDomain: options.trustDomain, namespace: pod.namespace, serviceAccount });
    } catch (err) {
      skipped.push({ pod: `${pod.namespace}/${pod.name}`, reason: (err as Error).message });
      continue;
    }
    for (const ip of new Set(pod.ips)) {
      if (ip === '') continue;
      const entry = { ip, namespace: pod.namespace, pod: pod.name, service_account: serviceAccount, identity, ...(pod.strict === true ? { strict: true } : {}) };
      // Two live pods never share an IP; if the input says so anyway, keep one deterministically.
      const held = workloads.get(ip);
      if (!held || `${entry.namespace}/${entry.pod}` < `${held.namespace}/${held.pod}`) workloads.set(ip, entry);
    }
  }

  const services: MeshServiceMessage[] = [];
  for (const svc of input.services) {
    if (svc.vips.length === 0) continue;
    const ports: ServicePortMessage[] = svc.ports
      .map((p) => ({ port: p.port, target_port: resolveTargetPort(p, svc.endpoints), protocol: (p.protocol ?? 'TCP').toUpperCase(), name: p.name ?? '' }))
      .sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
    const seen = new Set<string>();
    const endpoints = svc.endpoints
      .filter((e) => {
        const key = `${e.ip}|${e.port}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .map((e) => ({ ip: e.ip, port: e.port }))
      .sort(byKey((e) => `${e.ip}|${String(e.port).padStart(5, '0')}`));
    for (const vip of new Set(svc.vips)) {
      if (vip === '' || vip === 'None') continue;
      services.push({ namespace: svc.namespace, name: svc.name, vip, ports, endpoints });
    }
  }

  return {
    content: {
      trust_domain: options.trustDomain,
      workloads: [...workloads.values()].sort(byKey((w) => w.ip)),
      services: services.sort(byKey((s) => `${s.namespace}/${s.name}/${s.vip}`)),
    },
    skipped,
  };
}
