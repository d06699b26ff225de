/**
 * The sidecar's configuration: the environment the webhook injects, validated once. One table
 * of readers over the environment gives the runtime check and the list of known variables;
 * every message names the variable, the value and what was expected. Hand-written rather than
 * a schema library, so the sidecar process does not load one.
 */
import { isIPv4 } from 'node:net';
import { suggestVariable as suggestKnownVariable, unknownVariableWarnings } from '../lib/unknown-variables.ts';
import { hostPortProblem } from '../lib/host-port.ts';
import { LOG_LEVELS, type LogLevel } from '../lib/log.ts';
import { MeshtapError } from '../lib/errors.ts';
import { SC_ERR_CONFIG } from './errors.ts';
import { maskOptionsFromEnv } from './mask/env-policy.ts';
import { TRUST_DOMAIN_EXPECTED, isTrustDomain } from '../certs/spiffe-id.ts';
import type { MaskPolicyOptions } from './mask/policy.ts';

export { LOG_LEVELS, type LogLevel } from '../lib/log.ts';

export const MTLS_MODES = ['off', 'permissive', 'strict'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

/** How records travel to the collector: see `shipper/collector-credentials.ts`. */
export const COLLECTOR_TLS_MODES = ['auto', 'on', 'off'] as const;
export type CollectorTlsMode = (typeof COLLECTOR_TLS_MODES)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A problem with one variable: the variable is named when the message is built. */
class Bad {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

type Reader<T> = (value: string) => T | Bad;

function integer(min: number, max: number, expected: string): Reader<number> {
  return (s) => (/^\d+$/.test(s) && Number(s) >= min && Number(s) <= max ? Number(s) : new Bad(expected));
}

const tcpPort = () => integer(1, 65535, 'expected a TCP port 1-65535');

function matching(test: (s: string) => boolean, expected: string): Reader<string> {
  return (s) => (test(s) ? s : new Bad(expected));
}

/** `host:port` as the injector checks it (`lib/host-port.ts`): the same values pass both. */
const hostPort = (): Reader<string> => (s) => {
  const problem = hostPortProblem(s);
  return problem === undefined ? s : new Bad(`expected host:port (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535): ${problem}`);
};

const absolutePath = () => matching((s) => s.startsWith('/') && !s.includes('\0'), 'expected an absolute file path');

function oneOf<const T extends readonly [string, ...string[]]>(values: T): Reader<T[number]> {
  return (s) => ((values as readonly string[]).includes(s) ? (s as T[number]) : new Bad(`expected one of ${values.join(', ')}`));
}

const text: Reader<string> = (s) => s;

const PROBE_PATH = /^\/[\x21-\x7e]*$/;

/** `8080=/healthz|/ready,9090=/live` (what the webhook writes from the pod's httpGet probes). */
function parseProbePaths(s: string): Record<number, string[]> | Bad {
  const out: Record<number, string[]> = {};
  for (const entry of s.split(',')) {
    const eq = entry.indexOf('=');
    const port = entry.slice(0, eq).trim();
    const paths = entry.slice(eq + 1).split('|').map((p) => p.trim());
    if (eq <= 0 || !/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535 || paths.some((p) => !PROBE_PATH.test(p))) {
      return new Bad('expected PORT=/path|/path,... (TCP ports 1-65535, paths starting with /)');
    }
    out[Number(port)] = [...new Set([...(out[Number(port)] ?? []), ...paths])];
  }
  return out;
}

/** Defaults, in one place so `--help` and the docs can show them. */
export const SIDECAR_DEFAULTS = Object.freeze({
  inboundPort: 15006,
  outboundPort: 15001,
  adminPort: 15020,
  /** UDP and TCP on 127.0.0.1: where `meshtap init` redirects the app's DNS (port 53). */
  dnsPort: 15053,
  maxBodyBytes: 65536,
  proxyUid: 1337,
  logLevel: 'info' as LogLevel,
  capture: true,
  /**
   * Detection reads a copy and never holds bytes back, so this only bounds how long a client
   * that has started to speak may trickle its first bytes before the connection is classed as
   * opaque TCP. 100 ms covers a slow first segment without keeping copies around for long.
   */
  detectTimeoutMs: 100,
  /**
   * Bytes handed to the capture worker and not processed yet, for the sidecar and per
   * connection: the bound on capture's memory when it falls behind (capture-worker/README.md).
   */
  captureBufferBytes: 16 * 1024 * 1024,
  captureConnectionBufferBytes: 4 * 1024 * 1024,
  /** Kubernetes gives 30 s by default between SIGTERM and SIGKILL; 5 s leaves room for the app. */
  drainSeconds: 5,
  /** When the node binary's pages that only starting used are given back (trim-pages.ts); 0: never. */
  trimAfterSeconds: 10,
  /** Without MESHTAP_MTLS_MODE: `permissive` when MESHTAP_CA_ADDR is set, else `off`. */
  mtlsMode: 'off' as MtlsMode,
  /** How long /ready waits for a first certificate before reporting ready in passthrough. */
  caTimeoutSeconds: 10,
  /** 0: the CA's maximum (24 h). */
  certTtlSeconds: 0,
  trustDomain: 'cluster.local',
  serviceAccount: 'default',
  /** mTLS to the collector whenever the sidecar holds a workload certificate. */
  collectorTls: 'auto' as CollectorTlsMode,
  /** The name the collector's serving certificate must carry when MESHTAP_COLLECTOR_ADDR is an IP. */
  collectorServerName: 'meshtap-collector.meshtap-system.svc',
});

/**
 * How each variable is read: `required` carries the message for an unset variable; otherwise
 * an unset variable takes `fallback` (undefined when there is none).
 */
interface VariableRule<T> {
  read: Reader<T>;
  required?: string;
  fallback?: T;
}

const optional = <T>(read: Reader<T>): { read: Reader<T> } => ({ read });
const required = <T>(read: Reader<T>, message: string): { read: Reader<T>; required: string } => ({ read, required: message });
const withDefault = <T>(read: Reader<T>, fallback: NoInfer<T>): { read: Reader<T>; fallback: T } => ({ read, fallback });

const dnsName = (expected: string) => matching((s) => DNS_SUBDOMAIN.test(s), expected);

/** Every variable the sidecar reads, in the order problems are reported. Unknown `MESHTAP_*` variables produce a warning. */
const SIDECAR_ENV = {
  POD_NAME: required(dnsName('expected a Kubernetes object name (lower-case DNS subdomain)'), 'required: the pod name (the webhook sets it from metadata.name)'),
  POD_NAMESPACE: required(
    matching((s) => DNS_LABEL.test(s), 'expected a Kubernetes namespace name (lower-case DNS label)'),
    'required: the pod namespace (the webhook sets it from metadata.namespace)',
  ),
  POD_IP: required(matching(isIPv4, 'expected an IPv4 address'), 'required: the pod IPv4 address (the webhook sets it from status.podIP)'),
  NODE_NAME: optional(dnsName('expected a Kubernetes node name (lower-case DNS subdomain)')),
  SERVICE_ACCOUNT: withDefault(dnsName('expected a service account name (lower-case DNS subdomain)'), SIDECAR_DEFAULTS.serviceAccount),
  MESHTAP_COLLECTOR_ADDR: optional(hostPort()),
  MESHTAP_COLLECTOR_TLS: withDefault(oneOf(COLLECTOR_TLS_MODES), SIDECAR_DEFAULTS.collectorTls),
  MESHTAP_COLLECTOR_SERVER_NAME: withDefault(
    dnsName('expected a lower-case DNS name (the collector serving certificate\'s name)'),
    SIDECAR_DEFAULTS.collectorServerName,
  ),
  MESHTAP_INBOUND_PORT: withDefault(tcpPort(), SIDECAR_DEFAULTS.inboundPort),
  MESHTAP_OUTBOUND_PORT: withDefault(tcpPort(), SIDECAR_DEFAULTS.outboundPort),
  MESHTAP_ADMIN_PORT: withDefault(tcpPort(), SIDECAR_DEFAULTS.adminPort),
  MESHTAP_DNS_PORT: withDefault(integer(1, 65535, 'expected a port 1-65535 (UDP and TCP)'), SIDECAR_DEFAULTS.dnsPort),
  MESHTAP_MAX_BODY_BYTES: withDefault(integer(0, 64 * 1024 * 1024, 'expected a number of bytes 0-67108864'), SIDECAR_DEFAULTS.maxBodyBytes),
  // Up to 2147483647 as init and the injector (Kubernetes' runAsUser); 0 is refused there, where it
  // would exempt every root process from capture, and taken here, where it only names who this process should be.
  MESHTAP_PROXY_UID: withDefault(integer(0, 2147483647, 'expected a numeric uid 0-2147483647'), SIDECAR_DEFAULTS.proxyUid),
  /** The init container's variable; accepted so a shared env block does not warn. Defaults to the uid. */
  MESHTAP_PROXY_GID: optional(integer(0, 2147483647, 'expected a numeric gid 0-2147483647')),
  MESHTAP_LOG_LEVEL: withDefault(oneOf(LOG_LEVELS), SIDECAR_DEFAULTS.logLevel),
  MESHTAP_CAPTURE: withDefault<boolean>((s) => {
    const v = oneOf(['on', 'off'])(s);
    return v instanceof Bad ? v : v === 'on';
  }, SIDECAR_DEFAULTS.capture),
  MESHTAP_DETECT_TIMEOUT_MS: withDefault(integer(1, 10000, 'expected milliseconds 1-10000'), SIDECAR_DEFAULTS.detectTimeoutMs),
  MESHTAP_CAPTURE_BUFFER_BYTES: withDefault(integer(65536, 1024 * 1024 * 1024, 'expected a number of bytes 65536-1073741824'), SIDECAR_DEFAULTS.captureBufferBytes),
  MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES: withDefault(
    integer(16384, 1024 * 1024 * 1024, 'expected a number of bytes 16384-1073741824'),
    SIDECAR_DEFAULTS.captureConnectionBufferBytes,
  ),
  MESHTAP_DRAIN_SECONDS: withDefault(integer(0, 3600, 'expected seconds 0-3600'), SIDECAR_DEFAULTS.drainSeconds),
  MESHTAP_TRIM_AFTER_SECONDS: withDefault(integer(0, 3600, 'expected seconds 0-3600 (0: never)'), SIDECAR_DEFAULTS.trimAfterSeconds),
  HOST_IP: optional(matching(isIPv4, 'expected the node IPv4 address (the webhook sets it from status.hostIP)')),
  MESHTAP_MTLS_MODE: optional(oneOf(MTLS_MODES)),
  MESHTAP_CA_TIMEOUT_SECONDS: withDefault(integer(0, 3600, 'expected seconds 0-3600'), SIDECAR_DEFAULTS.caTimeoutSeconds),
  MESHTAP_CERT_TTL_SECONDS: withDefault(integer(0, 24 * 3600, 'expected seconds 0-86400 (0: the CA maximum)'), SIDECAR_DEFAULTS.certTtlSeconds),
  MESHTAP_PROBE_PORTS: optional<number[]>((s) =>
    s.split(',').every((p) => /^\d+$/.test(p.trim()) && Number(p) >= 1 && Number(p) <= 65535)
      ? [...new Set(s.split(',').map((p) => Number(p.trim())))]
      : new Bad('expected a comma-separated list of TCP ports 1-65535'),
  ),
  MESHTAP_PROBE_PATHS: optional<Record<number, string[]>>(parseProbePaths),
  MESHTAP_CA_ADDR: optional(hostPort()),
  MESHTAP_CONTROLLER_ADDR: optional(hostPort()),
  MESHTAP_TOKEN_FILE: optional(absolutePath()),
  MESHTAP_TRUST_BUNDLE: optional(absolutePath()),
  /** gRPC schemas: FileDescriptorSet files (`protoc --include_imports --descriptor_set_out`), comma-separated. */
  MESHTAP_GRPC_DESCRIPTORS: optional<string[]>((s) => {
    const paths = s.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
    return paths.length > 0 && paths.every((p) => p.startsWith('/') && !p.includes('\0')) ? paths : new Bad('expected comma-separated absolute paths of FileDescriptorSet files');
  }),
  MESHTAP_TRUST_DOMAIN: withDefault(matching(isTrustDomain, `expected a SPIFFE trust domain: ${TRUST_DOMAIN_EXPECTED}`), SIDECAR_DEFAULTS.trustDomain),
  // Masking policy additions: validated by mask/env-policy.ts below.
  MESHTAP_MASK_KEYS: optional(text),
  MESHTAP_MASK_HEADERS: optional(text),
  MESHTAP_MASK_PATTERNS: optional(text),
  MESHTAP_MASK_SCAN_BYTES: optional(text),
  MESHTAP_MASK_UNSCANNED: optional(text),
} satisfies Record<string, VariableRule<unknown>>;

type SidecarEnvName = keyof typeof SIDECAR_ENV;
type RuleValue<R> = R extends VariableRule<infer T> ? T : never;
/** The environment once read: a variable with a required message or a fallback always has a value. */
type SidecarEnv = {
  [K in SidecarEnvName]: (typeof SIDECAR_ENV)[K] extends { required: string } | { fallback: unknown }
    ? RuleValue<(typeof SIDECAR_ENV)[K]>
    : RuleValue<(typeof SIDECAR_ENV)[K]> | undefined;
};

export const SIDECAR_ENV_VARS: readonly string[] = Object.freeze(Object.keys(SIDECAR_ENV));

export interface SidecarConfig {
  readonly pod: {
    readonly name: string;
    readonly namespace: string;
    readonly ip: string;
    readonly node: string | undefined;
    readonly serviceAccount: string;
  };
  readonly collectorAddr: string | undefined;
  readonly collectorTls: { readonly mode: CollectorTlsMode; readonly serverName: string };
  readonly inboundPort: number;
  readonly outboundPort: number;
  readonly adminPort: number;
  /** The DNS listener (UDP and TCP on 127.0.0.1), where init redirects the app's DNS. */
  readonly dnsPort: number;
  readonly maxBodyBytes: number;
  readonly proxyUid: number;
  readonly proxyGid: number;
  readonly logLevel: LogLevel;
  readonly capture: boolean;
  readonly detectTimeoutMs: number;
  readonly captureBufferBytes: number;
  readonly captureConnectionBufferBytes: number;
  readonly drainSeconds: number;
  readonly trimAfterSeconds: number;
  readonly mtls: {
    readonly mode: MtlsMode;
    readonly caTimeoutSeconds: number;
    readonly certTtlSeconds: number;
    readonly probePorts: readonly number[];
    /** Probe ports probed over plain HTTP only, with the paths the kubelet asks (strict: nothing else passes). */
    readonly probePaths: Readonly<Record<number, readonly string[]>>;
    readonly hostIp: string | undefined;
    readonly caAddr: string | undefined;
    readonly controllerAddr: string | undefined;
    readonly tokenFile: string | undefined;
    readonly trustBundle: string | undefined;
    readonly trustDomain: string;
  };
  /** Plain options (the config is frozen); `resolveMaskPolicy` turns them into the policy. */
  readonly mask: Readonly<MaskPolicyOptions>;
  /** FileDescriptorSet files for gRPC field names (read at start by the command). */
  readonly grpcDescriptors: readonly string[];
  /** Non-fatal findings (unknown variables, settings not in effect yet), for the log. */
  readonly warnings: readonly string[];
}

interface Problem {
  name: string;
  message: string;
}

/** Each variable read on its own; problems in the table's order. */
function readVariables(input: Record<string, string>, problems: Problem[]): SidecarEnv {
  const env: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(SIDECAR_ENV) as Array<[string, VariableRule<unknown>]>) {
    const raw = input[name];
    if (raw === undefined) {
      if (r.required !== undefined) problems.push({ name, message: r.required });
      env[name] = r.fallback;
      continue;
    }
    const value = r.read(raw);
    if (value instanceof Bad) problems.push({ name, message: value.message });
    else env[name] = value;
  }
  return env as SidecarEnv;
}

/** What no single variable shows: the masking variables together, listener ports, mTLS settings that need each other. */
function checkTogether(env: SidecarEnv, problems: Problem[], given: Readonly<Record<string, string>>): void {
  for (const p of maskOptionsFromEnv(env, env.MESHTAP_MAX_BODY_BYTES).problems) problems.push(p);
  const ports: Array<[string, number | undefined]> = [
    ['MESHTAP_INBOUND_PORT', env.MESHTAP_INBOUND_PORT],
    ['MESHTAP_OUTBOUND_PORT', env.MESHTAP_OUTBOUND_PORT],
    ['MESHTAP_ADMIN_PORT', env.MESHTAP_ADMIN_PORT],
    ['MESHTAP_DNS_PORT', env.MESHTAP_DNS_PORT],
  ];
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      if (ports[i][1] !== undefined && ports[i][1] === ports[j][1]) {
        // The variable that was set is the one to change: the other keeps its default.
        const [blamed, other] = given[ports[j][0]] !== undefined || given[ports[i][0]] === undefined ? [ports[j][0], ports[i][0]] : [ports[i][0], ports[j][0]];
        problems.push({ name: blamed, message: `expected a port different from ${other} (${ports[i][1]}${given[other] === undefined ? ', its default' : ''})` });
      }
    }
  }
  for (const port of Object.keys(env.MESHTAP_PROBE_PATHS ?? {})) {
    if (!(env.MESHTAP_PROBE_PORTS ?? []).includes(Number(port))) {
      problems.push({ name: 'MESHTAP_PROBE_PATHS', message: `port ${port} is not in MESHTAP_PROBE_PORTS` });
    }
  }
  const total = env.MESHTAP_CAPTURE_BUFFER_BYTES;
  const perConnection = env.MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES;
  if (total !== undefined && perConnection !== undefined && perConnection > total) {
    problems.push({ name: 'MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES', message: `expected at most MESHTAP_CAPTURE_BUFFER_BYTES (${total})` });
  }
  if (env.MESHTAP_COLLECTOR_TLS === 'on' && (env.MESHTAP_CA_ADDR === undefined || env.MESHTAP_MTLS_MODE === 'off')) {
    problems.push({ name: 'MESHTAP_COLLECTOR_TLS', message: 'on needs a workload certificate: expected MESHTAP_CA_ADDR set and MESHTAP_MTLS_MODE not off (or auto/off)' });
  }
  if (env.MESHTAP_MTLS_MODE !== undefined && env.MESHTAP_MTLS_MODE !== 'off' && env.MESHTAP_CA_ADDR === undefined) {
    problems.push({ name: 'MESHTAP_MTLS_MODE', message: 'expected MESHTAP_CA_ADDR to be set as well, or mode off' });
  }
}

