/**
 * Pod → workload through controller owner references. Pods point at their immediate
 * controller only; Deployments and CronJobs are one step further up (Pod → ReplicaSet →
 * Deployment, Pod → Job → CronJob), which is why the inventory keeps ReplicaSets and Jobs.
 * Any other controller kind (StatefulSet, DaemonSet, a custom one) names the workload directly.
 */
import type { KubePod, OwnerReference } from './kube-objects.ts';

export interface WorkloadRef {
  readonly name: string;
  readonly kind: string;
}

/** The owner references of a ReplicaSet or Job, found by kind, namespace and name. */
export type OwnerLookup = (kind: string, namespace: string, name: string) => readonly OwnerReference[] | undefined;

/** Kinds whose own controller is worth following one more step. */
const INTERMEDIATE_KINDS = new Set(['ReplicaSet', 'Job']);

/** Label the Deployment controller puts on its ReplicaSets' pods; the ReplicaSet is named `<deployment>-<hash>`. */
const POD_TEMPLATE_HASH = 'pod-template-hash';

export function controllerOf(refs: readonly OwnerReference[] | undefined): OwnerReference | undefined {
  return refs?.find((r) => r.controller === true);
}

export function resolveWorkload(pod: KubePod, owners: OwnerLookup): WorkloadRef {
  const meta = pod.metadata ?? {};
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? '';
  const ctrl = controllerOf(meta.ownerReferences);
  if (!ctrl) return { name, kind: 'Pod' };
  if (!INTERMEDIATE_KINDS.has(ctrl.kind)) return { name: ctrl.name, kind: ctrl.kind };

  const parentRefs = owners(ctrl.kind, namespace, ctrl.name);
  if (parentRefs) {
    const top = controllerOf(parentRefs);
    return top ? { name: top.name, kind: top.kind } : { name: ctrl.name, kind: ctrl.kind };
  }
  // The ReplicaSet is not (yet) known: its name still says which Deployment made it.
  const hash = meta.labels?.[POD_TEMPLATE_HASH];
  if (ctrl.kind === 'ReplicaSet' && hash && ctrl.name.length > hash.length + 1 && ctrl.name.endsWith(`-${hash}`)) {
    return { name: ctrl.name.slice(0, -(hash.length + 1)), kind: 'Deployment' };
  }
  return { name: ctrl.name, kind: ctrl.kind };
}
