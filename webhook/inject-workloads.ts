import { injectPod, type InjectDecision } from './inject.ts';
import type { InjectorConfig } from './injector-config.ts';
import type { PodLike } from './inject-types.ts';

/** Where each kind keeps the pod it creates. */
const POD_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export interface ObjectInjectOptions {
  /** Used when the object has no metadata.namespace. */
  namespace: string | undefined;
  namespaceLabels: Readonly<Record<string, string>>;
  namespaceAnnotations?: Readonly<Record<string, string>>;
  config: InjectorConfig;
}

export type ObjectInjection =
  | { outcome: 'injected' | 'skipped'; object: unknown; path: readonly string[]; decision: InjectDecision }
  | { outcome: 'not-a-workload'; object: unknown };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The path from the object to its pod (or pod template), or undefined for other kinds. */
export function podPathOf(object: unknown): readonly string[] | undefined {
  if (!isRecord(object) || typeof object.kind !== 'string') return undefined;
  return Object.hasOwn(POD_PATHS, object.kind) ? POD_PATHS[object.kind] : undefined;
}

function getIn(object: unknown, path: readonly string[]): unknown {
  let v = object;
  for (const k of path) v = isRecord(v) ? v[k] : undefined;
  return v;
}

/** `kind/name` as kubectl prints it; generated names end in `*`. */
export function describeObject(object: unknown): string {
  if (!isRecord(object)) return '(not an object)';
  const kind = typeof object.kind === 'string' ? object.kind.toLowerCase() : '(no kind)';
  const meta = isRecord(object.metadata) ? object.metadata : {};
  const name =
    typeof meta.name === 'string' && meta.name !== ''
      ? meta.name
      : typeof meta.generateName === 'string' && meta.generateName !== ''
        ? `${meta.generateName}*`
        : '(unnamed)';
  return `${kind}/${name}`;
}

/**
 * Injects the pod a Kubernetes object creates: the object itself for a Pod, its template for
 * the workload kinds. A template's namespace is its workload's. Returns a patched deep copy;
 * the input is not changed.
 */
export function injectObject(object: unknown, options: ObjectInjectOptions): ObjectInjection {
  const path = podPathOf(object);
  if (path === undefined) return { outcome: 'not-a-workload', object };
  const meta = isRecord(object) && isRecord(object.metadata) ? object.metadata : {};
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : options.namespace;
  const pod = getIn(object, path);
  const decision = injectPod({
    pod: (pod ?? {}) as PodLike,
    namespace,
    namespaceLabels: options.namespaceLabels,
    namespaceAnnotations: options.namespaceAnnotations,
    config: options.config,
  });
  if (!decision.inject) return { outcome: 'skipped', object, path, decision };
  if (path.length === 0) return { outcome: 'injected', object: decision.pod, path, decision };
  const copy = structuredClone(object) as Record<string, unknown>;
  let parent: Record<string, unknown> = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
  parent[path[path.length - 1]] = decision.pod;
  return { outcome: 'injected', object: copy, path, decision };
}
