/**
 * What the lab knows about its cluster at one moment, as the input of the two inventory files
 * it keeps for the processes that would watch an API server in a real cluster: the
 * controller's membership file (`membership-file.ts`) and the collector's Kubernetes `List`
 * (`inventory-list.ts`). Both builders are pure functions of this value.
 */
import type { Pod } from './scenario.ts';

export interface LabInventoryNamespace {
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

export interface LabInventoryServicePort {
  name?: string;
  port: number;
  targetPort: number | string;
  /** Resolved per selected pod (pods that do not declare a named target port are left out). */
  endpoints: ReadonlyArray<{ pod: string; ip: string; port: number }>;
}

export interface LabInventoryService {
  name: string;
  namespace: string;
  clusterIP: string;
  selector: Readonly<Record<string, string>>;
  ports: readonly LabInventoryServicePort[];
}

export interface LabInventoryPod {
  /** The admitted pod (after the webhook's patch): metadata, spec with `nodeName` and `serviceAccountName`. */
  pod: Pod;
  ip: string;
  /** `Pending` from admission until its containers start (init containers done), then `Running`. */
  phase: 'Pending' | 'Running';
  /** When the lab created the pod (RFC 3339): `creationTimestamp` and `status.startTime`. */
  startTime: string;
  /** Every container passed its probes. */
  ready: boolean;
  /** The webhook injected a sidecar and it is ready, so peers may talk mTLS to it. */
  meshed: boolean;
  /** The Deployment and ReplicaSet the pod belongs to, when it came from a Deployment. */
  owner?: { deployment: string; replicaSet: string };
}

export interface LabInventory {
  /** The lab's own node: the machine, whose bridge address is every pod's gateway. */
  node: { name: string; ip: string; podCIDR: string };
  /**
   * Further node names pods are placed on (`spec.nodeName` in the scenario), sorted. The machine
   * is one, so these nodes have a name and no address or pod range of their own: they exist so
   * that workloads can sit on distinct nodes and calls between them show as cross-node.
   */
  otherNodes?: readonly string[];
  namespaces: readonly LabInventoryNamespace[];
  services: readonly LabInventoryService[];
  /** Pods that exist (admitted), in creation order. */
  pods: readonly LabInventoryPod[];
}

/** The endpoints of a service port that are pods of the inventory (not yet created ones are left out). */
export function presentEndpoints(port: LabInventoryServicePort, namespace: string, pods: readonly LabInventoryPod[]): Array<{ pod: LabInventoryPod; port: number }> {
  return port.endpoints.flatMap((e) => {
    const pod = pods.find((p) => p.pod.metadata.namespace === namespace && p.pod.metadata.name === e.pod && p.ip === e.ip);
    return pod ? [{ pod, port: e.port }] : [];
  });
}

/** Node names the pods use other than `primary`, sorted (a pod without `spec.nodeName` is on `primary`). */
export function otherNodeNames(pods: readonly LabInventoryPod[], primary: string): string[] {
  const names = new Set<string>();
  for (const p of pods) {
    const name = p.pod.spec.nodeName;
    if (name !== undefined && name !== '' && name !== primary) names.add(name);
  }
  return [...names].sort();
}
