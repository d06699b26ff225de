/**
 * The lab's inventory as the controller's membership feed and the collector's enrichment read
 * it: two files rewritten (atomically, only when they change) whenever a pod is admitted or
 * changes state, the way informers would see the API server.
 */
import { GATEWAY_IP, NODE_NAME, NODE_POD_PREFIX, NODE_POD_PREFIX_LENGTH } from './addresses.ts';
import { buildInventoryList } from './inventory-list.ts';
import { otherNodeNames, type LabInventory, type LabInventoryPod } from './lab-inventory.ts';
import { buildMembershipFile } from './membership-file.ts';
import type { AddressedScenario } from './scenario.ts';
import { writeFileAtomic, type LabState, type PodState } from './state.ts';

export class InventoryPublisher {
  private readonly addressed: AddressedScenario;
  private readonly state: () => LabState;
  /** Pods that exist (admitted), by `namespace/name`, as the inventory files show them. */
  private readonly pods = new Map<string, LabInventoryPod>();
  private lastMembership = '';
  private lastClusterItems = '';
  private clusterVersion = 0;

  constructor(addressed: AddressedScenario, state: () => LabState) {
    this.addressed = addressed;
    this.state = state;
  }

  /** An admitted pod: the collector can name its address, the controller lists it (meshed when injected). */
  addPod(ps: PodState, pod: LabInventoryPod): void {
    this.pods.set(`${ps.namespace}/${ps.name}`, pod);
  }

  /** The lab's inventory now, as the controller and the collector should see it. */
  snapshot(): LabInventory {
    const pods = this.state().pods.flatMap((p) => this.pods.get(`${p.namespace}/${p.name}`) ?? []);
    const otherNodes = otherNodeNames(pods, NODE_NAME);
    return {
      node: { name: NODE_NAME, ip: GATEWAY_IP, podCIDR: `${NODE_POD_PREFIX}.0/${NODE_POD_PREFIX_LENGTH}` },
      // Every node a pod is placed on is published, so that enrichment and the map can name it.
      ...(otherNodes.length > 0 ? { otherNodes } : {}),
      namespaces: this.addressed.namespaces,
      services: this.addressed.services,
      pods,
    };
  }

  /** Rewrites (atomically) whichever inventory file changed; called whenever a pod appears or changes state. */
  publish(): void {
    const files = this.state().inventory;
    if (!files) return;
    const inventory = this.snapshot();
    const membership = `${JSON.stringify(buildMembershipFile(inventory), null, 2)}\n`;
    if (membership !== this.lastMembership) {
      writeFileAtomic(files.membershipFile, membership);
      this.lastMembership = membership;
    }
    const items = JSON.stringify(buildInventoryList(inventory).items);
    if (items !== this.lastClusterItems) {
      this.clusterVersion++;
      writeFileAtomic(files.clusterFile, `${JSON.stringify(buildInventoryList(inventory, this.clusterVersion), null, 2)}\n`);
      this.lastClusterItems = items;
    }
  }

  updatePod(ps: PodState, change: Partial<LabInventoryPod>): void {
    const key = `${ps.namespace}/${ps.name}`;
    const current = this.pods.get(key);
    if (!current) return;
    this.pods.set(key, { ...current, ...change });
    this.publish();
  }
}
