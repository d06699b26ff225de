import { podShapeProblems } from './pod-shape.ts';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { formatProbePaths, probePathsOf, probePortsOf } from './probe-ports.ts';
import {
  DEFAULT_CONTAINER_ANNOTATION,
  DNS_CAPTURE_ANNOTATION,
  EXCLUDE_INBOUND_PORTS_ANNOTATION,
  EXCLUDE_OUTBOUND_CIDRS_ANNOTATION,
  EXCLUDE_OUTBOUND_PORTS_ANNOTATION,
  INJECT_LABEL,
  ISTIO_STATUS_ANNOTATION,
  LINKERD_PROXY_VERSION_ANNOTATION,
  MAX_BODY_BYTES_ANNOTATION,
  MASK_KEYS_ANNOTATION,
  parseMaskKeys,
  MTLS_MODE_ANNOTATION,
  NATIVE_SIDECAR_ANNOTATION,
  STATUS_ANNOTATION,
  parseBooleanText,
  parseByteCount,
  parseCidrList,
  parseMtlsMode,
  parsePortList,
  type MtlsMode,
  type Parsed,
} from './annotations.ts';
import {
  INIT_CONTAINER_NAME,
  MESHTAP_CONTAINER_NAMES,
  MESHTAP_VOLUME_NAMES,
  SIDECAR_CONTAINER_NAME,
  buildInitContainer,
  buildSidecarContainer,
  buildVolumes,
  type PodInjectionSettings,
} from './containers.ts';
import { MESHTAP_VERSION, SIDECAR_DNS_PORT, type InjectorConfig } from './injector-config.ts';
import type { ContainerLike, PodLike } from './inject-types.ts';
import { SKIP_REASON_CODES, type SkipReason } from './reasons.ts';
import { closestMatch } from '../lib/edit-distance.ts';

export type { PodLike } from './inject-types.ts';
export type { SkipReason } from './reasons.ts';

export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'meshtap-system'];
const ISTIO_PROXY_CONTAINER = 'istio-proxy';
/** The Pod Security admission label whose level decides whether a pod may be created. */
export const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
/** Levels that forbid the capabilities the init container needs (NET_ADMIN, NET_RAW). */
const POD_SECURITY_LEVELS_WITHOUT_NET_ADMIN = ['baseline', 'restricted'];
const LINKERD_PROXY_CONTAINER = 'linkerd-proxy';

export interface InjectInput {
  pod: PodLike;
  /** The namespace the pod is created in when its metadata has none (AdmissionReview request.namespace). */
  namespace: string | undefined;
  namespaceLabels: Readonly<Record<string, string>>;
  /** Namespace-wide defaults (today `meshtap.io/mtls-mode`); the pod's own annotations win. */
  namespaceAnnotations?: Readonly<Record<string, string>>;
  config: InjectorConfig;
}

/** Per-reason explanation specific to this pod (which namespace, which name, which annotation). */
export type SkipDetails = Partial<Record<SkipReason, string>>;

export type InjectDecision =
  | { inject: true; reasons: []; details: Record<string, never>; pod: PodLike; patch: Operation[] }
  | { inject: false; reasons: SkipReason[]; details: SkipDetails; pod: PodLike; patch: [] };

