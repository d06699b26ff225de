/**
 * The two inventory files the lab keeps, built from one scenario: the controller's membership
 * file (checked through the controller's own parser and builder) and the collector's
 * Kubernetes List (checked against the Kubernetes schemas and through the collector's own
 * parser and index, so names come out as the enrichment will see them).
 */
import t from 'tap';
import { ReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';
import { EndpointSlice } from 'kubernetes-models/discovery.k8s.io/v1/EndpointSlice';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Node } from 'kubernetes-models/v1/Node';
import { Pod as PodModel } from 'kubernetes-models/v1/Pod';
import { Service } from 'kubernetes-models/v1/Service';
import { buildMembership } from '../../controller/membership/build.ts';
import { parseInventoryFile } from '../../controller/membership/file-source.ts';
import { parseInventoryList } from '../../collector/inventory/file.ts';
import { createInventoryIndex } from '../../lib/kube/inventory/index.ts';
import { buildInventoryList, type KubeJson } from '../../lab/inventory-list.ts';
import type { LabInventory, LabInventoryPod } from '../../lab/lab-inventory.ts';
import { buildMembershipFile } from '../../lab/membership-file.ts';
import { assignAddresses, parseScenario, type AddressedScenario } from '../../lab/scenario.ts';

const SCENARIO = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {meshtap.io/inject: enabled, team: checkout}}
---
apiVersion: v1
kind: Namespace
metadata: {name: outside}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: payment, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: payment}}
  template:
    metadata: {labels: {app: payment, version: v2}}
    spec:
      serviceAccountName: payment
      containers:
        - name: server
          image: meshtap/demo-hello-server
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: payment, namespace: shop}
spec:
  selector: {app: payment}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec:
  containers: [{name: caller, image: meshtap/demo-caller}]
---
apiVersion: v1
kind: Pod
metadata: {name: visitor, namespace: outside, labels: {app: visitor}}
spec:
  containers: [{name: curl, image: curlimages/curl, command: [sleep, infinity]}]
