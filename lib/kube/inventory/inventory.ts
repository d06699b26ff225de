/**
 * What the collector knows about the cluster, as enrichment needs it. Every inventory (the
 * Kubernetes informers, the lab's file-based one) implements `Inventory`; enrichment only needs
 * the lookups (`InventoryLookup`), so it can be tested against a plain index.
 *
 * Times are nanoseconds since the Unix epoch (the record's clock). IP → pod answers are
 * historical: the pod that held the IP at `at`, not the one holding it now.
 */
import type { CaptureExclusions } from './capture-exclusions.ts';

export const INVENTORY_RESOURCES = ['pods', 'services', 'endpointslices', 'replicasets', 'jobs', 'nodes', 'namespaces'] as const;
export type InventoryResource = (typeof INVENTORY_RESOURCES)[number];

export interface PodInfo {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly node?: string;
  /** Every IP the pod has (dual-stack pods have two); empty before one is assigned. */
  readonly ips: readonly string[];
  readonly hostNetwork: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  /** The top of the controller owner chain: Deployment, StatefulSet, DaemonSet, CronJob, Job…; the pod itself (kind `Pod`) when unowned. */
  readonly workload: string;
  readonly workloadKind: string;
  readonly phase?: string;
  /** The pod carries `meshtap.io/status`: the webhook injected a sidecar. Absent when not (or unknown). */
  readonly injected?: true;
  /** The injected sidecar runs in strict mTLS mode (from `meshtap.io/status`). Absent otherwise. */
  readonly strictMtls?: true;
  /** Set once the pod was seen deleted (the answer came from history). */
  readonly deleted: boolean;
  /** What an injected pod keeps out of capture (its `meshtap.io/exclude-*` annotations); absent when not injected. */
  readonly captureExclusions?: CaptureExclusions;
}

export interface ServicePortInfo {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly protocol: string;
}

export interface ServiceInfo {
  readonly name: string;
  readonly namespace: string;
  readonly type: string;
  /** Empty for headless and ExternalName services. */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly ServicePortInfo[];
  /** Absent for services without a selector (endpoints managed by hand or by a controller). */
  readonly selector?: Readonly<Record<string, string>>;
}

/** A service found for an address: how it was found and which of its ports matched. */
export interface ServiceMatch {
  readonly service: ServiceInfo;
  /** `cluster-ip`: the address is the service's VIP; `endpoint`: the address is a backend of the service. */
  readonly via: 'cluster-ip' | 'endpoint';
  readonly port?: ServicePortInfo;
}

/** The workload behind a service (`InventoryLookup.serviceWorkload`). */
export interface ServiceWorkload {
  readonly workload: string;
  readonly workloadKind: string;
  /** Set when every pod behind the service runs as this service account. */
  readonly serviceAccount?: string;
}

export interface NodeInfo {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface ResourceState {
  /** The first list succeeded (the cache is complete, though possibly stale). */
  readonly synced: boolean;
  readonly restarts: number;
  /** When the last list or watch event (bookmarks included) arrived, ns epoch. */
  readonly lastEventAt?: bigint;
}

export interface InventoryStats {
  /** Live objects held, by resource. */
  readonly objects: Readonly<Record<InventoryResource, number>>;
  /** IP addresses with an ownership history (pods and service VIPs). */
  readonly addresses: number;
  /** Deleted pods and services kept so that late records still resolve. */
  readonly tombstones: number;
  /** Per-resource watch state; absent for inventories that do not watch anything. */
  readonly resources?: Readonly<Partial<Record<InventoryResource, ResourceState>>>;
}

/** The pure part: everything enrichment asks. Never throws. */
export interface InventoryLookup {
  /** The pod that held `ip` at `at` (hostNetwork pods are never returned: their IP is the node's). */
  lookupIp(ip: string, at: bigint): PodInfo | undefined;
  /** A pod by name; with several pods of that name over time (StatefulSets), the one alive at `at`. */
  lookupPod(namespace: string, name: string, at: bigint): PodInfo | undefined;
  /** The service behind `ip:port` at `at`: a ClusterIP, or a backend address listed in an EndpointSlice (or selected). */
  lookupService(ip: string, port: number, at: bigint): ServiceMatch | undefined;
  /** The node owning a node address (InternalIP/ExternalIP): kubelet probes and hostNetwork pods. */
  lookupNode(ip: string): NodeInfo | undefined;
  /** Names of the services a pod belongs to (selector match or EndpointSlice membership), sorted. */
  servicesForPod(pod: PodInfo): string[];
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** The live pods of a workload (optional: inventories that cannot list answer nothing). */
  workloadPods?(namespace: string, workload: string): PodInfo[];
  /**
   * The one workload a service sends to: every pod its EndpointSlices list belongs to it (and,
   * when they all run as one service account, that account). Undefined when the slices list no
   * known pod, or pods of several workloads (a canary beside the stable Deployment).
   */
  serviceWorkload(namespace: string, service: string, at: bigint): ServiceWorkload | undefined;
  stats(): InventoryStats;
}

export interface Inventory extends InventoryLookup {
  /** Resolves once every source made its first attempt; sources that failed keep retrying in the background. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** An EndpointSlice as the index keeps it: every address serves every port of the slice. */
export interface EndpointSliceInfo {
  readonly namespace: string;
  /** The service it belongs to (`kubernetes.io/service-name`). */
  readonly service?: string;
  readonly addresses: readonly string[];
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: string }[];
}

export interface LiveInventoryObjects {
  readonly pods: readonly PodInfo[];
  readonly services: readonly ServiceInfo[];
  readonly endpointSlices: readonly EndpointSliceInfo[];
  readonly namespaces: readonly { readonly name: string; readonly labels: Readonly<Record<string, string>> }[];
}
