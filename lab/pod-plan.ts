/**
 * What the kubelet would do with an admitted pod, as a plan of processes (pure). The lab has
 * no container runtime: a container is a process in the pod's network namespace, run as the
 * container's user, with the container's environment. What a runtime would add is added the
 * same way for every container: `PATH` (the image's), `HOSTNAME` (the pod name) and `TMPDIR`.
 *
 * Volumes are directories under the pod's state directory. There is no mount namespace per
 * container, so a path under a volume's `mountPath` in a container's env or args is rewritten
 * to the volume's directory (this is how `MESHTAP_TOKEN_FILE` reaches the pod's token file).
 */
import { posix } from 'node:path';
import type { Container, EnvVar, Pod, Probe } from './scenario.ts';
import { demoAppOf } from './scenario.ts';
import { podCommandFlags } from '../lib/pod-entry.ts';

export interface PodContext {
  ip: string;
  hostIp: string;
  nodeName: string;
  /** The pod's directory in the lab's state (volumes live under it). */
  podDir: string;
  /** The pinned Node binary and the meshtap entry point. */
  node: string;
  meshtapBin: string;
  /** The compiled pod entry: what `meshtap init|sidecar|wait-ready` run, as in the image. */
  meshtapPodBin: string;
  /** Working directory when a container sets no `workingDir` (the image's WORKDIR: the repository). */
  workingDir: string;
  /** Directory holding the demo apps (`<name>.ts`). */
  appsDir: string;
  /** `PATH` every container gets (the pinned Node first). */
  path: string;
  /** The uid app containers run as when the pod does not say. */
  defaultUid: number;
  /** Kubernetes-style service variables (`<SVC>_SERVICE_HOST`…) for the pod's namespace. */
  serviceEnv: Record<string, string>;
  /** Container names that get exactly their spec's environment (no service variables). */
  exactEnvContainers: readonly string[];
}

type VolumeSource =
  | { name: string; dir: string; type: 'emptyDir' }
  | { name: string; dir: string; type: 'token'; file: string; audience: string; expirationSeconds: number }
  | { name: string; dir: string; type: 'trustBundle'; files: string[] }
  | { name: string; dir: string; type: 'unsupported'; reason: string };

/** A volume and the users of the containers that mount it (who must be able to read its files). */
export type VolumePlan = VolumeSource & { mountedBy: Array<{ container: string; uid: number; gid: number }> };

export type ProcessRole = 'init' | 'sidecar' | 'app';

export interface ProcessPlan {
  container: string;
  role: ProcessRole;
  argv: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  workingDir: string;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  /** Resolved against the container's declared ports. */
  postStart?: string[];
}

export interface PodPlan {
  volumes: VolumePlan[];
  /** In the kubelet's order: init containers (native sidecars stay running), then containers. */
  processes: ProcessPlan[];
}

/** The configMap the injector mounts the mesh trust bundle from. */
export const TRUST_BUNDLE_CONFIGMAP = 'meshtap-trust-bundle';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `valueFrom.fieldRef` as the kubelet fills it in. */
export function resolveFieldRef(pod: Pod, fieldPath: string, ctx: Pick<PodContext, 'ip' | 'hostIp' | 'nodeName'>): string {
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)[m[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName ?? ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.ip;
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIp;
    default:
      throw new Error(`fieldRef ${fieldPath} is not supported by the lab`);
  }
}

/** Kubernetes' `$(VAR)` expansion: known variables are replaced, `$$` escapes, unknown refs stay as written. */
export function expandVars(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return '$';
    return Object.hasOwn(vars, name) ? vars[name] : whole;
  });
}

/** `<SVC>_SERVICE_HOST`, `_SERVICE_PORT`, `_SERVICE_PORT_<NAME>` and the docker-link style `<SVC>_PORT*` variables. */
export function buildServiceEnv(services: ReadonlyArray<{ name: string; clusterIP: string; ports: ReadonlyArray<{ name?: string; port: number }> }>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const svc of services) {
    const prefix = svc.name.toUpperCase().replace(/-/g, '_');
    const first = svc.ports[0];
    env[`${prefix}_SERVICE_HOST`] = svc.clusterIP;
    env[`${prefix}_SERVICE_PORT`] = String(first.port);
    env[`${prefix}_PORT`] = `tcp://${svc.clusterIP}:${first.port}`;
    for (const p of svc.ports) {
      if (p.name) env[`${prefix}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
      const link = `${prefix}_PORT_${p.port}_TCP`;
      env[link] = `tcp://${svc.clusterIP}:${p.port}`;
      env[`${link}_PROTO`] = 'tcp';
      env[`${link}_PORT`] = String(p.port);
      env[`${link}_ADDR`] = svc.clusterIP;
    }
  }
  return env;
}

