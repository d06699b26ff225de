import { Pod } from 'kubernetes-models/v1/Pod';
import type { PodLike } from '../../webhook/inject-types.ts';

/**
 * Checks a (patched) pod or pod template against the v1 Pod schema, plus the cross-field
 * rules the API server enforces that a schema cannot express. Returns the problems found.
 */
/** `provided` names volumes that come from elsewhere (a StatefulSet's volumeClaimTemplates). */
export function podProblems(pod: PodLike, provided: readonly string[] = []): string[] {
  const problems: string[] = [];
  try {
    new Pod({ metadata: (pod.metadata ?? {}) as never, spec: pod.spec as never }).validate();
  } catch (err) {
    problems.push(`schema: ${(err as Error).message}`);
  }
  const spec = pod.spec ?? {};
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  const names = all.map((c) => c.name);
  const dupNames = names.filter((n, i) => names.indexOf(n) !== i);
  if (dupNames.length > 0) problems.push(`duplicate container names: ${dupNames.join(', ')}`);
  const volumes = (spec.volumes ?? []).map((v) => v.name);
  const dupVolumes = volumes.filter((n, i) => volumes.indexOf(n) !== i);
  if (dupVolumes.length > 0) problems.push(`duplicate volume names: ${dupVolumes.join(', ')}`);
  for (const c of all) {
    for (const m of (c.volumeMounts ?? []) as Array<{ name: string }>) {
      if (!volumes.includes(m.name) && !provided.includes(m.name)) problems.push(`container ${c.name} mounts unknown volume ${m.name}`);
    }
    const portNames = (c.ports ?? []).flatMap((p) => (p.name ? [p.name] : []));
    if (new Set(portNames).size !== portNames.length) problems.push(`container ${c.name} has duplicate port names`);
    if (portNames.some((n) => n.length > 15)) problems.push(`container ${c.name} has a port name over 15 characters`);
  }
  return problems;
}
