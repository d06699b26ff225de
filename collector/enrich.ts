/**
 * Names both ends of a call record from the inventory, as of the record's `start`.
 *
 * For each end, in order of trust:
 *  1. `identity` (SPIFFE, `spiffe://<td>/ns/<ns>/sa/<sa>`, authenticated by mTLS) decides the
 *     namespace. When the pod found by IP disagrees with it (namespace or service account),
 *     the IP answer is not used: the end keeps only what the identity says, and the
 *     disagreement is flagged in `labels` (see `IDENTITY_MISMATCH_LABEL`).
 *  2. A pod the sidecar reported for its own end (`pod` + `namespace` already set) is looked
 *     up by name: the sidecar knows where it runs, and its own address may be loopback.
 *  3. Otherwise the IP, historically: the pod that had the IP when the call started.
 * Then the service: the ClusterIP (a dst addressed to a service VIP) or the EndpointSlice that
 * lists the ip:port, else the first service the pod belongs to; for a VIP, the workload too when
 * every pod behind the service belongs to one (no pod: which replica answered is not known from
 * the caller's side); and the node, also for node addresses (kubelet probes, hostNetwork pods).
 *
 * Fields already present are kept (except a namespace the identity contradicts). Unknown
 * addresses stay unnamed. Never throws: an inventory failure leaves the end as it came.
 */
import type { InventoryLookup, PodInfo, ServiceInfo } from '../lib/kube/inventory/inventory.ts';
import type { CallRecord, Endpoint } from '../record/record.ts';

/** Pod labels copied onto an end by default: the ones that say what the workload is. */
export const DEFAULT_LABEL_KEYS: readonly string[] = Object.freeze([
  'app',
  'version',
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
]);

/**
 * Set on an end whose authenticated identity contradicts the pod its IP resolves to. The
 * value lists what disagrees, comma-separated: `namespace`, `service_account`.
 */
export const IDENTITY_MISMATCH_LABEL = 'meshtap.io/identity-mismatch';
/** With a mismatch: the pod (`<namespace>/<name>`) the IP resolved to, kept for investigation. */
export const IP_POD_LABEL = 'meshtap.io/ip-pod';

export interface EnrichOptions {
  readonly labelKeys?: readonly string[];
}

export interface SpiffeId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>` → its parts; undefined for anything else. */
export function parseSpiffeId(id: string | undefined): SpiffeId | undefined {
  if (!id) return undefined;
  const match = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id);
  if (!match) return undefined;
  return { trustDomain: match[1], namespace: match[2], serviceAccount: match[3] };
}

function pickLabels(labels: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const key of keys) if (labels[key] !== undefined) picked[key] = labels[key];
  return picked;
}

function findPod(endpoint: Endpoint, inventory: InventoryLookup, at: bigint): PodInfo | undefined {
  if (endpoint.pod) return endpoint.namespace ? inventory.lookupPod(endpoint.namespace, endpoint.pod, at) : undefined;
  return inventory.lookupIp(endpoint.ip, at);
}

/**
 * A call addressed to a service VIP: which pod answered is not known from this side, but when
 * every pod behind the service belongs to one workload, that workload did — so a filter or a
 * view by workload sees the caller's record too, not only the callee's. Not when the workload is
 * ambiguous, or the authenticated identity says another service account answered.
 */
function nameVipWorkload(out: Endpoint, service: ServiceInfo, identity: SpiffeId | undefined, inventory: InventoryLookup, at: bigint): void {
  if (out.workload !== undefined) return;
  const sole = inventory.serviceWorkload(service.namespace, service.name, at);
  if (sole === undefined) return;
  if (identity !== undefined && sole.serviceAccount !== undefined && sole.serviceAccount !== identity.serviceAccount) return;
  out.workload = sole.workload;
  out.workload_kind ??= sole.workloadKind;
}

export function enrichEndpoint(endpoint: Endpoint, inventory: InventoryLookup, at: bigint, options: EnrichOptions = {}): Endpoint {
  const out: Endpoint = { ...endpoint };
  const labels: Record<string, string> = { ...(endpoint.labels ?? {}) };
  try {
    const identity = parseSpiffeId(endpoint.identity);
    let pod = findPod(endpoint, inventory, at);

    if (identity) {
      const disagree: string[] = [];
      const claimedNamespace = pod?.namespace ?? endpoint.namespace;
      if (claimedNamespace !== undefined && claimedNamespace !== identity.namespace) disagree.push('namespace');
      if (pod?.serviceAccount !== undefined && pod.serviceAccount !== identity.serviceAccount) disagree.push('service_account');
      if (disagree.length > 0) {
        labels[IDENTITY_MISMATCH_LABEL] = disagree.join(',');
        if (pod) labels[IP_POD_LABEL] = `${pod.namespace}/${pod.name}`;
        pod = undefined;
      }
      out.namespace = identity.namespace;
    }

    if (pod) {
      out.pod ??= pod.name;
      out.namespace ??= pod.namespace;
      out.workload ??= pod.workload;
      out.workload_kind ??= pod.workloadKind;
      if (pod.node !== undefined) out.node ??= pod.node;
      for (const [key, value] of Object.entries(pickLabels(pod.labels, options.labelKeys ?? DEFAULT_LABEL_KEYS))) labels[key] ??= value;
    }

    if (out.service === undefined) {
      const match = inventory.lookupService(endpoint.ip, endpoint.port, at);
      if (match && (out.namespace === undefined || match.service.namespace === out.namespace || match.via === 'cluster-ip')) {
        out.service = match.service.name;
        if (match.via === 'cluster-ip' && identity && match.service.namespace !== identity.namespace && labels[IDENTITY_MISMATCH_LABEL] === undefined) {
          labels[IDENTITY_MISMATCH_LABEL] = 'namespace';
        }
        out.namespace ??= match.service.namespace;
        if (!pod && match.via === 'cluster-ip' && labels[IDENTITY_MISMATCH_LABEL] === undefined) nameVipWorkload(out, match.service, identity, inventory, at);
      } else if (pod) {
        const [first] = inventory.servicesForPod(pod);
        if (first !== undefined) out.service = first;
      }
    }

    if (!pod && out.node === undefined) {
      const node = inventory.lookupNode(endpoint.ip);
      if (node) out.node = node.name;
    }
  } catch {
    return endpoint;
  }
  if (Object.keys(labels).length > 0) out.labels = labels;
  return out;
}

/** The record with `src` and `dst` named; the input is not modified. */
export function enrichRecord(record: CallRecord, inventory: InventoryLookup, options: EnrichOptions = {}): CallRecord {
  try {
    const at = record.start;
    return { ...record, src: enrichEndpoint(record.src, inventory, at, options), dst: enrichEndpoint(record.dst, inventory, at, options) };
  } catch {
    return record;
  }
}