function planVolumes(pod: Pod, podDir: string): VolumeSource[] {
  const volumes: VolumeSource[] = [];
  for (const v of pod.spec.volumes ?? []) {
    const name = typeof v.name === 'string' ? v.name : '';
    if (!name) continue;
    const dir = posix.join(podDir, 'volumes', name);
    if (isRecord(v.emptyDir)) {
      volumes.push({ name, dir, type: 'emptyDir' });
      continue;
    }
    const sources = isRecord(v.projected) && Array.isArray(v.projected.sources) ? v.projected.sources : undefined;
    const token = sources?.map((s) => (isRecord(s) && isRecord(s.serviceAccountToken) ? s.serviceAccountToken : undefined)).find(Boolean);
    if (token) {
      volumes.push({
        name,
        dir,
        type: 'token',
        file: typeof token.path === 'string' ? token.path : 'token',
        audience: typeof token.audience === 'string' ? token.audience : '',
        expirationSeconds: typeof token.expirationSeconds === 'number' ? token.expirationSeconds : 3600,
      });
      continue;
    }
    if (isRecord(v.configMap) && v.configMap.name === TRUST_BUNDLE_CONFIGMAP) {
      const items = Array.isArray(v.configMap.items) ? v.configMap.items.filter(isRecord) : [];
      const files = items.map((i) => (typeof i.path === 'string' ? i.path : String(i.key)));
      volumes.push({ name, dir, type: 'trustBundle', files: files.length > 0 ? files : ['ca.crt'] });
      continue;
    }
    volumes.push({ name, dir, type: 'unsupported', reason: `volume "${name}" (${Object.keys(v).filter((k) => k !== 'name').join(', ')}) is an empty directory in the lab` });
  }
  return volumes;
}

/** Rewrites paths under a mount point to the volume's directory. */
function mapPaths(value: string, mounts: ReadonlyArray<{ mountPath: string; dir: string }>): string {
  for (const m of mounts) {
    const mp = m.mountPath.replace(/\/+$/, '');
    if (value === mp) return m.dir;
    if (value.startsWith(`${mp}/`)) return m.dir + value.slice(mp.length);
  }
  return value;
}

function containerMounts(c: Container, volumes: readonly VolumeSource[]): Array<{ mountPath: string; dir: string }> {
  const mounts = Array.isArray(c.volumeMounts) ? c.volumeMounts.filter(isRecord) : [];
  return mounts
    .flatMap((m) => {
      const vol = volumes.find((v) => v.name === m.name);
      return vol && typeof m.mountPath === 'string' ? [{ mountPath: m.mountPath, dir: vol.dir }] : [];
    })
    // The longest mount point wins, as with nested mounts.
    .sort((a, b) => b.mountPath.length - a.mountPath.length);
}

function userOf(pod: Pod, c: Container, defaultUid: number): { uid: number; gid: number } {
  const uid = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser ?? defaultUid;
  const gid = c.securityContext?.runAsGroup ?? pod.spec.securityContext?.runAsGroup ?? uid;
  return { uid, gid };
}

function containerEnv(pod: Pod, c: Container, ctx: PodContext, mounts: ReturnType<typeof containerMounts>, tmpDir: string): Record<string, string> {
  const exact = ctx.exactEnvContainers.includes(c.name);
  const links = !exact && pod.spec.enableServiceLinks !== false ? ctx.serviceEnv : {};
  const env: Record<string, string> = { PATH: ctx.path, HOSTNAME: pod.metadata.name, TMPDIR: tmpDir, ...links };
  for (const e of (c.env ?? []) as EnvVar[]) {
    const fieldPath = e.valueFrom?.fieldRef?.fieldPath;
    const raw = fieldPath !== undefined ? resolveFieldRef(pod, fieldPath, ctx) : expandVars(e.value ?? '', env);
    env[e.name] = mapPaths(raw, mounts);
  }
  return env;
}

