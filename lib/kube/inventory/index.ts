/**
 * The inventory's pure, time-aware index. Kubernetes objects go in (with the time they were
 * observed, from the caller's clock), lookups come out. No IO, no clock of its own: the
 * informers, the lab and the tests all feed it the same way.
 *
 * Pods and service VIPs are indexed by IP with validity intervals (see `ip-history.ts`):
 * a pod's IP is valid from the pod's start until it was seen deleted, finished or re-addressed,
 * and deleted pods stay as tombstones for `historyRetentionMs` so that records still in flight
 * resolve to the pod that sent them. Everything else (services' selectors, EndpointSlices,
 * ReplicaSets, Jobs, nodes, namespaces) is current state.
 */
import { IpHistory } from './ip-history.ts';
import type {
  InventoryLookup,
  InventoryResource,
  InventoryStats,
  NodeInfo,
  PodInfo,
  ServiceInfo,
  ServiceMatch,
  ServiceWorkload,
  EndpointSliceInfo,
  LiveInventoryObjects,
} from './inventory.ts';

export type { EndpointSliceInfo, LiveInventoryObjects } from './inventory.ts';
import {
  SERVICE_NAME_LABEL,
  STATUS_ANNOTATION,
  timestampNs,
  type KubeEndpointSlice,
  type KubeNode,
  type KubeObject,
  type KubePod,
  type KubeService,
  type OwnerReference,
} from './kube-objects.ts';
import { resolveWorkload } from './workload.ts';
import { captureExclusions } from './capture-exclusions.ts';
import { injectedStrict, minBig, nameKeyOf, podIps, selects, targetPortNumber, toServiceInfo } from './object-views.ts';

export interface InventoryIndexOptions {
  /** How long deleted pods/services and closed IP intervals are kept. */
  readonly historyRetentionMs?: number;
  /** How far outside every known interval a lookup may still match the nearest one (clock skew, second-precision timestamps). */
  readonly lookupGraceMs?: number;
  /** Closed intervals kept per address at most. */
  readonly maxIntervalsPerAddress?: number;
}

export const DEFAULT_HISTORY_RETENTION_MS = 15 * 60_000;
export const DEFAULT_LOOKUP_GRACE_MS = 5_000;

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

interface PodEntry {
  readonly uid: string;
  readonly nameKey: string;
  pod: KubePod;
  /** Start of the pod's life as far as IPs go: its start time, else when first seen. */
  from: bigint;
  /** IPs whose interval for this pod is open. */
  openIps: string[];
  deletedAt?: bigint;
  info?: PodInfo;
  infoGen: number;
  services?: { gen: number; names: string[] };
}

interface ServiceEntry {
  readonly uid: string;
  readonly nameKey: string;
  info: ServiceInfo;
  openVips: string[];
  deletedAt?: bigint;
}

interface SliceEntry {
  readonly namespace: string;
  readonly service?: string;
  readonly addresses: readonly string[];
  readonly ports: readonly { name?: string; port: number; protocol: string }[];
}

export class InventoryIndex implements InventoryLookup {
  readonly #retentionNs: bigint;
  readonly #graceNs: bigint;
  readonly #pruneEveryNs: bigint;
  #lastPrune: bigint | undefined;

  readonly #pods = new Map<string, PodEntry>();
  /** ns/name → uid of the live pod of that name. */
  readonly #livePodByName = new Map<string, string>();
  /** ns/name → uids of deleted pods of that name still kept. */
  readonly #deadPodsByName = new Map<string, string[]>();
  readonly #podIps: IpHistory<string>;

  readonly #services = new Map<string, ServiceEntry>();
  readonly #liveServiceByName = new Map<string, string>();
  readonly #liveServicesByNamespace = new Map<string, Set<string>>();
  readonly #vips: IpHistory<string>;

  readonly #slices = new Map<string, SliceEntry>();
  readonly #slicesByIp = new Map<string, Set<string>>();
  /** Slice keys by `ns/service` (`serviceWorkload` reads a service's slices without scanning all). */
  readonly #slicesByService = new Map<string, Set<string>>();

