/**
 * The lab publishes every node its pods are placed on: the shop scenario puts some workloads on
 * a second node, and the collector's own index names each pod's node from the published List.
 */
import t from 'tap';
import { Node } from 'kubernetes-models/v1/Node';
import { parseInventoryList } from '../../collector/inventory/file.ts';
import { createInventoryIndex } from '../../lib/kube/inventory/index.ts';
import { InventoryPublisher } from '../../lab/inventory-publisher.ts';
import { buildInventoryList } from '../../lab/inventory-list.ts';
import { otherNodeNames, type LabInventoryPod } from '../../lab/lab-inventory.ts';
import { demoApps, resolveScenario } from '../../lab/paths.ts';
import { assignAddresses, parseScenario } from '../../lab/scenario.ts';
import type { LabState, PodState } from '../../lab/state.ts';

const STARTED = '2026-01-02T03:04:05.000Z';
const AT = BigInt(Date.parse('2026-01-02T03:05:00.000Z')) * 1_000_000n;

/** The shop scenario admitted in full, each pod on the node its spec names (else the lab node), as `lab up` does. */
function shopInventory() {
  const scenario = resolveScenario('shop', process.cwd());
  const addressed = assignAddresses(parseScenario(scenario.files, { demoApps: demoApps() }));
  const podStates = addressed.pods.map((p) => ({ name: p.pod.metadata.name, namespace: p.pod.metadata.namespace }) as PodState);
  const publisher = new InventoryPublisher(addressed, () => ({ pods: podStates }) as LabState);
  addressed.pods.forEach((p, i) => {
    const pod = structuredClone(p.pod);
    pod.spec.nodeName ||= 'lab';
    pod.spec.serviceAccountName ??= 'default';
    const entry: LabInventoryPod = { pod, ip: p.ip, phase: 'Running', startTime: STARTED, ready: true, meshed: true };
    if (p.owner) entry.owner = { deployment: p.owner.name, replicaSet: p.owner.replicaSet };
    publisher.addPod(podStates[i], entry);
  });
  return { addressed, snapshot: publisher.snapshot() };
}

void t.test('otherNodeNames: the distinct names other than the lab node, sorted', async (t) => {
  const pod = (nodeName?: string) => ({ pod: { spec: nodeName === undefined ? {} : { nodeName } } }) as unknown as LabInventoryPod;
  t.same(otherNodeNames([pod('lab-3'), pod('lab'), pod(), pod('lab-2'), pod('lab-3'), pod('')], 'lab'), ['lab-2', 'lab-3']);
  t.same(otherNodeNames([pod(), pod('lab')], 'lab'), []);
});

void t.test('the shop scenario is published on two nodes; the index names each pod\'s node', async (t) => {
  const { addressed, snapshot } = shopInventory();
  t.equal(snapshot.node.name, 'lab');
  t.same(snapshot.otherNodes, ['lab-2'], 'the second node the scenario places workloads on');

  const list = buildInventoryList(snapshot);
  const nodes = list.items.filter((i) => i.kind === 'Node') as Array<{ metadata: { name: string }; status: { addresses: Array<{ type: string; address: string }> } }>;
  t.same(nodes.map((n) => n.metadata.name), ['lab', 'lab-2']);
  for (const n of nodes) t.doesNotThrow(() => new Node(n as never).validate(), `Node ${n.metadata.name} is valid`);
  t.same(nodes[1].status.addresses, [{ type: 'Hostname', address: 'lab-2' }], 'the second node has a name, no address');

  const index = createInventoryIndex();
  for (const { resource, obj } of parseInventoryList(JSON.stringify(list), 'cluster.json').values()) index.apply(resource, obj, AT);
  const podOf = (workload: string) => addressed.pods.find((p) => p.owner?.name === workload)!;
  t.equal(index.lookupIp(podOf('payment').ip, AT)?.node, 'lab-2');
  t.equal(index.lookupIp(podOf('catalog').ip, AT)?.node, 'lab-2');
  t.equal(index.lookupIp(podOf('gateway').ip, AT)?.node, 'lab');
  t.equal(index.lookupIp(podOf('frontend').ip, AT)?.node, 'lab');
  t.equal(index.lookupNode('10.244.0.1')?.name, 'lab', 'probes from the bridge still come from the lab node');
});
