/**
 * Membership from the cluster: the collector's Kubernetes inventory (informers on pods,
 * services and EndpointSlices feeding its index) read as a whole. The index has no change
 * events; its change counter is polled, which is cheap (one integer compare) and needs no
 * hook inside the informers. The hub's debounce follows anyway.
 */
import type { InventoryIndex } from '../../lib/kube/inventory/index.ts';
import type { InventoryResource, InventoryStats } from '../../lib/kube/inventory/inventory.ts';
import type { MembershipEndpointInput, MembershipInput, MembershipServiceInput } from './build.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { createListeners, type MembershipSource } from './source.ts';

/** What membership needs to have listed before it says anything (an empty list is a real answer). */
export const MEMBERSHIP_RESOURCES: readonly InventoryResource[] = ['pods', 'services', 'endpointslices'];

/** The part of a `KubeInventory` used here. */
export interface IndexedInventory {
  readonly index: Pick<InventoryIndex, 'changeCount' | 'liveObjects'>;
  stats(): InventoryStats;
}

export interface ClusterSourceOptions {
  readonly inventory: IndexedInventory;
  /** Change-counter polling period. Default 100 ms. */
  readonly pollMs?: number;
  readonly log?: Logger;
}

/** The index's live objects → the builder's input. */
export function membershipInputFromIndex(index: Pick<InventoryIndex, 'liveObjects'>): MembershipInput {
  const live = index.liveObjects();
  const endpointsByService = new Map<string, MembershipEndpointInput[]>();
  for (const slice of live.endpointSlices) {
    if (!slice.service) continue;
    const key = `${slice.namespace}/${slice.service}`;
    let list = endpointsByService.get(key);
    if (!list) endpointsByService.set(key, (list = []));
    for (const ip of slice.addresses) for (const p of slice.ports) list.push({ ip, port: p.port, portName: p.name ?? '' });
  }
  const services: MembershipServiceInput[] = live.services.map((s) => ({
    name: s.name,
    namespace: s.namespace,
    vips: s.clusterIPs,
    ports: s.ports,
    endpoints: endpointsByService.get(`${s.namespace}/${s.name}`) ?? [],
  }));
  return {
    pods: live.pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      ips: p.ips,
      serviceAccount: p.serviceAccount,
      // The API always reports a phase; a pod without one has not been scheduled yet.
      phase: p.phase ?? 'Pending',
      injected: p.injected === true,
      ...(p.strictMtls === true ? { strict: true } : {}),
      hostNetwork: p.hostNetwork,
    })),
    services,
  };
}

export function createClusterSource(options: ClusterSourceOptions): MembershipSource {
  const { inventory } = options;
  const log = options.log ?? silentLogger;
  const pollMs = options.pollMs ?? 100;
  const listeners = createListeners(log);
  let seen = -1;
  let ready = false;
  let timer: NodeJS.Timeout | undefined;

  const synced = (): boolean => {
    const resources = inventory.stats().resources;
    return MEMBERSHIP_RESOURCES.every((r) => resources?.[r]?.synced === true);
  };

  const check = (): void => {
    if (!ready) {
      if (!synced()) return;
      ready = true;
      log.info({ event: 'membership-source-ready', source: 'cluster' }, 'cluster inventory synced: membership is available');
    }
    const count = inventory.index.changeCount;
    if (count === seen) return;
    seen = count;
    listeners.fire();
  };

  return {
    kind: 'cluster',
    async start() {
      timer = setInterval(check, pollMs);
      timer.unref?.();
      check();
    },
    async stop() {
      clearInterval(timer);
    },
    read: () => (ready ? membershipInputFromIndex(inventory.index) : undefined),
    onChange: (fn) => listeners.add(fn),
  };
}