  /** `ReplicaSet/ns/name` and `Job/ns/name` → their owner references. */
  readonly #owners = new Map<string, readonly OwnerReference[]>();
  #replicaSets = 0;
  #jobs = 0;

  readonly #nodes = new Map<string, NodeInfo>();
  readonly #nodeByIp = new Map<string, string>();
  readonly #namespaces = new Map<string, Readonly<Record<string, string>>>();

  /** Bumped when owners change (cached workloads go stale). */
  #ownersGen = 0;
  /** Bumped by every `apply`/`remove`: lets a reader poll for "anything changed?". */
  #changes = 0;
  /** Bumped when services or EndpointSlices change (cached service memberships go stale). */
  #servicesGen = 0;
  /** `serviceWorkload` answers by `ns/service`, each valid until the inventory changes (`#changes`). */
  readonly #serviceWorkloads = new Map<string, { changes: number; answer: ServiceWorkload | undefined }>();

  constructor(options: InventoryIndexOptions = {}) {
    this.#retentionNs = BigInt(options.historyRetentionMs ?? DEFAULT_HISTORY_RETENTION_MS) * NS_PER_MS;
    this.#graceNs = BigInt(options.lookupGraceMs ?? DEFAULT_LOOKUP_GRACE_MS) * NS_PER_MS;
    const quarter = this.#retentionNs / 4n;
    this.#pruneEveryNs = quarter < 60n * NS_PER_S ? quarter : 60n * NS_PER_S;
    const historyOptions = { maxPerAddress: options.maxIntervalsPerAddress };
    this.#podIps = new IpHistory<string>(historyOptions);
    this.#vips = new IpHistory<string>(historyOptions);
  }

  // ---- feeding -------------------------------------------------------------------------

  /** An object was added or modified. `now` is when it was observed (ns epoch). */
  apply(resource: InventoryResource, obj: KubeObject, now: bigint): void {
    switch (resource) {
      case 'pods':
        this.applyPod(obj as KubePod, now);
        break;
      case 'services':
        this.applyService(obj as KubeService, now);
        break;
      case 'endpointslices':
        this.applyEndpointSlice(obj as KubeEndpointSlice);
        break;
      case 'replicasets':
        this.#applyOwner('ReplicaSet', obj);
        break;
      case 'jobs':
        this.#applyOwner('Job', obj);
        break;
      case 'nodes':
        this.applyNode(obj as KubeNode);
        break;
      case 'namespaces':
        this.applyNamespace(obj);
        break;
    }
    this.#changes++;
    this.#maybePrune(now);
  }

  /** An object was deleted (or vanished from a relist). */
  remove(resource: InventoryResource, obj: KubeObject, now: bigint): void {
    switch (resource) {
      case 'pods':
        this.deletePod(obj as KubePod, now);
        break;
      case 'services':
        this.deleteService(obj as KubeService, now);
        break;
      case 'endpointslices':
        this.deleteEndpointSlice(obj as KubeEndpointSlice);
        break;
      case 'replicasets':
        this.#deleteOwner('ReplicaSet', obj);
        break;
      case 'jobs':
        this.#deleteOwner('Job', obj);
        break;
      case 'nodes':
        this.deleteNode(obj as KubeNode);
        break;
      case 'namespaces':
        this.deleteNamespace(obj);
        break;
    }
    this.#changes++;
    this.#maybePrune(now);
  }

