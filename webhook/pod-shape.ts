/**
 * What injection reads and writes of a pod must have the shape the API server gives it: a pod
 * whose metadata is a string, whose containers hold a null, or whose ports are a string cannot
 * come from the API server, and injecting it failed inside the injector with a TypeError (the
 * webhook admitted it unchanged as an internal error, `meshtap inject` printed the TypeError).
 * Such a pod is refused as `invalid-pod` with where its shape is wrong. Pure.
 */
import type { PodLike } from './inject-types.ts';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

/** Where the pod's shape differs from a Pod's, each as `path is X, not Y`; empty when it is fine. */
export function podShapeProblems(pod: PodLike): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, path: string, value: unknown, what: string): boolean => {
    if (!ok) problems.push(`${path} is ${kindOf(value)}, not ${what}`);
    return ok;
  };
  // Absent or null (what YAML gives for an empty key) is no value at all, as the API server reads it.
  const optionalObject = (value: unknown, path: string): boolean => value === undefined || value === null || expect(isObject(value), path, value, 'an object');
  const metadata = (pod as { metadata?: unknown }).metadata;
  if (optionalObject(metadata, 'metadata') && isObject(metadata)) {
    // Their values are read as strings where used (a meshtap.io annotation that is not one is
    // `invalid-annotation`, more to the point than a shape).
    for (const key of ['labels', 'annotations'] as const) optionalObject(metadata[key], `metadata.${key}`);
  }
  const spec = (pod as { spec?: unknown }).spec as Record<string, unknown>;
  for (const list of ['containers', 'initContainers'] as const) {
    const containers = spec[list];
    if (containers === undefined || containers === null) continue;
    if (!expect(Array.isArray(containers), `spec.${list}`, containers, 'a list')) continue;
    (containers as unknown[]).forEach((c, i) => {
      const path = `spec.${list}[${i}]`;
      if (!expect(isObject(c), path, c, 'a container') || !isObject(c)) return;
      const ports = c.ports;
      if (ports !== undefined && ports !== null && expect(Array.isArray(ports), `${path}.ports`, ports, 'a list')) {
        (ports as unknown[]).forEach((p, j) => expect(isObject(p), `${path}.ports[${j}]`, p, 'a port'));
      }
      for (const probe of PROBES) optionalObject(c[probe], `${path}.${probe}`);
      optionalObject(c.securityContext, `${path}.securityContext`);
    });
  }
  const volumes = spec.volumes;
  if (volumes !== undefined && volumes !== null && expect(Array.isArray(volumes), 'spec.volumes', volumes, 'a list')) {
    (volumes as unknown[]).forEach((v, i) => expect(isObject(v), `spec.volumes[${i}]`, v, 'a volume'));
  }
  optionalObject(spec.securityContext, 'spec.securityContext');
  return problems;
}
