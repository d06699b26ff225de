/**
 * A lab scenario: a directory of ordinary Kubernetes YAML (Namespaces, Pods, Deployments,
 * Services). This file is pure: it parses and validates the documents, expands Deployments
 * into the pods a ReplicaSet would create, and assigns pod and service addresses. Every error
 * names the file and the object it is about.
 */
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { KUBERNETES_YAML_OPTIONS } from '../lib/yaml-json.ts';
import { MeshtapError } from '../lib/errors.ts';
import { isServiceIp, podIp, serviceIp } from './addresses.ts';
import { LAB_ERR_SCENARIO } from './errors.ts';

export interface ScenarioFile {
  /** Shown in errors; normally the path relative to the scenario directory. */
  path: string;
  text: string;
}

export type KubeObject = Record<string, unknown>;

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef: { fieldPath: string } };
}

export interface Probe {
  httpGet?: { path?: string; port: number | string; scheme?: string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  restartPolicy?: string;
  securityContext?: { runAsUser?: number; runAsGroup?: number };
  lifecycle?: { postStart?: { exec?: { command: string[] } } };
  [k: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<Record<string, unknown>>;
  serviceAccountName?: string;
  nodeName?: string;
  enableServiceLinks?: boolean;
  securityContext?: { runAsUser?: number; runAsGroup?: number };
  [k: string]: unknown;
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller: boolean }>;
    [k: string]: unknown;
  };
  spec: PodSpec;
}

export interface LabNamespace {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  source: string;
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort: number | string;
}

export interface LabService {
  name: string;
  namespace: string;
  /** Given in the YAML, or assigned by `assignAddresses`. */
  clusterIP?: string;
  selector: Record<string, string>;
  ports: ServicePort[];
  source: string;
}

export interface DesiredPod {
  pod: Pod;
  /** The Deployment (and its ReplicaSet) the pod belongs to, if any. */
  owner?: { kind: 'Deployment'; name: string; replicaSet: string };
  source: string;
}

export interface Scenario {
  namespaces: LabNamespace[];
  services: LabService[];
  pods: DesiredPod[];
}

export interface ParseOptions {
  /** Names of the built-in demo apps (`lab/apps/<name>.ts`), for image `meshtap/demo-<name>`. */
  demoApps: ReadonlySet<string>;
}

/** The namespaces every cluster has; a scenario may use them without declaring them. */
const IMPLICIT_NAMESPACES = ['default'];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const DEMO_IMAGE = /^(?:[^/]+\/)*meshtap\/demo-([a-z0-9][-a-z0-9]*)(?::[\w.-]+)?$/;

/** Downward-API fields the lab can fill in (`metadata.labels['k']` and `metadata.annotations['k']` too). */
export const SUPPORTED_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.podIP',
  'status.podIPs',
  'status.hostIP',
  'status.hostIPs',
];
const LABEL_FIELD = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

/** The ReplicaSet controller's alphabet for generated name parts (no vowels, no look-alikes). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function safeEncode(seed: string, length: number): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += NAME_ALPHABET[digest[i] % NAME_ALPHABET.length];
  return out;
}

/** A stable stand-in for the API server's uid, so re-running a scenario names things the same way. */
export function stableUid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Where {
  readonly file: string;
  readonly object: string;
  constructor(file: string, object: string) {
    this.file = file;
    this.object = object;
  }
  fail(message: string): never {
    throw new MeshtapError(LAB_ERR_SCENARIO, `${this.file}: ${this.object}: ${message}`);
  }
}

function stringMap(where: Where, value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) where.fail(`${field} must be a mapping of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') where.fail(`${field}.${k} must be a string (quote it in YAML), got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

function stringList(where: Where, value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) where.fail(`${field} must be a list of strings`);
  return value as string[];
}

function port(where: Where, value: unknown, field: string, named: boolean): number | string {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value;
  if (named && typeof value === 'string' && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 65535) return Number(value);
  if (named && typeof value === 'string' && DNS_LABEL.test(value) && value.length <= 15) return value;
  return where.fail(`${field} must be a port number 1-65535${named ? ' or a port name' : ''}, got ${JSON.stringify(value)}`);
}