  applyPod(pod: KubePod, now: bigint): void {
    const nameKey = nameKeyOf(pod);
    if (!nameKey) return;
    const uid = pod.metadata?.uid || nameKey;
    // Another pod of the same name was replaced while we were not watching (seen on relists).
    const previous = this.#livePodByName.get(nameKey);
    if (previous !== undefined && previous !== uid) this.#killPod(previous, now);

    let entry = this.#pods.get(uid);
    const isNew = !entry || entry.deletedAt !== undefined;
    const started = timestampNs(pod.status?.startTime) ?? timestampNs(pod.metadata?.creationTimestamp);
    if (!entry || entry.deletedAt !== undefined) {
      if (entry) this.#forgetDeadName(entry);
      entry = { uid, nameKey, pod, from: minBig(started ?? now, now), openIps: [], infoGen: -1 };
      this.#pods.set(uid, entry);
    } else {
      entry.pod = pod;
      entry.info = undefined;
      entry.services = undefined;
    }
    this.#livePodByName.set(nameKey, uid);

    const ips = podIps(pod);
    if (TERMINAL_PHASES.has(pod.status?.phase ?? '')) {
      // A finished pod has released its IP (the API keeps showing it). Seen finished from the
      // start: record the past holding only when its end is known.
      if (isNew) {
        const finished = this.#finishedAt(pod);
        if (finished !== undefined) for (const ip of ips) this.#podIps.insertClosed(ip, uid, entry.from, minBig(finished, now));
      }
      for (const ip of entry.openIps) this.#podIps.close(ip, uid, now);
      entry.openIps = [];
      return;
    }
    const hadIps = entry.openIps.length > 0;
    for (const ip of entry.openIps) if (!ips.includes(ip)) this.#podIps.close(ip, uid, now);
    for (const ip of ips) if (!entry.openIps.includes(ip)) this.#podIps.open(ip, uid, hadIps ? now : entry.from, now);
    entry.openIps = ips;
  }