/** What `meshtap.io/status` records. Its presence alone makes re-injection a no-op. */
export interface InjectionStatus {
  version: string;
  nativeSidecar: boolean;
  initContainers: string[];
  containers: string[];
  volumes: string[];
  /** The sidecar's mTLS mode, so the membership feed can tell clients which peers are strict. */
  mtlsMode: MtlsMode;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringMap(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function containerList(value: unknown): ContainerLike[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function nameList(value: unknown): string[] {
  return containerList(value).flatMap((c) => (typeof c.name === 'string' ? [c.name] : []));
}

interface Problems {
  add(reason: SkipReason, detail: string): void;
}

/** Reads one annotation through its parser; a bad value is recorded and the fallback used. */
function readAnnotation<T>(
  annotations: Record<string, unknown>,
  key: string,
  parse: (text: string) => Parsed<T>,
  fallback: T,
  problems: Problems,
  where = 'pod annotation',
): T {
  if (!Object.hasOwn(annotations, key)) return fallback;
  const raw = annotations[key];
  if (typeof raw !== 'string') {
    problems.add('invalid-annotation', `${where} ${key}: must be a string, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  const parsed = parse(raw);
  if (parsed.ok) return parsed.value;
  problems.add('invalid-annotation', `${where} ${key}: ${parsed.problem}`);
  return fallback;
}

function resolveSettings(
  annotations: Record<string, unknown>,
  namespaceAnnotations: Record<string, unknown>,
  config: InjectorConfig,
  problems: Problems,
): PodInjectionSettings {
  const nsMtls: MtlsMode = readAnnotation(namespaceAnnotations, MTLS_MODE_ANNOTATION, parseMtlsMode, config.mtlsMode, problems, 'namespace annotation');
  return {
    excludeInboundPorts: readAnnotation(annotations, EXCLUDE_INBOUND_PORTS_ANNOTATION, parsePortList, [], problems),
    excludeOutboundPorts: readAnnotation(annotations, EXCLUDE_OUTBOUND_PORTS_ANNOTATION, parsePortList, [], problems),
    excludeOutboundCidrs: readAnnotation(annotations, EXCLUDE_OUTBOUND_CIDRS_ANNOTATION, parseCidrList, [], problems),
    maxBodyBytes: readAnnotation(annotations, MAX_BODY_BYTES_ANNOTATION, parseByteCount, config.maxBodyBytes, problems),
    // A pod may tighten its namespace's mode, never loosen it: strict there is a promise to
    // every caller of every pod in the namespace.
    mtlsMode: nsMtls === 'strict' ? 'strict' : readAnnotation(annotations, MTLS_MODE_ANNOTATION, parseMtlsMode, nsMtls, problems),
    nativeSidecar: readAnnotation(annotations, NATIVE_SIDECAR_ANNOTATION, parseBooleanText, config.nativeSidecar, problems),
    dnsCapture: readAnnotation(annotations, DNS_CAPTURE_ANNOTATION, parseBooleanText, true, problems),
    probePorts: [],
    probePaths: '',
    maskKeys: readAnnotation(annotations, MASK_KEYS_ANNOTATION, parseMaskKeys, [], problems),
  };
}

/** The pod annotations meshtap reads or writes: any other `meshtap.io/` annotation is a mistake. */
const POD_ANNOTATIONS: readonly string[] = [
  STATUS_ANNOTATION,
  EXCLUDE_INBOUND_PORTS_ANNOTATION,
  EXCLUDE_OUTBOUND_PORTS_ANNOTATION,
  EXCLUDE_OUTBOUND_CIDRS_ANNOTATION,
  MAX_BODY_BYTES_ANNOTATION,
  MTLS_MODE_ANNOTATION,
  NATIVE_SIDECAR_ANNOTATION,
  DNS_CAPTURE_ANNOTATION,
  MASK_KEYS_ANNOTATION,
];

/**
 * A `meshtap.io/` annotation meshtap does not read is a typo (`exclude-inbound-port`) or the
 * opt-out label written as an annotation (as Istio's `sidecar.istio.io/inject` is one): ignored,
 * the pod would be injected without what its author asked for (a port left captured, a pod
 * meant to be left alone). So it is an `invalid-annotation`, with the key it may have meant.
 */
function checkAnnotationKeys(annotations: Record<string, unknown>, problems: Problems): void {
  for (const key of Object.keys(annotations)) {
    if (!key.startsWith('meshtap.io/') || POD_ANNOTATIONS.includes(key)) continue;
    if (key === INJECT_LABEL) {
      problems.add('invalid-annotation', `pod annotation ${key}: meshtap reads ${key} as a pod label, not an annotation (move it to metadata.labels)`);
      continue;
    }
    // The ones a pod's author sets: a key cut short or run on, else a near spelling.
    const settable = POD_ANNOTATIONS.filter((k) => k !== STATUS_ANNOTATION);
    const near = settable.find((k) => k.startsWith(key) || key.startsWith(k)) ?? closestMatch(key, settable, { maxDistance: 3, ignoreCase: true });
    problems.add('invalid-annotation', `pod annotation ${key} is not one meshtap reads${near !== undefined ? ` (did you mean ${near}?)` : ''}`);
  }
}

function skip(pod: PodLike, found: Map<SkipReason, string[]>): InjectDecision {
  const reasons = SKIP_REASON_CODES.filter((r) => found.has(r));
  const details: SkipDetails = {};
  for (const r of reasons) details[r] = found.get(r)!.join('; ');
  return { inject: false, reasons, details, pod, patch: [] };
}

/**
 * Decides whether a pod (or a workload's pod template) gets meshtap and, if so, returns the
 * patched deep copy and the JSON Patch from the input to it. Pure: the input is not changed.
 *
 * Every applicable skip reason is reported, not only the first. An unusable meshtap.io
 * annotation skips the pod (`invalid-annotation`) rather than injecting without it: an
 * exclusion the user asked for but did not get could capture traffic that must not be, so
 * leaving the pod unmeshed is the safe side.
 */
export function injectPod(input: InjectInput): InjectDecision {
  const { pod, config } = input;
  const found = new Map<SkipReason, string[]>();
  const problems: Problems = {
    add(reason, detail) {
      const list = found.get(reason) ?? [];
      list.push(detail);
      found.set(reason, list);
    },
  };

  if (!isRecord(pod) || !isRecord(pod.spec) || !Array.isArray(pod.spec.containers) || pod.spec.containers.length === 0) {
    problems.add('invalid-pod', 'spec.containers is missing or empty');
    return skip(pod, found);
  }
  const shape = podShapeProblems(pod);
  if (shape.length > 0) {
    for (const problem of shape.slice(0, 5)) problems.add('invalid-pod', problem);
    if (shape.length > 5) problems.add('invalid-pod', `and ${shape.length - 5} more`);
    return skip(pod, found);
  }
  const metadata = stringMap(pod.metadata);
  const labels = stringMap(metadata.labels);
  const annotations = stringMap(metadata.annotations);
  const spec = pod.spec;
  const namespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : input.namespace;

  if (namespace !== undefined && SYSTEM_NAMESPACES.includes(namespace)) {
    problems.add('system-namespace', `namespace "${namespace}" is a system namespace`);
  }

  const nsLabel = input.namespaceLabels[INJECT_LABEL];
  const podLabel = labels[INJECT_LABEL];
  const nsName = namespace === undefined ? 'the namespace' : `namespace "${namespace}"`;
  // A pod's opt-in counts only in a namespace without the label, as the second webhook's
  // namespaceSelector (DoesNotExist) has it: a namespace labelled anything else (disabled, or a
  // value that is not "enabled") keeps its pods out, and the API server would not even ask.
  const podOptIn = podLabel === 'true' && nsLabel === undefined;
  if (nsLabel !== 'enabled' && !podOptIn) {
    problems.add(
      'namespace-not-enabled',
      nsLabel === undefined
        ? `${nsName} has no ${INJECT_LABEL}=enabled label and the pod is not labelled ${INJECT_LABEL}=true`
        : `${nsName} is labelled ${INJECT_LABEL}=${nsLabel}${podLabel === 'true' ? ` (a pod's ${INJECT_LABEL}=true opts in only in a namespace without the label)` : ''}`,
    );
  }
  if (podLabel === 'false') problems.add('pod-opted-out', `pod is labelled ${INJECT_LABEL}=false`);
  if (spec.hostNetwork === true) problems.add('host-network', 'spec.hostNetwork is true');

  const containerNames = nameList(spec.containers);
  const initNames = nameList(spec.initContainers);
  const ephemeralNames = nameList(spec.ephemeralContainers);
  const allNames = [...containerNames, ...initNames, ...ephemeralNames];

  const already = Object.hasOwn(annotations, STATUS_ANNOTATION) || allNames.includes(SIDECAR_CONTAINER_NAME);
  if (Object.hasOwn(annotations, STATUS_ANNOTATION)) problems.add('already-injected', `annotation ${STATUS_ANNOTATION} is present`);
  else if (already) problems.add('already-injected', `a container named ${SIDECAR_CONTAINER_NAME} is present`);

  if (allNames.includes(ISTIO_PROXY_CONTAINER)) problems.add('istio-proxy-present', `a container named ${ISTIO_PROXY_CONTAINER} is present`);
  if (Object.hasOwn(annotations, ISTIO_STATUS_ANNOTATION)) problems.add('istio-proxy-present', `annotation ${ISTIO_STATUS_ANNOTATION} is present`);
  if (allNames.includes(LINKERD_PROXY_CONTAINER)) problems.add('linkerd-proxy-present', `a container named ${LINKERD_PROXY_CONTAINER} is present`);
  if (Object.hasOwn(annotations, LINKERD_PROXY_VERSION_ANNOTATION)) problems.add('linkerd-proxy-present', `annotation ${LINKERD_PROXY_VERSION_ANNOTATION} is present`);

  // An injected pod legitimately holds our names and ports; only a foreign one is a clash.
  if (!already) {
    for (const name of MESHTAP_CONTAINER_NAMES) {
      if (allNames.includes(name)) problems.add('name-collision', `a container named "${name}" already exists`);
    }
    const volumeNames = nameList(spec.volumes);
    for (const name of MESHTAP_VOLUME_NAMES) {
      if (volumeNames.includes(name)) problems.add('name-collision', `a volume named "${name}" already exists`);
    }
    // Each port meshtap listens on, what it is and the protocols it takes (the DNS listener: UDP too).
    const reserved = new Map<number, { use: string; protocols: readonly string[] }>([
      [config.inboundPort, { use: 'inbound', protocols: ['TCP'] }],
      [config.outboundPort, { use: 'outbound', protocols: ['TCP'] }],
      [config.adminPort, { use: 'admin', protocols: ['TCP'] }],
      [SIDECAR_DNS_PORT, { use: 'DNS', protocols: ['TCP', 'UDP'] }],
    ]);
    for (const c of [...containerList(spec.initContainers), ...containerList(spec.containers)]) {
      for (const p of Array.isArray(c.ports) ? c.ports.filter(isRecord) : []) {
        const protocol = p.protocol ?? 'TCP';
        const held = typeof p.containerPort === 'number' ? reserved.get(p.containerPort) : undefined;
        if (held !== undefined && held.protocols.includes(protocol as string)) {
          const shown = protocol === 'TCP' ? '' : `/${String(protocol)}`;
          problems.add('port-conflict', `container "${String(c.name)}" declares port ${p.containerPort}${shown}, meshtap's ${held.use} port`);
        }
      }
    }
  }

  const psLevel = input.namespaceLabels[POD_SECURITY_ENFORCE_LABEL];
  if (psLevel !== undefined && POD_SECURITY_LEVELS_WITHOUT_NET_ADMIN.includes(psLevel)) {
    problems.add('pod-security', `${nsName} is labelled ${POD_SECURITY_ENFORCE_LABEL}=${psLevel}, which forbids the NET_ADMIN and NET_RAW capabilities of ${INIT_CONTAINER_NAME}`);
  }
  if (!already) findIdentityClashes(spec, config, problems);

  const settings = resolveSettings(annotations, stringMap(input.namespaceAnnotations), config, problems);
  if (!already) checkAnnotationKeys(annotations, problems);
  // A classic sidecar is an ordinary container that stops only when the pod is deleted: a pod
  // meant to run to completion (every Job's: restartPolicy Never or OnFailure) would never complete.
  const restartPolicy = spec.restartPolicy;
  if (!already && !settings.nativeSidecar && (restartPolicy === 'Never' || restartPolicy === 'OnFailure')) {
    problems.add(
      'run-to-completion',
      `restartPolicy is ${restartPolicy} and the proxy would be a regular container, which never exits, so the pod would never complete; a native sidecar (${NATIVE_SIDECAR_ANNOTATION}: "true", Kubernetes 1.29+) stops with the pod's containers`,
    );
  }
  // IPv6 CIDRs are accepted as init accepts them: there they exempt IPv6 destinations from
  // the refusal of IPv6 TCP, as IPv4 ones exempt destinations from capture.
  if (found.size > 0) return skip(pod, found);

  settings.probePorts = probePortsOf(pod.spec?.containers ?? []);
  settings.probePaths = formatProbePaths(probePathsOf(pod.spec?.containers ?? []));
  const patched = buildInjectedPod(pod, config, settings);
  const patch = fastJsonPatch.compare(pod, patched);
  return { inject: true, reasons: [], details: {}, pod: patched, patch };
}

function numberAt(value: unknown, key: string): number | undefined {
  const v = stringMap(value)[key];
  return typeof v === 'number' ? v : undefined;
}

/**
 * A container whose effective user or group is the proxy's is exempt from redirection (the
 * rules match the proxy by UID/GID), so its traffic would leave uncaptured and look like the
 * proxy's own. Pod-level settings apply unless the container overrides them.
 */
function findIdentityClashes(spec: NonNullable<PodLike['spec']>, config: InjectorConfig, problems: Problems): void {
  const pod = { uid: numberAt(spec.securityContext, 'runAsUser'), gid: numberAt(spec.securityContext, 'runAsGroup') };
  for (const c of [...containerList(spec.initContainers), ...containerList(spec.containers)]) {
    for (const [kind, key, proxy] of [['UID', 'runAsUser', config.proxyUid], ['GID', 'runAsGroup', config.proxyGid]] as const) {
      const own = numberAt(c.securityContext, key);
      const effective = own ?? (kind === 'UID' ? pod.uid : pod.gid);
      if (effective !== proxy) continue;
      const from = own === undefined ? ` (spec.securityContext.${key})` : '';
      problems.add('uid-conflict', `container "${String(c.name)}" runs as ${kind} ${effective}${from}, the proxy's ${kind}`);
    }
  }
}

function buildInjectedPod(pod: PodLike, config: InjectorConfig, settings: PodInjectionSettings): PodLike {
  const out = structuredClone(pod);
  const metadata = (out.metadata ??= {});
  const annotations = (metadata.annotations ??= {});
  const spec = out.spec!;
  const userContainers = spec.containers ?? [];
  const userInit = spec.initContainers ?? [];
  const sidecar = buildSidecarContainer(config, settings);
  const init = buildInitContainer(config, settings);
  const volumes = buildVolumes(config);

  if (settings.nativeSidecar) {
    spec.initContainers = [init, sidecar, ...userInit];
  } else {
    spec.initContainers = [init, ...userInit];
    spec.containers = [sidecar, ...userContainers];
    const firstApp = userContainers[0]?.name;
    if (!Object.hasOwn(annotations, DEFAULT_CONTAINER_ANNOTATION) && typeof firstApp === 'string') {
      annotations[DEFAULT_CONTAINER_ANNOTATION] = firstApp;
    }
  }
  spec.volumes = [...(spec.volumes ?? []), ...volumes];

  const status: InjectionStatus = {
    version: MESHTAP_VERSION,
    nativeSidecar: settings.nativeSidecar,
    initContainers: settings.nativeSidecar ? [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME] : [INIT_CONTAINER_NAME],
    containers: settings.nativeSidecar ? [] : [SIDECAR_CONTAINER_NAME],
    volumes: volumes.map((v) => v.name as string),
    mtlsMode: settings.mtlsMode,
  };
  annotations[STATUS_ANNOTATION] = JSON.stringify(status);
  return out;
}

/** Parses `meshtap.io/status` of an injected pod; undefined when absent or not ours. */
export function readInjectionStatus(pod: PodLike): InjectionStatus | undefined {
  const raw = stringMap(stringMap(pod?.metadata).annotations)[STATUS_ANNOTATION];
  if (typeof raw !== 'string') return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return isRecord(value) && typeof value.version === 'string' ? (value as unknown as InjectionStatus) : undefined;
  } catch {
    return undefined;
  }
}