function checkProbe(where: Where, value: unknown, field: string): Probe | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) where.fail(`${field} must be a mapping`);
  const kinds = ['httpGet', 'tcpSocket', 'exec', 'grpc'].filter((k) => value[k] !== undefined);
  if (kinds.length !== 1) where.fail(`${field} must have exactly one of httpGet, tcpSocket, exec`);
  if (kinds[0] === 'grpc') where.fail(`${field}.grpc probes are not supported by the lab (use httpGet, tcpSocket or exec)`);
  const probe: Probe = {};
  if (isRecord(value.httpGet)) {
    const scheme = value.httpGet.scheme;
    if (scheme !== undefined && scheme !== 'HTTP') where.fail(`${field}.httpGet.scheme ${JSON.stringify(scheme)} is not supported by the lab (only HTTP)`);
    const path = value.httpGet.path ?? '/';
    if (typeof path !== 'string' || !path.startsWith('/')) where.fail(`${field}.httpGet.path must start with "/"`);
    probe.httpGet = { path, port: port(where, value.httpGet.port, `${field}.httpGet.port`, true) };
  } else if (isRecord(value.tcpSocket)) {
    probe.tcpSocket = { port: port(where, value.tcpSocket.port, `${field}.tcpSocket.port`, true) };
  } else if (isRecord(value.exec)) {
    const command = stringList(where, value.exec.command, `${field}.exec.command`);
    if (!command || command.length === 0) where.fail(`${field}.exec.command must not be empty`);
    probe.exec = { command };
  } else {
    where.fail(`${field}.${kinds[0]} must be a mapping`);
  }
  for (const k of ['initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold'] as const) {
    const v = value[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) where.fail(`${field}.${k} must be a whole number`);
    probe[k] = v;
  }
  return probe;
}

function checkEnv(where: Where, value: unknown, field: string): EnvVar[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) where.fail(`${field} must be a list`);
  return value.map((e, i) => {
    const f = `${field}[${i}]`;
    if (!isRecord(e) || typeof e.name !== 'string' || !ENV_NAME.test(e.name)) where.fail(`${f}.name must be an environment variable name`);
    if (e.valueFrom !== undefined) {
      const fieldPath = isRecord(e.valueFrom) && isRecord(e.valueFrom.fieldRef) ? e.valueFrom.fieldRef.fieldPath : undefined;
      if (typeof fieldPath !== 'string') {
        const kind = isRecord(e.valueFrom) ? Object.keys(e.valueFrom).join(', ') : 'valueFrom';
        where.fail(`${f} (${e.name}): valueFrom.${kind} is not supported by the lab; use value or valueFrom.fieldRef`);
      }
      if (!SUPPORTED_FIELD_PATHS.includes(fieldPath) && !LABEL_FIELD.test(fieldPath)) {
        where.fail(`${f} (${e.name}): fieldRef.fieldPath "${fieldPath}" is not supported (one of ${SUPPORTED_FIELD_PATHS.join(', ')}, metadata.labels['…'], metadata.annotations['…'])`);
      }
      return { name: e.name, valueFrom: { fieldRef: { fieldPath } } };
    }
    if (e.value !== undefined && typeof e.value !== 'string') where.fail(`${f} (${e.name}): value must be a string (quote it in YAML)`);
    return { name: e.name, value: (e.value as string | undefined) ?? '' };
  });
}