  deletePod(pod: KubePod, now: bigint): void {
    const nameKey = nameKeyOf(pod);
    const uid = pod.metadata?.uid || (nameKey !== undefined ? this.#livePodByName.get(nameKey) : undefined) || nameKey;
    if (uid !== undefined) this.#killPod(uid, now);
  }

  applyService(svc: KubeService, now: bigint): void {
    const nameKey = nameKeyOf(svc);
    if (!nameKey) return;
    const uid = svc.metadata?.uid || nameKey;
    const previous = this.#liveServiceByName.get(nameKey);
    if (previous !== undefined && previous !== uid) this.#killService(previous, now);

    const info = toServiceInfo(svc);
    let entry = this.#services.get(uid);
    if (!entry || entry.deletedAt !== undefined) {
      entry = { uid, nameKey, info, openVips: [] };
      this.#services.set(uid, entry);
    } else {
      entry.info = info;
    }
    this.#liveServiceByName.set(nameKey, uid);
    let inNamespace = this.#liveServicesByNamespace.get(info.namespace);
    if (!inNamespace) this.#liveServicesByNamespace.set(info.namespace, (inNamespace = new Set()));
    inNamespace.add(uid);

    const created = timestampNs(svc.metadata?.creationTimestamp);
    const from = entry.openVips.length > 0 ? now : minBig(created ?? now, now);
    const vips = [...info.clusterIPs];
    for (const ip of entry.openVips) if (!vips.includes(ip)) this.#vips.close(ip, uid, now);
    for (const ip of vips) if (!entry.openVips.includes(ip)) this.#vips.open(ip, uid, from, now);
    entry.openVips = vips;
    this.#servicesGen++;
  }

  deleteService(svc: KubeService, now: bigint): void {
    const nameKey = nameKeyOf(svc);
    const uid = svc.metadata?.uid || (nameKey !== undefined ? this.#liveServiceByName.get(nameKey) : undefined) || nameKey;
    if (uid !== undefined) this.#killService(uid, now);
  }

  applyEndpointSlice(slice: KubeEndpointSlice): void {
    const key = nameKeyOf(slice);
    if (!key) return;
    this.deleteEndpointSlice(slice);
    const addresses = new Set<string>();
    for (const endpoint of slice.endpoints ?? []) for (const address of endpoint.addresses ?? []) addresses.add(address);
    const entry: SliceEntry = {
      namespace: slice.metadata?.namespace ?? '',
      service: slice.metadata?.labels?.[SERVICE_NAME_LABEL],
      addresses: [...addresses],
      ports: (slice.ports ?? []).filter((p) => typeof p.port === 'number').map((p) => ({ name: p.name || undefined, port: p.port as number, protocol: p.protocol ?? 'TCP' })),
    };
    this.#slices.set(key, entry);
    for (const ip of entry.addresses) {
      let keys = this.#slicesByIp.get(ip);
      if (!keys) this.#slicesByIp.set(ip, (keys = new Set()));
      keys.add(key);
    }
    if (entry.service !== undefined) {
      const serviceKey = `${entry.namespace}/${entry.service}`;
      let keys = this.#slicesByService.get(serviceKey);
      if (!keys) this.#slicesByService.set(serviceKey, (keys = new Set()));
      keys.add(key);
    }
    this.#servicesGen++;
  }

  deleteEndpointSlice(slice: KubeEndpointSlice): void {
    const key = nameKeyOf(slice);
    const entry = key !== undefined ? this.#slices.get(key) : undefined;
    if (!key || !entry) return;
    for (const ip of entry.addresses) {
      const keys = this.#slicesByIp.get(ip);
      keys?.delete(key);
      if (keys?.size === 0) this.#slicesByIp.delete(ip);
    }
    if (entry.service !== undefined) {
      const serviceKey = `${entry.namespace}/${entry.service}`;
      const keys = this.#slicesByService.get(serviceKey);
      keys?.delete(key);
      if (keys?.size === 0) this.#slicesByService.delete(serviceKey);
    }
    this.#slices.delete(key);
    this.#servicesGen++;
  }

  applyNode(node: KubeNode): void {
    const name = node.metadata?.name;
    if (!name) return;
    this.deleteNode(node);
    const addresses = (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address);
    this.#nodes.set(name, { name, addresses, labels: { ...(node.metadata?.labels ?? {}) } });
    for (const ip of addresses) this.#nodeByIp.set(ip, name);
  }

  deleteNode(node: KubeNode): void {
    const name = node.metadata?.name;
    const known = name !== undefined ? this.#nodes.get(name) : undefined;
    if (!known) return;
    for (const ip of known.addresses) if (this.#nodeByIp.get(ip) === known.name) this.#nodeByIp.delete(ip);
    this.#nodes.delete(known.name);
  }

  applyNamespace(ns: KubeObject): void {
    const name = ns.metadata?.name;
    if (name) this.#namespaces.set(name, { ...(ns.metadata?.labels ?? {}) });
  }

  deleteNamespace(ns: KubeObject): void {
    const name = ns.metadata?.name;
    if (name) this.#namespaces.delete(name);
  }

  /** Forget history older than the retention. Also done on the way by `apply`/`remove`. */
  prune(now: bigint): void {
    this.#lastPrune = now;
    const cutoff = now - this.#retentionNs;
    this.#podIps.prune(cutoff);
    this.#vips.prune(cutoff);
    for (const [uid, entry] of this.#pods) {
      if (entry.deletedAt === undefined || entry.deletedAt >= cutoff) continue;
      this.#pods.delete(uid);
      this.#forgetDeadName(entry);
    }
    for (const [uid, entry] of this.#services) {
      if (entry.deletedAt !== undefined && entry.deletedAt < cutoff) this.#services.delete(uid);
    }
  }

  // ---- lookups -------------------------------------------------------------------------

  lookupIp(ip: string, at: bigint): PodInfo | undefined {
    const uid = this.#podIps.lookup(ip, at, this.#graceNs);
    const entry = uid !== undefined ? this.#pods.get(uid) : undefined;
    return entry ? this.#podInfo(entry) : undefined;
  }

  lookupPod(namespace: string, name: string, at: bigint): PodInfo | undefined {
    const nameKey = `${namespace}/${name}`;
    const live = this.#livePodByName.get(nameKey);
    const candidates = [...(live !== undefined ? [live] : []), ...(this.#deadPodsByName.get(nameKey) ?? []).toReversed()];
    let fallback: PodEntry | undefined;
    for (const uid of candidates) {
      const entry = this.#pods.get(uid);
      if (!entry) continue;
      fallback ??= entry;
      if (at >= entry.from - this.#graceNs && (entry.deletedAt === undefined || at < entry.deletedAt + this.#graceNs)) return this.#podInfo(entry);
    }
    return fallback ? this.#podInfo(fallback) : undefined;
  }

  lookupService(ip: string, port: number, at: bigint): ServiceMatch | undefined {
    const vipOwner = this.#vips.lookup(ip, at, this.#graceNs);
    const vipEntry = vipOwner !== undefined ? this.#services.get(vipOwner) : undefined;
    if (vipEntry) {
      const matched = vipEntry.info.ports.find((p) => p.port === port && p.protocol === 'TCP');
      return matched ? { service: vipEntry.info, via: 'cluster-ip', port: matched } : { service: vipEntry.info, via: 'cluster-ip' };
    }

    // A backend address: EndpointSlices say which service sends to which ip:port.
    const sliceKeys = [...(this.#slicesByIp.get(ip) ?? [])].sort();
    for (const key of sliceKeys) {
      const slice = this.#slices.get(key);
      if (!slice?.service) continue;
      const slicePort = slice.ports.find((p) => p.port === port && p.protocol === 'TCP');
      if (!slicePort) continue;
      const service = this.#liveService(slice.namespace, slice.service) ?? { name: slice.service, namespace: slice.namespace, type: 'ClusterIP', clusterIPs: [], ports: [] };
      const servicePort = service.ports.find((p) => (p.name ?? '') === (slicePort.name ?? '') && p.protocol === slicePort.protocol);
      return servicePort ? { service, via: 'endpoint', port: servicePort } : { service, via: 'endpoint' };
    }

    // No slice lists it (yet): a selector that picks the pod and forwards to this port.
    const pod = this.lookupIp(ip, at);
    if (!pod) return undefined;
    const entry = this.#pods.get(pod.uid);
    for (const service of this.#selectingServices(pod)) {
      const servicePort = service.ports.find((p) => p.protocol === 'TCP' && targetPortNumber(p, entry?.pod) === port);
      if (servicePort) return { service, via: 'endpoint', port: servicePort };
    }
    return undefined;
  }

  lookupNode(ip: string): NodeInfo | undefined {
    const name = this.#nodeByIp.get(ip);
    return name !== undefined ? this.#nodes.get(name) : undefined;
  }

  /** The live pods of a workload. Linear in the pods: for API answers, not per record. */
  workloadPods(namespace: string, workload: string): PodInfo[] {
    return this.liveObjects().pods.filter((p) => p.namespace === namespace && p.workload === workload);
  }

  /**
   * The one workload behind a service, from the pods its EndpointSlices list (as of `at`, the
   * first time it is asked after a change). Cached until the inventory changes, so a busy
   * collector reads that service's slices (`#slicesByService`) once per service and change, not once per record.
   */
  serviceWorkload(namespace: string, service: string, at: bigint): ServiceWorkload | undefined {
    const key = `${namespace}/${service}`;
    const cached = this.#serviceWorkloads.get(key);
    if (cached !== undefined && cached.changes === this.#changes) return cached.answer;
    const answer = this.#soleWorkload(namespace, service, at);
    // Bounded: services come and go; a full cache starts over.
    if (this.#serviceWorkloads.size >= 10_000) this.#serviceWorkloads.clear();
    this.#serviceWorkloads.set(key, { changes: this.#changes, answer });
    return answer;
  }

  #soleWorkload(namespace: string, service: string, at: bigint): ServiceWorkload | undefined {
    let workload: string | undefined;
    let workloadKind: string | undefined;
    let serviceAccount: string | undefined;
    let oneAccount = true;
    for (const sliceKey of this.#slicesByService.get(`${namespace}/${service}`) ?? []) {
      const slice = this.#slices.get(sliceKey);
      if (slice === undefined) continue;
      for (const ip of slice.addresses) {
        const pod = this.lookupIp(ip, at);
        if (pod === undefined || pod.namespace !== namespace) continue;
        if (workload === undefined) {
          workload = pod.workload;
          workloadKind = pod.workloadKind;
          serviceAccount = pod.serviceAccount;
        } else if (pod.workload !== workload || pod.workloadKind !== workloadKind) {
          return undefined;
        }
        if (pod.serviceAccount !== serviceAccount) oneAccount = false;
      }
    }
    if (workload === undefined || workloadKind === undefined) return undefined;
    return oneAccount && serviceAccount !== undefined ? { workload, workloadKind, serviceAccount } : { workload, workloadKind };
  }

  servicesForPod(pod: PodInfo): string[] {
    const entry = this.#pods.get(pod.uid);
    if (entry?.services && entry.services.gen === this.#servicesGen) return [...entry.services.names];
    const names = new Set<string>();
    for (const service of this.#selectingServices(pod)) names.add(service.name);
    // A deleted pod's IPs may already back someone else's endpoints.
    if (!pod.deleted) {
      for (const ip of pod.ips) {
        for (const key of this.#slicesByIp.get(ip) ?? []) {
          const slice = this.#slices.get(key);
          if (slice?.service && slice.namespace === pod.namespace) names.add(slice.service);
        }
      }
    }
    const sorted = [...names].sort();
    if (entry) entry.services = { gen: this.#servicesGen, names: sorted };
    return [...sorted];
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.#namespaces.get(namespace);
  }

  stats(): InventoryStats {
    let tombstones = 0;
    for (const entry of this.#pods.values()) if (entry.deletedAt !== undefined) tombstones++;
    for (const entry of this.#services.values()) if (entry.deletedAt !== undefined) tombstones++;
    return {
      objects: this.counts(),
      addresses: this.#podIps.size + this.#vips.size,
      tombstones,
    };
  }

  /** How many objects went in or out so far; changes whenever any answer may have changed. */
  get changeCount(): number {
    return this.#changes;
  }

  /**
   * Read-only view of current state (no history): live pods, live services, EndpointSlices and
   * namespace labels. For consumers that need the whole picture rather than lookups, such as
   * the controller's membership feed and trust-bundle publisher.
   */
  liveObjects(): LiveInventoryObjects {
    const pods: PodInfo[] = [];
    for (const uid of this.#livePodByName.values()) {
      const entry = this.#pods.get(uid);
      if (entry) pods.push(this.#podInfo(entry));
    }
    const services: ServiceInfo[] = [];
    for (const uid of this.#liveServiceByName.values()) {
      const entry = this.#services.get(uid);
      if (entry) services.push(entry.info);
    }
    const endpointSlices: EndpointSliceInfo[] = [...this.#slices.values()].map((e) => ({ namespace: e.namespace, service: e.service, addresses: e.addresses, ports: e.ports }));
    const namespaces = [...this.#namespaces].map(([name, labels]) => ({ name, labels }));
    return { pods, services, endpointSlices, namespaces };
  }

  /** Live objects by resource (cheap: no history scan). */
  counts(): Record<InventoryResource, number> {
    return {
      pods: this.#livePodByName.size,
      services: this.#liveServiceByName.size,
      endpointslices: this.#slices.size,
      replicasets: this.#replicaSets,
      jobs: this.#jobs,
      nodes: this.#nodes.size,
      namespaces: this.#namespaces.size,
    };
  }

  // ---- internals -----------------------------------------------------------------------

  #maybePrune(now: bigint): void {
    if (this.#lastPrune === undefined) this.#lastPrune = now;
    else if (now - this.#lastPrune >= this.#pruneEveryNs) this.prune(now);
  }

  #finishedAt(pod: KubePod): bigint | undefined {
    let latest: bigint | undefined;
    for (const c of pod.status?.containerStatuses ?? []) {
      const t = timestampNs(c.state?.terminated?.finishedAt);
      if (t !== undefined && (latest === undefined || t > latest)) latest = t;
    }
    // Second precision: the container may have run until the end of that second.
    return latest !== undefined ? latest + NS_PER_S : undefined;
  }

  #killPod(uid: string, now: bigint): void {
    const entry = this.#pods.get(uid);
    if (!entry || entry.deletedAt !== undefined) return;
    for (const ip of entry.openIps) this.#podIps.close(ip, uid, now);
    entry.openIps = [];
    entry.deletedAt = now;
    entry.info = undefined;
    entry.services = undefined;
    if (this.#livePodByName.get(entry.nameKey) === uid) this.#livePodByName.delete(entry.nameKey);
    const dead = this.#deadPodsByName.get(entry.nameKey) ?? [];
    dead.push(uid);
    this.#deadPodsByName.set(entry.nameKey, dead);
  }

  #forgetDeadName(entry: PodEntry): void {
    const dead = this.#deadPodsByName.get(entry.nameKey);
    if (!dead) return;
    const rest = dead.filter((u) => u !== entry.uid);
    if (rest.length > 0) this.#deadPodsByName.set(entry.nameKey, rest);
    else this.#deadPodsByName.delete(entry.nameKey);
  }

  #killService(uid: string, now: bigint): void {
    const entry = this.#services.get(uid);
    if (!entry || entry.deletedAt !== undefined) return;
    for (const ip of entry.openVips) this.#vips.close(ip, uid, now);
    entry.openVips = [];
    entry.deletedAt = now;
    if (this.#liveServiceByName.get(entry.nameKey) === uid) this.#liveServiceByName.delete(entry.nameKey);
    const inNamespace = this.#liveServicesByNamespace.get(entry.info.namespace);
    inNamespace?.delete(uid);
    if (inNamespace?.size === 0) this.#liveServicesByNamespace.delete(entry.info.namespace);
    this.#servicesGen++;
  }

  #liveService(namespace: string, name: string): ServiceInfo | undefined {
    const uid = this.#liveServiceByName.get(`${namespace}/${name}`);
    return uid !== undefined ? this.#services.get(uid)?.info : undefined;
  }

  #selectingServices(pod: PodInfo): ServiceInfo[] {
    const found: ServiceInfo[] = [];
    for (const uid of this.#liveServicesByNamespace.get(pod.namespace) ?? []) {
      const info = this.#services.get(uid)?.info;
      if (info && selects(info.selector, pod.labels)) found.push(info);
    }
    return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  #applyOwner(kind: 'ReplicaSet' | 'Job', obj: KubeObject): void {
    const nameKey = nameKeyOf(obj);
    if (!nameKey) return;
    const key = `${kind}/${nameKey}`;
    if (!this.#owners.has(key)) {
      if (kind === 'ReplicaSet') this.#replicaSets++;
      else this.#jobs++;
    }
    this.#owners.set(key, obj.metadata?.ownerReferences ?? []);
    this.#ownersGen++;
  }

  #deleteOwner(kind: 'ReplicaSet' | 'Job', obj: KubeObject): void {
    const nameKey = nameKeyOf(obj);
    if (!nameKey || !this.#owners.delete(`${kind}/${nameKey}`)) return;
    if (kind === 'ReplicaSet') this.#replicaSets--;
    else this.#jobs--;
    this.#ownersGen++;
  }

  #podInfo(entry: PodEntry): PodInfo {
    if (entry.info && entry.infoGen === this.#ownersGen) return entry.info;
    const pod = entry.pod;
    const meta = pod.metadata ?? {};
    const workload = resolveWorkload(pod, (kind, namespace, name) => this.#owners.get(`${kind}/${namespace}/${name}`));
    const info: { -readonly [K in keyof PodInfo]: PodInfo[K] } = {
      uid: entry.uid,
      name: meta.name ?? '',
      namespace: meta.namespace ?? '',
      ips: podIps(pod),
      hostNetwork: pod.spec?.hostNetwork === true,
      labels: { ...(meta.labels ?? {}) },
      workload: workload.name,
      workloadKind: workload.kind,
      deleted: entry.deletedAt !== undefined,
    };
    if (pod.spec?.nodeName) info.node = pod.spec.nodeName;
    if (pod.spec?.serviceAccountName) info.serviceAccount = pod.spec.serviceAccountName;
    if (pod.status?.phase) info.phase = pod.status.phase;
    const status = meta.annotations?.[STATUS_ANNOTATION];
    if (status !== undefined) {
      info.injected = true;
      if (injectedStrict(status)) info.strictMtls = true;
      info.captureExclusions = captureExclusions(meta.annotations);
    }
    entry.info = Object.freeze(info);
    entry.infoGen = this.#ownersGen;
    return entry.info;
  }
}

export function createInventoryIndex(options: InventoryIndexOptions = {}): InventoryIndex {
  return new InventoryIndex(options);
}
