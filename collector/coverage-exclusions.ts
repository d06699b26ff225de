/**
 * Coverage's view of what a workload keeps out of capture by configuration, from the inventory:
 * the union of its injected pods' `meshtap.io/exclude-*` annotations. Unknown (undefined) when
 * the inventory cannot list a workload's pods or none of them is an injected pod it knows.
 */
import { mergeExclusions } from '../lib/kube/inventory/capture-exclusions.ts';
import type { InventoryLookup } from '../lib/kube/inventory/inventory.ts';
import type { CaptureExclusions } from './coverage.ts';

export function exclusionsFromInventory(inventory: Pick<InventoryLookup, 'workloadPods'>): ((namespace: string, workload: string) => CaptureExclusions | undefined) | undefined {
  if (inventory.workloadPods === undefined) return undefined;
  return (namespace, workload) => {
    const known = (inventory.workloadPods?.(namespace, workload) ?? []).flatMap((p) => (p.captureExclusions === undefined ? [] : [p.captureExclusions]));
    if (known.length === 0) return undefined;
    const merged = mergeExclusions(known);
    return { inbound_ports: [...merged.inbound_ports], outbound_ports: [...merged.outbound_ports], outbound_cidrs: [...merged.outbound_cidrs] };
  };
}