function checkContainer(where: Where, value: unknown, field: string, options: ParseOptions, init: boolean): Container {
  if (!isRecord(value)) where.fail(`${field} must be a mapping`);
  const name = value.name;
  if (typeof name !== 'string' || !DNS_LABEL.test(name)) where.fail(`${field}.name must be a DNS label, got ${JSON.stringify(name)}`);
  const w: Where = new Where(where.file, `${where.object} container "${name}"`);
  const c: Container = { ...value, name };
  const image = value.image;
  if (image !== undefined && typeof image !== 'string') w.fail('image must be a string');
  c.command = stringList(w, value.command, 'command');
  c.args = stringList(w, value.args, 'args');
  if (!c.command || c.command.length === 0) {
    delete c.command;
    const app = typeof image === 'string' ? DEMO_IMAGE.exec(image)?.[1] : undefined;
    if (app === undefined) {
      w.fail(`has no command, and image ${JSON.stringify(image ?? null)} is not a built-in demo app (meshtap/demo-<app>): the lab runs a container's command, not its image`);
    }
    if (!options.demoApps.has(app)) {
      w.fail(`image ${image} names the demo app "${app}", which does not exist (built-in: ${[...options.demoApps].sort().join(', ') || 'none'})`);
    }
  }
  c.env = checkEnv(w, value.env, 'env');
  if (c.env === undefined) delete c.env;
  if (value.envFrom !== undefined) w.fail('envFrom is not supported by the lab; list the variables under env');
  if (value.ports !== undefined) {
    if (!Array.isArray(value.ports)) w.fail('ports must be a list');
    c.ports = value.ports.map((p, i) => {
      if (!isRecord(p)) w.fail(`ports[${i}] must be a mapping`);
      const containerPort = port(w, p.containerPort, `ports[${i}].containerPort`, false) as number;
      if (p.name !== undefined && (typeof p.name !== 'string' || !DNS_LABEL.test(p.name) || p.name.length > 15)) {
        w.fail(`ports[${i}].name must be a port name (at most 15 lower-case characters)`);
      }
      return { ...p, containerPort, ...(p.name !== undefined ? { name: p.name as string } : {}) };
    });
  }
  c.readinessProbe = checkProbe(w, value.readinessProbe, 'readinessProbe');
  if (c.readinessProbe === undefined) delete c.readinessProbe;
  c.startupProbe = checkProbe(w, value.startupProbe, 'startupProbe');
  if (c.startupProbe === undefined) delete c.startupProbe;
  if (value.securityContext !== undefined) {
    if (!isRecord(value.securityContext)) w.fail('securityContext must be a mapping');
    for (const k of ['runAsUser', 'runAsGroup']) {
      const v = value.securityContext[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) w.fail(`securityContext.${k} must be a uid/gid number`);
    }
  }
  if (value.restartPolicy !== undefined && (!init || value.restartPolicy !== 'Always')) {
    w.fail('restartPolicy is only allowed on init containers, as "Always" (a native sidecar)');
  }
  return c;
}

function checkPodSpec(where: Where, value: unknown, field: string, options: ParseOptions): PodSpec {
  if (!isRecord(value)) where.fail(`${field} must be a mapping`);
  if (value.hostNetwork === true) where.fail(`${field}.hostNetwork pods are not supported by the lab (every pod gets its own network namespace)`);
  if (!Array.isArray(value.containers) || value.containers.length === 0) where.fail(`${field}.containers must list at least one container`);
  const containers = value.containers.map((c, i) => checkContainer(where, c, `${field}.containers[${i}]`, options, false));
  let initContainers: Container[] | undefined;
  if (value.initContainers !== undefined) {
    if (!Array.isArray(value.initContainers)) where.fail(`${field}.initContainers must be a list`);
    initContainers = value.initContainers.map((c, i) => checkContainer(where, c, `${field}.initContainers[${i}]`, options, true));
  }
  const names = new Set<string>();
  for (const c of [...(initContainers ?? []), ...containers]) {
    if (names.has(c.name)) where.fail(`${field}: two containers are named "${c.name}"`);
    names.add(c.name);
  }
  const sa = value.serviceAccountName;
  if (sa !== undefined && (typeof sa !== 'string' || !DNS_SUBDOMAIN.test(sa))) where.fail(`${field}.serviceAccountName must be a Kubernetes name`);
  const spec: PodSpec = { ...value, containers };
  if (initContainers) spec.initContainers = initContainers;
  return spec;
}

function checkMetadata(where: Where, doc: KubeObject, namespaced: boolean): { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> } {
  const meta = doc.metadata;
  if (!isRecord(meta)) where.fail('metadata is missing');
  const name = meta.name;
  const label = doc.kind === 'Service' || doc.kind === 'Namespace';
  if (typeof name !== 'string' || !(label ? DNS_LABEL : DNS_SUBDOMAIN).test(name)) {
    where.fail(`metadata.name must be a lower-case DNS ${label ? 'label (at most 63 characters)' : 'name'}, got ${JSON.stringify(name ?? null)}`);
  }
  const ns = meta.namespace ?? (namespaced ? 'default' : '');
  if (typeof ns !== 'string' || (namespaced && !DNS_LABEL.test(ns))) where.fail(`metadata.namespace must be a namespace name, got ${JSON.stringify(ns)}`);
  if (meta.generateName !== undefined) where.fail('metadata.generateName is not supported by the lab; give the object a name');
  return { name, namespace: ns, labels: stringMap(where, meta.labels, 'metadata.labels'), annotations: stringMap(where, meta.annotations, 'metadata.annotations') };
}