function toConfig(env: SidecarEnv): Omit<SidecarConfig, 'warnings'> {
  return {
    pod: {
      name: env.POD_NAME,
      namespace: env.POD_NAMESPACE,
      ip: env.POD_IP,
      node: env.NODE_NAME,
      serviceAccount: env.SERVICE_ACCOUNT,
    },
    collectorAddr: env.MESHTAP_COLLECTOR_ADDR,
    collectorTls: { mode: env.MESHTAP_COLLECTOR_TLS, serverName: env.MESHTAP_COLLECTOR_SERVER_NAME },
    inboundPort: env.MESHTAP_INBOUND_PORT,
    outboundPort: env.MESHTAP_OUTBOUND_PORT,
    adminPort: env.MESHTAP_ADMIN_PORT,
    dnsPort: env.MESHTAP_DNS_PORT,
    maxBodyBytes: env.MESHTAP_MAX_BODY_BYTES,
    proxyUid: env.MESHTAP_PROXY_UID,
    proxyGid: env.MESHTAP_PROXY_GID ?? env.MESHTAP_PROXY_UID,
    logLevel: env.MESHTAP_LOG_LEVEL,
    capture: env.MESHTAP_CAPTURE,
    detectTimeoutMs: env.MESHTAP_DETECT_TIMEOUT_MS,
    captureBufferBytes: env.MESHTAP_CAPTURE_BUFFER_BYTES,
    captureConnectionBufferBytes: env.MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES,
    drainSeconds: env.MESHTAP_DRAIN_SECONDS,
    trimAfterSeconds: env.MESHTAP_TRIM_AFTER_SECONDS,
    mtls: {
      mode: env.MESHTAP_MTLS_MODE ?? (env.MESHTAP_CA_ADDR !== undefined ? 'permissive' : SIDECAR_DEFAULTS.mtlsMode),
      caTimeoutSeconds: env.MESHTAP_CA_TIMEOUT_SECONDS,
      certTtlSeconds: env.MESHTAP_CERT_TTL_SECONDS,
      probePorts: env.MESHTAP_PROBE_PORTS ?? [],
      probePaths: env.MESHTAP_PROBE_PATHS ?? {},
      hostIp: env.HOST_IP,
      caAddr: env.MESHTAP_CA_ADDR,
      controllerAddr: env.MESHTAP_CONTROLLER_ADDR,
      tokenFile: env.MESHTAP_TOKEN_FILE,
      trustBundle: env.MESHTAP_TRUST_BUNDLE,
      trustDomain: env.MESHTAP_TRUST_DOMAIN,
    },
    mask: maskOptionsFromEnv(env, env.MESHTAP_MAX_BODY_BYTES).options,
    grpcDescriptors: env.MESHTAP_GRPC_DESCRIPTORS ?? [],
  };
}

