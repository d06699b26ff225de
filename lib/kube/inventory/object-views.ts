/**
 * What the inventory index reads from Kubernetes objects, as pure functions: an object's
 * `namespace/name` key, a pod's IPs and a service's VIPs, a service as `ServiceInfo`, label
 * selection, and the pod port a service port forwards to.
 */
import type { ServiceInfo, ServicePortInfo } from './inventory.ts';
import type { KubeObject, KubePod, KubeService } from './kube-objects.ts';

export function nameKeyOf(obj: KubeObject): string | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  return `${obj.metadata?.namespace ?? ''}/${name}`;
}

export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function podIps(pod: KubePod): string[] {
  if (pod.spec?.hostNetwork) return [];
  const fromList = pod.status?.podIPs?.map((p) => p.ip).filter((ip) => ip) ?? [];
  if (fromList.length > 0) return [...new Set(fromList)];
  return pod.status?.podIP ? [pod.status.podIP] : [];
}

export function serviceVips(svc: KubeService): string[] {
  const spec = svc.spec ?? {};
  const ips = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None');
}

export function toServiceInfo(svc: KubeService): ServiceInfo {
  const spec = svc.spec ?? {};
  const selector = spec.selector && Object.keys(spec.selector).length > 0 ? { ...spec.selector } : undefined;
  const info: ServiceInfo = {
    name: svc.metadata?.name ?? '',
    namespace: svc.metadata?.namespace ?? '',
    type: spec.type ?? 'ClusterIP',
    clusterIPs: serviceVips(svc),
    ports: (spec.ports ?? []).map((p) => {
      const port: { -readonly [K in keyof ServicePortInfo]: ServicePortInfo[K] } = { port: p.port, protocol: p.protocol ?? 'TCP' };
      if (p.name) port.name = p.name;
      if (p.targetPort !== undefined) port.targetPort = p.targetPort;
      return port;
    }),
  };
  return selector ? { ...info, selector } : info;
}

export function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  return true;
}

/** The pod-side port a service port forwards to, or undefined when a named port is not declared by the pod. */
export function targetPortNumber(port: ServicePortInfo, pod: KubePod | undefined): number | undefined {
  const target = port.targetPort;
  if (target === undefined) return port.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of pod?.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === port.protocol) return p.containerPort;
  }
  return undefined;
}

/** Whether a `meshtap.io/status` annotation records a sidecar in strict mTLS mode. */
export function injectedStrict(status: string | undefined): boolean {
  if (status === undefined) return false;
  try {
    const parsed = JSON.parse(status) as { mtlsMode?: unknown };
    return parsed !== null && typeof parsed === 'object' && parsed.mtlsMode === 'strict';
  } catch {
    return false;
  }
}
