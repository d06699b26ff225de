/**
 * The shapes the injector reads. Input comes from users and the API server, so every field
 * is optional and is checked before use; unknown fields are carried through untouched.
 */
export interface ContainerLike {
  name?: string;
  ports?: Array<{ containerPort?: number; name?: string; protocol?: string; [k: string]: unknown }>;
  restartPolicy?: string;
  [k: string]: unknown;
}

export interface VolumeLike {
  name?: string;
  [k: string]: unknown;
}

export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  ephemeralContainers?: ContainerLike[];
  volumes?: VolumeLike[];
  hostNetwork?: boolean;
  [k: string]: unknown;
}

export interface ObjectMetaLike {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

/** A Pod, or a pod template (`{metadata, spec}` of a workload). */
export interface PodLike {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMetaLike;
  spec?: PodSpecLike;
  [k: string]: unknown;
}