const KINDS: Record<string, string> = { Namespace: 'v1', Pod: 'v1', Service: 'v1', Deployment: 'apps/v1', ServiceAccount: 'v1' };

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

interface Parsed {
  namespaces: LabNamespace[];
  services: LabService[];
  pods: DesiredPod[];
}

function addPod(out: Parsed, where: Where, pod: Pod, owner: DesiredPod['owner']): void {
  const { name, namespace } = pod.metadata;
  if (out.pods.some((p) => p.pod.metadata.name === name && p.pod.metadata.namespace === namespace)) {
    where.fail(`a pod named ${namespace}/${name} already exists in the scenario`);
  }
  out.pods.push({ pod, ...(owner ? { owner } : {}), source: where.file });
}

function parseDocument(out: Parsed, file: string, index: number, doc: unknown, options: ParseOptions): void {
  if (doc === null || doc === undefined) return;
  const at: Where = new Where(file, `document ${index + 1}`);
  if (!isRecord(doc)) at.fail('must be a Kubernetes object (a mapping with apiVersion, kind, metadata)');
  if (doc.kind === 'List' && Array.isArray(doc.items)) {
    doc.items.forEach((item, i) => parseDocument(out, file, index * 1000 + i, item, options));
    return;
  }
  const kind = doc.kind;
  if (typeof kind !== 'string' || !(kind in KINDS)) {
    at.fail(`kind ${JSON.stringify(kind ?? null)} is not supported by the lab (supported: ${Object.keys(KINDS).join(', ')})`);
  }
  const metaName = isRecord(doc.metadata) && typeof doc.metadata.name === 'string' ? doc.metadata.name : `#${index + 1}`;
  const where: Where = new Where(file, `${kind} "${metaName}"`);
  if (doc.apiVersion !== KINDS[kind]) where.fail(`apiVersion must be "${KINDS[kind]}", got ${JSON.stringify(doc.apiVersion ?? null)}`);
  const meta = checkMetadata(where, doc, kind !== 'Namespace');
  const nsWhere: Where = new Where(file, `${kind} "${meta.namespace ? `${meta.namespace}/` : ''}${meta.name}"`);

  // A service account is only a name here: pods name it (spec.serviceAccountName) and their
  // tokens, hence their SPIFFE identities, carry it. Accepted so that scenarios stay valid for a cluster.
  if (kind === 'ServiceAccount') return;
  if (kind === 'Namespace') {
    if (out.namespaces.some((n) => n.name === meta.name)) where.fail('declared twice');
    out.namespaces.push({ name: meta.name, labels: { 'kubernetes.io/metadata.name': meta.name, ...meta.labels }, annotations: meta.annotations, source: file });
    return;
  }
  if (kind === 'Service') {
    const spec = doc.spec;
    if (!isRecord(spec)) nsWhere.fail('spec is missing');
    if (spec.type !== undefined && spec.type !== 'ClusterIP') nsWhere.fail(`spec.type ${JSON.stringify(spec.type)} is not supported by the lab (only ClusterIP)`);
    if (spec.clusterIP === 'None') nsWhere.fail('headless services (clusterIP: None) are not supported by the lab');
    if (spec.clusterIP !== undefined && (typeof spec.clusterIP !== 'string' || !isServiceIp(spec.clusterIP))) {
      nsWhere.fail(`spec.clusterIP must be an address in 10.96.0.0/16, got ${JSON.stringify(spec.clusterIP)}`);
    }
    const selector = stringMap(nsWhere, spec.selector, 'spec.selector');
    if (Object.keys(selector).length === 0) nsWhere.fail('spec.selector must select pods (services without a selector are not supported by the lab)');
    const specPorts: unknown[] = Array.isArray(spec.ports) ? spec.ports : [];
    if (specPorts.length === 0) nsWhere.fail('spec.ports must list at least one port');
    const ports = specPorts.map((p, i): ServicePort => {
      if (!isRecord(p)) nsWhere.fail(`spec.ports[${i}] must be a mapping`);
      if (p.protocol !== undefined && p.protocol !== 'TCP') nsWhere.fail(`spec.ports[${i}].protocol ${JSON.stringify(p.protocol)} is not supported by the lab (TCP only)`);
      if (p.name !== undefined && (typeof p.name !== 'string' || !DNS_LABEL.test(p.name))) nsWhere.fail(`spec.ports[${i}].name must be a DNS label`);
      if (specPorts.length > 1 && p.name === undefined) nsWhere.fail(`spec.ports[${i}].name is required when a service has several ports`);
      const servicePort = port(nsWhere, p.port, `spec.ports[${i}].port`, false) as number;
      const targetPort = p.targetPort === undefined ? servicePort : port(nsWhere, p.targetPort, `spec.ports[${i}].targetPort`, true);
      return { ...(p.name !== undefined ? { name: p.name as string } : {}), port: servicePort, targetPort };
    });
    if (out.services.some((s) => s.name === meta.name && s.namespace === meta.namespace)) nsWhere.fail('declared twice');
    out.services.push({
      name: meta.name,
      namespace: meta.namespace,
      ...(typeof spec.clusterIP === 'string' ? { clusterIP: spec.clusterIP } : {}),
      selector,
      ports,
      source: file,
    });
    return;
  }
  if (kind === 'Pod') {
    const spec = checkPodSpec(nsWhere, doc.spec, 'spec', options);
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: meta.name,
        namespace: meta.namespace,
        uid: stableUid(`pod/${meta.namespace}/${meta.name}`),
        labels: meta.labels,
        annotations: meta.annotations,
      },
      spec,
    };
    addPod(out, nsWhere, pod, undefined);
    return;
  }
  // Deployment
  const spec = doc.spec;
  if (!isRecord(spec)) nsWhere.fail('spec is missing');
  const replicas = spec.replicas ?? 1;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0 || replicas > 50) nsWhere.fail('spec.replicas must be a whole number 0-50');
  const template = spec.template;
  if (!isRecord(template)) nsWhere.fail('spec.template is missing');
  const tmeta = isRecord(template.metadata) ? template.metadata : {};
  const labels = stringMap(nsWhere, tmeta.labels, 'spec.template.metadata.labels');
  const annotations = stringMap(nsWhere, tmeta.annotations, 'spec.template.metadata.annotations');
  const matchLabels = isRecord(spec.selector) ? stringMap(nsWhere, spec.selector.matchLabels, 'spec.selector.matchLabels') : {};
  if (Object.keys(matchLabels).length === 0) nsWhere.fail('spec.selector.matchLabels must not be empty');
  if (!selects(matchLabels, labels)) nsWhere.fail('spec.selector.matchLabels does not match spec.template.metadata.labels');
  const podSpec = checkPodSpec(nsWhere, template.spec, 'spec.template.spec', options);
  const hash = safeEncode(JSON.stringify({ labels, annotations, podSpec }), 10);
  const replicaSet = `${meta.name}-${hash}`;
  const rsUid = stableUid(`replicaset/${meta.namespace}/${replicaSet}`);
  for (let i = 0; i < replicas; i++) {
    const name = `${replicaSet}-${safeEncode(`${meta.namespace}/${replicaSet}/${i}`, 5)}`;
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: meta.namespace,
        uid: stableUid(`pod/${meta.namespace}/${name}`),
        labels: { ...labels, 'pod-template-hash': hash },
        annotations: { ...annotations },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet, uid: rsUid, controller: true }],
      },
      spec: structuredClone(podSpec),
    };
    addPod(out, nsWhere, pod, { kind: 'Deployment', name: meta.name, replicaSet });
  }
}

