/**
 * The controller's membership file (`meshtap controller --inventory-file`, format in
 * `controller/membership/file-source.ts`), built from the lab's inventory (pure). In a cluster
 * the controller learns the same from informers.
 *
 * A pod is `meshed` from its admission when it was injected, as the controller counts a
 * cluster's Pending pods (`controller/membership/build.ts` says why): until its sidecar listens
 * a caller is refused either way, and one that reaches the sidecar before it has a certificate
 * falls back to plaintext.
 */
import { presentEndpoints, type LabInventory, type LabInventoryServicePort } from './lab-inventory.ts';
import { injectedStrict } from '../lib/kube/inventory/object-views.ts';

export interface MembershipFile {
  pods: Array<{ name: string; namespace: string; ip: string; serviceAccount: string; meshed: boolean; strict?: boolean }>;
  services: Array<{
    name: string;
    namespace: string;
    vip: string;
    ports: Array<{ port: number; targetPort: number | string; protocol: 'TCP'; name?: string }>;
    endpoints: Array<{ ip: string; port: number }>;
  }>;
}

/**
 * A named target port as the number the selected pods declare, when they all agree; endpoint
 * entries carry no port names in the file, so the controller could not resolve a name itself.
 */
function numericTargetPort(port: LabInventoryServicePort): number | string {
  if (typeof port.targetPort === 'number') return port.targetPort;
  const numbers = new Set(port.endpoints.map((e) => e.port));
  return numbers.size === 1 ? [...numbers][0] : port.targetPort;
}

export function buildMembershipFile(inventory: LabInventory): MembershipFile {
  return {
    pods: inventory.pods.map((p) => ({
      name: p.pod.metadata.name,
      namespace: p.pod.metadata.namespace,
      ip: p.ip,
      serviceAccount: p.pod.spec.serviceAccountName ?? 'default',
      meshed: p.meshed,
      // The injector records the sidecar's mTLS mode in meshtap.io/status, as the controller reads it in a cluster.
      ...(injectedStrict(p.pod.metadata.annotations?.['meshtap.io/status']) ? { strict: true } : {}),
    })),
    services: inventory.services.map((s) => {
      const seen = new Set<string>();
      const endpoints = s.ports
        .flatMap((port) => presentEndpoints(port, s.namespace, inventory.pods).map((e) => ({ ip: e.pod.ip, port: e.port })))
        .filter((e) => !seen.has(`${e.ip}:${e.port}`) && seen.add(`${e.ip}:${e.port}`));
      return {
        name: s.name,
        namespace: s.namespace,
        vip: s.clusterIP,
        ports: s.ports.map((p) => ({ port: p.port, targetPort: numericTargetPort(p), protocol: 'TCP' as const, ...(p.name ? { name: p.name } : {}) })),
        endpoints,
      };
    }),
  };
}