function argvOf(c: Container, env: Record<string, string>, ctx: PodContext, mounts: ReturnType<typeof containerMounts>): string[] {
  const args = (c.args ?? []).map((a) => mapPaths(expandVars(a, env), mounts));
  const app = demoAppOf(c);
  if (app !== undefined) return [ctx.node, posix.join(ctx.appsDir, `${app}.ts`), ...args];
  const command = (c.command ?? []).map((a) => mapPaths(expandVars(a, env), mounts));
  return [...resolveProgram(command, ctx), ...args];
}

/** The commands the image runs from the compiled pod entry (bin/pod-commands.ts). */
const POD_COMMAND_NAMES = new Set(['init', 'sidecar', 'wait-ready']);

/** `meshtap …` runs the repository's entry point on the pinned Node; `node` is the pinned Node. */
function resolveProgram(command: string[], ctx: PodContext): string[] {
  const [program, ...rest] = command;
  if (program === 'meshtap') {
    if (POD_COMMAND_NAMES.has(rest[0])) return [ctx.node, ...podCommandFlags(rest[0]), ctx.meshtapPodBin, ...rest];
    return [ctx.node, ctx.meshtapBin, ...rest];
  }
  if (program === 'node') return [ctx.node, ...rest];
  return command;
}

/** The processes and volumes of an admitted pod, in the kubelet's order. */
export function buildPodPlan(pod: Pod, ctx: PodContext): PodPlan {
  const volumes = planVolumes(pod, ctx.podDir);
  const tmpDir = posix.join(ctx.podDir, 'tmp');
  const plan = (c: Container, role: ProcessRole): ProcessPlan => {
    const mounts = containerMounts(c, volumes);
    const env = containerEnv(pod, c, ctx, mounts, tmpDir);
    const user = userOf(pod, c, ctx.defaultUid);
    const postStart = c.lifecycle?.postStart?.exec?.command;
    return {
      container: c.name,
      role,
      argv: argvOf(c, env, ctx, mounts),
      env,
      ...user,
      workingDir: typeof c.workingDir === 'string' && c.workingDir.startsWith('/') ? mapPaths(c.workingDir, mounts) : ctx.workingDir,
      ...(c.startupProbe ? { startupProbe: c.startupProbe } : {}),
      ...(c.readinessProbe ? { readinessProbe: c.readinessProbe } : {}),
      ...(postStart ? { postStart: resolveProgram(postStart.map((a) => mapPaths(a, mounts)), ctx) } : {}),
    };
  };
  const processes: ProcessPlan[] = [
    ...(pod.spec.initContainers ?? []).map((c) => plan(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init')),
    // The fallback layout puts the proxy among the containers, first, with a postStart wait.
    ...pod.spec.containers.map((c) => plan(c, ctx.exactEnvContainers.includes(c.name) ? 'sidecar' : 'app')),
  ];
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const withUsers = volumes.map((v): VolumePlan => ({
    ...v,
    mountedBy: all
      .filter((c) => Array.isArray(c.volumeMounts) && c.volumeMounts.some((m) => isRecord(m) && m.name === v.name))
      .map((c) => ({ container: c.name, ...userOf(pod, c, ctx.defaultUid) })),
  }));
  return { volumes: withUsers, processes };
}

/**
 * Annotation on a pod (or a Deployment's pod template) naming programs it needs on the node,
 * comma-separated: `lab up` skips the pod when one is missing, as it does for a missing command.
 */
export const REQUIRES_ANNOTATION = 'lab.meshtap.io/requires';

/**
 * What a pod needs on the node to run (pure): each container's command, except `node` and
 * `meshtap` (the lab's own) and a relative path (resolved in the working directory at start),
 * and the programs its `lab.meshtap.io/requires` annotation lists.
 */
export function requiredPrograms(pod: Pod): string[] {
  const out = new Set<string>();
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    const program = c.command?.[0];
    if (program === undefined || program === 'node' || program === 'meshtap' || program.includes('$(')) continue;
    if (program.includes('/') && !program.startsWith('/')) continue;
    out.add(program);
  }
  for (const p of (pod.metadata.annotations?.[REQUIRES_ANNOTATION] ?? '').split(',')) if (p.trim() !== '') out.add(p.trim());
  return [...out];
}

/** A probe's port as a number, looking named ports up in the pod's containers. */
export function resolveProbePort(pod: Pod, portRef: number | string): number | undefined {
  if (typeof portRef === 'number') return portRef;
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const p of c.ports ?? []) if (p.name === portRef) return p.containerPort;
  }
  return undefined;
}