/** Parses and validates a scenario. Files are read in the order given (sort them for stable results). */
export function parseScenario(files: readonly ScenarioFile[], options: ParseOptions): Scenario {
  const out: Parsed = { namespaces: [], services: [], pods: [] };
  if (files.length === 0) throw new MeshtapError(LAB_ERR_SCENARIO, 'the scenario has no YAML files');
  for (const file of files) {
    const docs = parseAllDocuments(file.text, KUBERNETES_YAML_OPTIONS);
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, i) => {
      if (doc.errors.length > 0) throw new MeshtapError(LAB_ERR_SCENARIO, `${file.path}: document ${i + 1} is not valid YAML: ${doc.errors[0].message}`);
      parseDocument(out, file.path, i, doc.toJS(), options);
    });
  }
  const declared = new Set([...out.namespaces.map((n) => n.name)]);
  for (const implicit of IMPLICIT_NAMESPACES) {
    if (!declared.has(implicit)) out.namespaces.push({ name: implicit, labels: { 'kubernetes.io/metadata.name': implicit }, annotations: {}, source: '(built in)' });
  }
  const known = new Set(out.namespaces.map((n) => n.name));
  for (const { pod, source } of out.pods) {
    if (!known.has(pod.metadata.namespace)) {
      throw new MeshtapError(LAB_ERR_SCENARIO, `${source}: Pod "${pod.metadata.namespace}/${pod.metadata.name}": namespace "${pod.metadata.namespace}" is not declared in the scenario (add a Namespace object)`);
    }
  }
  for (const svc of out.services) {
    if (!known.has(svc.namespace)) {
      throw new MeshtapError(LAB_ERR_SCENARIO, `${svc.source}: Service "${svc.namespace}/${svc.name}": namespace "${svc.namespace}" is not declared in the scenario (add a Namespace object)`);
    }
  }
  if (out.pods.length === 0) throw new MeshtapError(LAB_ERR_SCENARIO, 'the scenario creates no pods');
  return out;
}

