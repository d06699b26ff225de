/**
 * The few fields of Kubernetes objects the inventory reads, and trimming of full objects down
 * to them. Informers keep their own copy of every object; trimming (managedFields, annotations,
 * container specs, conditions…) keeps that copy small. Timestamps arrive as strings from watch
 * events and as `Date`s from the typed list calls; trimming turns both into RFC 3339 strings.
 */
import { EXCLUSION_ANNOTATIONS } from './capture-exclusions.ts';
import type { InventoryResource } from './inventory.ts';

export type Timestamp = string | Date;

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  /** Trimmed to `KEPT_ANNOTATIONS`. */
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  creationTimestamp?: Timestamp;
  deletionTimestamp?: Timestamp;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface KubePod extends KubeObject {
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    serviceAccountName?: string;
    containers?: { name?: string; ports?: ContainerPort[] }[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    startTime?: Timestamp;
    containerStatuses?: { state?: { terminated?: { finishedAt?: Timestamp } } }[];
  };
}

export interface KubeServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}

export interface KubeService extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    selector?: Record<string, string>;
    ports?: KubeServicePort[];
  };
}

export interface KubeEndpoint {
  addresses: string[];
  nodeName?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

export interface KubeEndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: KubeEndpoint[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

export interface KubeNode extends KubeObject {
  status?: { addresses?: { type: string; address: string }[] };
}

/** ReplicaSets, Jobs, Namespaces: only their metadata matters. */
export type KubeMetaObject = KubeObject;

/**
 * The only annotations kept: `meshtap.io/status` marks a pod the webhook injected (the
 * controller's membership feed needs to know which pods run a sidecar), and the
 * `meshtap.io/exclude-*` ones say what the pod keeps out of capture (the collector's coverage).
 */
export const STATUS_ANNOTATION = 'meshtap.io/status';
export const KEPT_ANNOTATIONS: readonly string[] = [STATUS_ANNOTATION, ...EXCLUSION_ANNOTATIONS];

/** The label EndpointSlices carry naming their service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const NS_PER_MS = 1_000_000n;

/** RFC 3339 (or Date) → ns epoch; undefined when absent or unparseable. */
export function timestampNs(value: Timestamp | undefined): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? BigInt(ms) * NS_PER_MS : undefined;
}

function iso(value: Timestamp | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return value instanceof Date ? value.toISOString() : value;
}

function defined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

function keptAnnotations(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let kept: Record<string, string> | undefined;
  for (const key of KEPT_ANNOTATIONS) if (typeof annotations[key] === 'string') (kept ??= {})[key] = annotations[key];
  return kept;
}

function trimMeta(meta: ObjectMeta | undefined): ObjectMeta {
  if (!meta) return {};
  return defined({
    name: meta.name,
    namespace: meta.namespace,
    uid: meta.uid,
    resourceVersion: meta.resourceVersion,
    labels: meta.labels,
    annotations: keptAnnotations(meta.annotations),
    ownerReferences: meta.ownerReferences?.map((o) => defined({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: o.controller })),
    creationTimestamp: iso(meta.creationTimestamp),
    deletionTimestamp: iso(meta.deletionTimestamp),
  });
}

function trimPod(pod: KubePod): KubePod {
  const spec = pod.spec;
  const status = pod.status;
  return {
    metadata: trimMeta(pod.metadata),
    spec: spec
      ? defined({
          nodeName: spec.nodeName,
          hostNetwork: spec.hostNetwork,
          serviceAccountName: spec.serviceAccountName,
          containers: spec.containers?.map((c) => defined({ name: c.name, ports: c.ports?.map((p) => defined({ name: p.name, containerPort: p.containerPort, protocol: p.protocol })) })),
        })
      : undefined,
    status: status
      ? defined({
          phase: status.phase,
          podIP: status.podIP,
          podIPs: status.podIPs?.map((p) => ({ ip: p.ip })),
          startTime: iso(status.startTime),
          containerStatuses: status.containerStatuses?.map((c) => {
            const finishedAt = iso(c.state?.terminated?.finishedAt);
            return finishedAt !== undefined ? { state: { terminated: { finishedAt } } } : {};
          }),
        })
      : undefined,
  };
}

function trimService(svc: KubeService): KubeService {
  const spec = svc.spec;
  return {
    metadata: trimMeta(svc.metadata),
    spec: spec
      ? defined({
          type: spec.type,
          clusterIP: spec.clusterIP,
          clusterIPs: spec.clusterIPs,
          selector: spec.selector,
          ports: spec.ports?.map((p) => defined({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
        })
      : undefined,
  };
}

function trimEndpointSlice(slice: KubeEndpointSlice): KubeEndpointSlice {
  return defined({
    metadata: trimMeta(slice.metadata),
    addressType: slice.addressType,
    endpoints: slice.endpoints?.map((e) =>
      defined({
        addresses: e.addresses ?? [],
        nodeName: e.nodeName,
        targetRef: e.targetRef ? defined({ kind: e.targetRef.kind, name: e.targetRef.name, namespace: e.targetRef.namespace, uid: e.targetRef.uid }) : undefined,
      }),
    ),
    ports: slice.ports?.map((p) => defined({ name: p.name, port: p.port, protocol: p.protocol })),
  });
}

function trimNode(node: KubeNode): KubeNode {
  return defined({
    metadata: trimMeta(node.metadata),
    status: node.status ? { addresses: node.status.addresses?.map((a) => ({ type: a.type, address: a.address })) ?? [] } : undefined,
  });
}

/** A plain, minimal copy of `obj` holding only what the inventory reads. */
export function trimObject(resource: InventoryResource, obj: KubeObject): KubeObject {
  switch (resource) {
    case 'pods':
      return trimPod(obj as KubePod);
    case 'services':
      return trimService(obj as KubeService);
    case 'endpointslices':
      return trimEndpointSlice(obj as KubeEndpointSlice);
    case 'nodes':
      return trimNode(obj as KubeNode);
    case 'replicasets':
    case 'jobs':
    case 'namespaces':
      return { metadata: trimMeta(obj.metadata) };
  }
}