`;

const STARTED = '2026-01-02T03:04:05.000Z';
const AT = BigInt(Date.parse('2026-01-02T03:05:00.000Z')) * 1_000_000n;

function scenario(): AddressedScenario {
  return assignAddresses(parseScenario([{ path: 'test.yaml', text: SCENARIO }], { demoApps: new Set(['hello-server', 'caller']) }));
}

/**
 * The inventory part-way through `lab up`: the last payment replica is not admitted yet, the
 * second is admitted but its sidecar is not ready; the visitor is not injected.
 */
function inventory(s: AddressedScenario): LabInventory {
  const pods: LabInventoryPod[] = [];
  s.pods.forEach((p, i) => {
    const name = p.pod.metadata.name;
    if (name.startsWith('payment-') && i === 2) return;
    const injected = p.pod.metadata.namespace === 'shop';
    const pod = structuredClone(p.pod);
    if (injected) pod.metadata.annotations['meshtap.io/status'] = '{"version":1}';
    pod.spec.nodeName = 'lab';
    pod.spec.serviceAccountName ??= 'default';
    const starting = name.startsWith('payment-') && i === 1;
    pods.push({
      pod,
      ip: p.ip,
      phase: starting ? 'Pending' : 'Running',
      startTime: STARTED,
      ready: !starting,
      // As lab up lists a pod at admission: meshed when injected, its sidecar ready or not.
      meshed: injected,
      ...(p.owner ? { owner: { deployment: p.owner.name, replicaSet: p.owner.replicaSet } } : {}),
    });
  });
  return { node: { name: 'lab', ip: '10.244.0.1', podCIDR: '10.244.0.0/24' }, namespaces: s.namespaces, services: s.services, pods };
}

void t.test('membership file: the controller reads it and meshes the injected pods, started or starting', async (t) => {
  const s = scenario();
  const inv = inventory(s);
  const [pay0, pay1, pay2] = s.pods.filter((p) => p.pod.metadata.name.startsWith('payment-'));
  const client = s.pods.find((p) => p.pod.metadata.name === 'client')!;
  const visitor = s.pods.find((p) => p.pod.metadata.name === 'visitor')!;
  const file = buildMembershipFile(inv);

  t.same(
    file.pods,
    [
      { name: pay0.pod.metadata.name, namespace: 'shop', ip: pay0.ip, serviceAccount: 'payment', meshed: true },
      { name: pay1.pod.metadata.name, namespace: 'shop', ip: pay1.ip, serviceAccount: 'payment', meshed: true },
      { name: 'client', namespace: 'shop', ip: client.ip, serviceAccount: 'default', meshed: true },
      { name: 'visitor', namespace: 'outside', ip: visitor.ip, serviceAccount: 'default', meshed: false },
    ],
    'every existing pod, in creation order; a pod whose sidecar is not ready yet is meshed already',
  );
  t.same(file.services, [
    {
      name: 'payment',
      namespace: 'shop',
      vip: '10.96.0.11',
      // The named target port as the number every selected pod declares.
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP', name: 'http' }],
      endpoints: [
        { ip: pay0.ip, port: 8080 },
        { ip: pay1.ip, port: 8080 },
      ],
    },
  ]);
  t.notOk(file.services[0].endpoints.some((e) => e.ip === pay2.ip), 'a pod not created yet is no endpoint');

  const parsed = parseInventoryFile(JSON.stringify(file));
  const { content } = buildMembership(parsed, { trustDomain: 'cluster.local' });
  t.same(
    content.workloads.map((w) => [w.ip, w.identity]),
    [
      [pay0.ip, 'spiffe://cluster.local/ns/shop/sa/payment'],
      [pay1.ip, 'spiffe://cluster.local/ns/shop/sa/payment'],
      [client.ip, 'spiffe://cluster.local/ns/shop/sa/default'],
    ].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    'the controller derives the identities of the meshed pods',
  );
  t.same(content.services[0].ports, [{ port: 80, target_port: 8080, protocol: 'TCP', name: 'http' }]);
  t.equal(content.services[0].endpoints.length, 2);
});

void t.test('membership file: a named target port the pods disagree on stays a name', async (t) => {
  const s = scenario();
  const inv = inventory(s);
  const svc = { ...inv.services[0], ports: [{ ...inv.services[0].ports[0], endpoints: [{ pod: 'a', ip: '10.244.0.9', port: 8080 }, { pod: 'b', ip: '10.244.0.10', port: 9090 }] }] };
  t.same(buildMembershipFile({ ...inv, services: [svc] }).services[0].ports, [{ port: 80, targetPort: 'http', protocol: 'TCP', name: 'http' }]);
});

function byKind(items: KubeJson[], kind: string): KubeJson[] {
  return items.filter((i) => i.kind === kind);
}

void t.test('List: real objects, valid against the Kubernetes schemas', async (t) => {
  const s = scenario();
  const list = buildInventoryList(inventory(s), 7);
  t.equal(list.kind, 'List');
  t.equal(list.metadata.resourceVersion, '7');
  const models: Record<string, new (o: never) => { validate(): void }> = {
    Pod: PodModel,
    ReplicaSet,
    Service,
    EndpointSlice,
    Namespace,
    Node,
  };
  t.same([...new Set(list.items.map((i) => i.kind as string))].sort(), Object.keys(models).sort());
  for (const item of list.items) {
    const meta = item.metadata as { name: string; namespace?: string };
    const Model = models[item.kind as string];
    t.doesNotThrow(() => new Model(item as never).validate(), `${String(item.kind)} ${meta.namespace ?? ''}/${meta.name} is valid`);
  }

  const [node] = byKind(list.items, 'Node') as Array<{ metadata: { name: string }; status: { addresses: Array<{ type: string; address: string }> } }>;
  t.equal(node.metadata.name, 'lab');
  t.same(node.status.addresses.find((a) => a.type === 'InternalIP'), { type: 'InternalIP', address: '10.244.0.1' });

  const namespaces = byKind(list.items, 'Namespace') as Array<{ metadata: { name: string; labels: Record<string, string> } }>;
  t.same(namespaces.find((n) => n.metadata.name === 'shop')?.metadata.labels, { 'kubernetes.io/metadata.name': 'shop', 'meshtap.io/inject': 'enabled', team: 'checkout' });
  t.same(namespaces.map((n) => n.metadata.name).sort(), ['default', 'outside', 'shop']);

  type PodJson = {
    metadata: { name: string; uid: string; labels: Record<string, string>; annotations: Record<string, string>; ownerReferences?: Array<{ kind: string; name: string; uid: string; controller: boolean }>; creationTimestamp: string };
    spec: { nodeName: string; serviceAccountName: string };
    status: { phase: string; podIP: string; hostIP: string; startTime: string };
  };
  const pods = byKind(list.items, 'Pod') as PodJson[];
  t.equal(pods.length, 4, 'only pods that exist');
  const payment = pods.find((p) => p.metadata.name.startsWith('payment-'))!;
  const hash = payment.metadata.labels['pod-template-hash'];
  t.match(hash, /^[a-z0-9]{10}$/, 'pods carry the pod-template-hash');
  t.equal(payment.metadata.ownerReferences?.[0].kind, 'ReplicaSet');
  t.equal(payment.metadata.ownerReferences?.[0].name, `payment-${hash}`, 'the ReplicaSet is <deployment>-<hash>');
  t.ok(payment.metadata.annotations['meshtap.io/status'], 'an injected pod carries meshtap.io/status');
  t.match(payment, { spec: { nodeName: 'lab', serviceAccountName: 'payment' }, status: { phase: 'Running', hostIP: '10.244.0.1', startTime: STARTED } });
  t.equal(payment.metadata.creationTimestamp, STARTED);
  const visitor = pods.find((p) => p.metadata.name === 'visitor')!;
  t.notOk(visitor.metadata.annotations['meshtap.io/status'], 'a pod the webhook skipped has no status annotation');
  t.equal(pods.find((p) => p.status.phase === 'Pending')?.metadata.name, s.pods[1].pod.metadata.name, 'a pod still starting is Pending');

  const [rs] = byKind(list.items, 'ReplicaSet') as Array<{ metadata: { name: string; uid: string; ownerReferences: Array<{ kind: string; name: string; controller: boolean }> }; spec: { replicas: number } }>;
  t.equal(byKind(list.items, 'ReplicaSet').length, 1);
  t.equal(rs.metadata.name, `payment-${hash}`);
  t.equal(rs.metadata.uid, payment.metadata.ownerReferences?.[0].uid, 'the pod\'s owner reference names the ReplicaSet by uid');
  t.match(rs.metadata.ownerReferences, [{ kind: 'Deployment', name: 'payment', controller: true }]);
  t.equal(rs.spec.replicas, 2, 'the ReplicaSet counts the pods that exist');

  const [svc] = byKind(list.items, 'Service') as Array<{ spec: { clusterIP: string; clusterIPs: string[]; selector: Record<string, string>; ports: unknown[] } }>;
  t.same(svc.spec, { type: 'ClusterIP', clusterIP: '10.96.0.11', clusterIPs: ['10.96.0.11'], ipFamilies: ['IPv4'], selector: { app: 'payment' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] });
  const [slice] = byKind(list.items, 'EndpointSlice') as Array<{ metadata: { labels: Record<string, string> }; endpoints: Array<{ addresses: string[]; conditions: { ready: boolean }; targetRef: { name: string } }>; ports: unknown[] }>;
  t.equal(slice.metadata.labels['kubernetes.io/service-name'], 'payment');
  t.same(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  t.same(
    slice.endpoints.map((e) => [e.addresses[0], e.conditions.ready]),
    [
      [s.pods[0].ip, true],
      [s.pods[1].ip, false],
    ],
  );
});

void t.test('List: the collector\'s index names both ends from it', async (t) => {
  const s = scenario();
  const list = buildInventoryList(inventory(s));
  const index = createInventoryIndex();
  const now = AT;
  for (const { resource, obj } of parseInventoryList(JSON.stringify(list), 'cluster.json').values()) index.apply(resource, obj, now);
  const payment = s.pods[0];
  const client = s.pods.find((p) => p.pod.metadata.name === 'client')!;

  t.match(index.lookupIp(payment.ip, AT), {
    name: payment.pod.metadata.name,
    namespace: 'shop',
    workload: 'payment',
    workloadKind: 'Deployment',
    serviceAccount: 'payment',
    node: 'lab',
    injected: true,
    labels: { app: 'payment', version: 'v2' },
  });
  t.match(index.lookupIp(client.ip, AT), { name: 'client', workload: 'client', workloadKind: 'Pod', injected: true });
  t.notOk(index.lookupIp(s.pods.find((p) => p.pod.metadata.name === 'visitor')!.ip, AT)?.injected, 'the visitor is not injected');
  t.match(index.lookupService('10.96.0.11', 80, AT), { service: { name: 'payment', namespace: 'shop' }, via: 'cluster-ip' });
  t.match(index.lookupService(payment.ip, 8080, AT), { service: { name: 'payment' } }, 'a pod address resolves to its service');
  t.equal(index.lookupNode('10.244.0.1')?.name, 'lab', 'probes from the bridge address come from the node');
  t.match(index.namespaceLabels('shop'), { 'meshtap.io/inject': 'enabled' });
  t.notOk(index.lookupIp(s.pods[2].ip, AT), 'a pod not created yet is unknown');
});
