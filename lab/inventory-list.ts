/**
 * The collector's view of the lab's cluster (`meshtap collector --inventory-file`): a
 * Kubernetes `List` of the objects an API server would hold for the scenario, built from the
 * lab's inventory (pure). The collector reads it with the same code as informer events, so the
 * objects are shaped as the API server returns them: Pods owned by ReplicaSets owned by
 * Deployments (names and `pod-template-hash` as the Deployment controller makes them),
 * Services with their ClusterIPs, EndpointSlices listing the pods that exist, labelled
 * Namespaces, the Node `lab`, whose InternalIP is the bridge address the kubelet-like probes
 * come from, and a Node for every other node name the pods are placed on (name only).
 */
import { presentEndpoints, type LabInventory, type LabInventoryPod, type LabInventoryService } from './lab-inventory.ts';
import { stableUid } from './scenario.ts';

export type KubeJson = Record<string, unknown>;

export interface KubeList {
  apiVersion: 'v1';
  kind: 'List';
  metadata: { resourceVersion: string };
  items: KubeJson[];
}

function namespaceObject(ns: LabInventory['namespaces'][number]): KubeJson {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: ns.name,
      uid: stableUid(`namespace/${ns.name}`),
      // The API server adds this label to every namespace.
      labels: { 'kubernetes.io/metadata.name': ns.name, ...ns.labels },
      ...(ns.annotations && Object.keys(ns.annotations).length > 0 ? { annotations: { ...ns.annotations } } : {}),
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

function nodeObject(node: LabInventory['node']): KubeJson {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      uid: stableUid(`node/${node.name}`),
      labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', 'node-role.kubernetes.io/control-plane': '' },
    },
    spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.ip },
        { type: 'Hostname', address: node.name },
      ],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

/** A node that is a name only (see `LabInventory.otherNodes`): no address, so no record is ever attributed to it by IP. */
function namedNodeObject(name: string): KubeJson {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: stableUid(`node/${name}`), labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } },
    spec: {},
    status: { addresses: [{ type: 'Hostname', address: name }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function podObject(p: LabInventoryPod, node: LabInventory['node']): KubeJson {
  const { metadata, spec } = p.pod;
  const ready = p.ready ? 'True' : 'False';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...structuredClone(metadata), creationTimestamp: p.startTime },
    spec: { ...structuredClone(spec), nodeName: spec.nodeName ?? node.name, serviceAccountName: spec.serviceAccountName ?? 'default' },
    status: {
      phase: p.phase,
      hostIP: node.ip,
      hostIPs: [{ ip: node.ip }],
      podIP: p.ip,
      podIPs: [{ ip: p.ip }],
      startTime: p.startTime,
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Initialized', status: p.phase === 'Running' ? 'True' : 'False' },
        { type: 'ContainersReady', status: ready },
        { type: 'Ready', status: ready },
      ],
    },
  };
}

/** One ReplicaSet per distinct owner of the pods, owned by its Deployment. */
function replicaSetObjects(pods: readonly LabInventoryPod[]): KubeJson[] {
  const sets = new Map<string, { first: LabInventoryPod; pods: LabInventoryPod[] }>();
  for (const p of pods) {
    if (!p.owner) continue;
    const key = `${p.pod.metadata.namespace}/${p.owner.replicaSet}`;
    const entry = sets.get(key);
    if (entry) entry.pods.push(p);
    else sets.set(key, { first: p, pods: [p] });
  }
  return [...sets.values()].map(({ first, pods: members }) => {
    const { namespace } = first.pod.metadata;
    const owner = first.owner!;
    const podRef = first.pod.metadata.ownerReferences?.find((o) => o.kind === 'ReplicaSet' && o.name === owner.replicaSet);
    const labels = { ...first.pod.metadata.labels };
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: owner.replicaSet,
        namespace,
        uid: podRef?.uid ?? stableUid(`replicaset/${namespace}/${owner.replicaSet}`),
        labels,
        annotations: { 'deployment.kubernetes.io/revision': '1' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: owner.deployment,
            uid: stableUid(`deployment/${namespace}/${owner.deployment}`),
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
        creationTimestamp: first.startTime,
      },
      spec: { replicas: members.length, selector: { matchLabels: labels } },
      status: { replicas: members.length, readyReplicas: members.filter((m) => m.ready).length },
    };
  });
}

function serviceObject(s: LabInventoryService): KubeJson {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace, uid: stableUid(`service/${s.namespace}/${s.name}`) },
    spec: {
      type: 'ClusterIP',
      clusterIP: s.clusterIP,
      clusterIPs: [s.clusterIP],
      ipFamilies: ['IPv4'],
      selector: { ...s.selector },
      ports: s.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, targetPort: p.targetPort, protocol: 'TCP' })),
    },
  };
}

/**
 * The service's EndpointSlices: pods whose target ports resolve to the same numbers share a
 * slice (a slice's ports apply to all its endpoints), as the EndpointSlice controller groups them.
 */
function endpointSliceObjects(s: LabInventoryService, pods: readonly LabInventoryPod[]): KubeJson[] {
  const byPod = new Map<LabInventoryPod, Array<{ name?: string; port: number }>>();
  for (const port of s.ports) {
    for (const e of presentEndpoints(port, s.namespace, pods)) {
      const list = byPod.get(e.pod) ?? [];
      list.push({ ...(port.name ? { name: port.name } : {}), port: e.port });
      byPod.set(e.pod, list);
    }
  }
  const groups = new Map<string, { ports: Array<{ name?: string; port: number }>; pods: LabInventoryPod[] }>();
  for (const [pod, ports] of byPod) {
    const key = JSON.stringify(ports);
    const group = groups.get(key);
    if (group) group.pods.push(pod);
    else groups.set(key, { ports, pods: [pod] });
  }
  return [...groups.values()].map((g, i) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${s.name}-${stableUid(`endpointslice/${s.namespace}/${s.name}/${i}`).slice(0, 5)}`,
      namespace: s.namespace,
      uid: stableUid(`endpointslice/${s.namespace}/${s.name}/${i}/uid`),
      labels: { 'kubernetes.io/service-name': s.name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: s.name, uid: stableUid(`service/${s.namespace}/${s.name}`), controller: true, blockOwnerDeletion: true }],
    },
    addressType: 'IPv4',
    endpoints: g.pods.map((p) => ({
      addresses: [p.ip],
      conditions: { ready: p.ready, serving: p.ready, terminating: false },
      nodeName: p.pod.spec.nodeName ?? 'lab',
      targetRef: { kind: 'Pod', name: p.pod.metadata.name, namespace: p.pod.metadata.namespace, uid: p.pod.metadata.uid },
    })),
    ports: g.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: 'TCP' })),
  }));
}

export function buildInventoryList(inventory: LabInventory, resourceVersion = 1): KubeList {
  return {
    apiVersion: 'v1',
    kind: 'List',
    metadata: { resourceVersion: String(resourceVersion) },
    items: [
      nodeObject(inventory.node),
      ...(inventory.otherNodes ?? []).map(namedNodeObject),
      ...inventory.namespaces.map(namespaceObject),
      ...replicaSetObjects(inventory.pods),
      ...inventory.pods.map((p) => podObject(p, inventory.node)),
      ...inventory.services.map(serviceObject),
      ...inventory.services.flatMap((s) => endpointSliceObjects(s, inventory.pods)),
    ],
  };
}