/** The closest known variable to a misspelt one, if any is close enough to be a likely typo. */
export function suggestVariable(name: string, known: readonly string[] = SIDECAR_ENV_VARS): string | undefined {
  return suggestKnownVariable(name, known);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Environment → frozen config. Empty variables count as unset (Kubernetes renders an unset
 * downward-API field as ""). Throws `MeshtapError(SC_ERR_CONFIG)` on the first bad value(s).
 */
export function resolveSidecarConfig(env: Record<string, string | undefined>): SidecarConfig {
  const input: Record<string, string> = {};
  for (const name of SIDECAR_ENV_VARS) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') input[name] = value.trim();
  }
  const problems: Problem[] = [];
  const vars = readVariables(input, problems);
  checkTogether(vars, problems, input);
  if (problems.length > 0) {
    const text = problems.map(({ name, message }) => {
      const value = input[name];
      return value === undefined ? `${name} is not set: ${message}` : `${name}="${value}": ${message}`;
    });
    throw new MeshtapError(SC_ERR_CONFIG, text.join('; '));
  }
  const config = toConfig(vars);
  const warnings: string[] = unknownVariableWarnings(env, SIDECAR_ENV_VARS);
  const mtls = config.mtls;
  if (mtls.mode !== 'off') {
    if (mtls.trustBundle === undefined) warnings.push('MESHTAP_TRUST_BUNDLE is not set: the CA cannot be verified, so no certificate is requested and traffic stays plaintext');
    if (mtls.tokenFile === undefined) warnings.push('MESHTAP_TOKEN_FILE is not set: the CA cannot be asked for a certificate, so traffic stays plaintext');
    if (mtls.controllerAddr === undefined) warnings.push('MESHTAP_CONTROLLER_ADDR is not set: no destination is known to be meshed, so outbound traffic stays plaintext');
    if (config.collectorTls.mode === 'on' && (mtls.trustBundle === undefined || mtls.tokenFile === undefined)) {
      warnings.push('MESHTAP_COLLECTOR_TLS=on without a workload certificate: records cannot reach the collector and are counted as dropped');
    }
    if (mtls.mode === 'strict' && mtls.probePorts.length > 0 && mtls.hostIp === undefined) {
      warnings.push('MESHTAP_PROBE_PORTS without HOST_IP: in strict mode the probe ports accept plaintext from any source');
    }
  }
  return deepFreeze({ ...config, warnings });
}