export interface AddressedPod extends DesiredPod {
  ip: string;
  /** Index of the pod on the node, which names its links. */
  index: number;
}

export interface Endpoint {
  pod: string;
  ip: string;
  port: number;
}

export interface AddressedServicePort extends ServicePort {
  endpoints: Endpoint[];
}

export interface AddressedService extends Omit<LabService, 'clusterIP' | 'ports'> {
  clusterIP: string;
  ports: AddressedServicePort[];
}

export interface AddressedScenario {
  namespaces: LabNamespace[];
  pods: AddressedPod[];
  services: AddressedService[];
}

/** The container port a service's named targetPort refers to in one pod, if it declares it. */
function resolveTargetPort(pod: Pod, target: number | string): number | undefined {
  if (typeof target === 'number') return target;
  for (const c of pod.spec.containers) for (const p of c.ports ?? []) if (p.name === target) return p.containerPort;
  return undefined;
}

/**
 * Gives every pod its IP and every service its VIP and endpoints. Pods are numbered in
 * scenario order; services keep a clusterIP the YAML gives and otherwise take the next free one.
 * Endpoints are every selected pod (the lab does not drop unready endpoints).
 */
export function assignAddresses(scenario: Scenario): AddressedScenario {
  const pods = scenario.pods.map((p, index) => ({ ...p, ip: podIp(index), index }));
  const taken = new Set(scenario.services.flatMap((s) => (s.clusterIP ? [s.clusterIP] : [])));
  let next = 0;
  const services = scenario.services.map((svc): AddressedService => {
    let clusterIP = svc.clusterIP;
    if (clusterIP === undefined) {
      while (taken.has(serviceIp(next))) next++;
      clusterIP = serviceIp(next++);
    }
    const selected = pods.filter((p) => p.pod.metadata.namespace === svc.namespace && selects(svc.selector, p.pod.metadata.labels));
    const ports = svc.ports.map((sp) => ({
      ...sp,
      endpoints: selected.flatMap((p) => {
        const target = resolveTargetPort(p.pod, sp.targetPort);
        return target === undefined ? [] : [{ pod: p.pod.metadata.name, ip: p.ip, port: target }];
      }),
    }));
    return { ...svc, clusterIP, ports };
  });
  const seen = new Map<string, string>();
  for (const s of services) {
    const other = seen.get(s.clusterIP);
    if (other) throw new MeshtapError(LAB_ERR_SCENARIO, `${s.source}: Service "${s.namespace}/${s.name}": clusterIP ${s.clusterIP} is also used by ${other}`);
    seen.set(s.clusterIP, `${s.namespace}/${s.name}`);
  }
  return { namespaces: scenario.namespaces, pods, services };
}

/** The demo app a container runs when it has no command (image `meshtap/demo-<app>`). */
export function demoAppOf(container: Container): string | undefined {
  if (container.command && container.command.length > 0) return undefined;
  return typeof container.image === 'string' ? DEMO_IMAGE.exec(container.image)?.[1] : undefined;
}
