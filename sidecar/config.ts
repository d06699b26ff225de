/**
 * The sidecar's configuration: the environment the webhook injects, validated once.
 * One zod schema over the environment gives both the runtime check and the `SidecarConfig`
 * type; every message names the variable, the value and what was expected.
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { closestMatch } from '../lib/edit-distance.ts';
import { MeshtapError } from '../lib/errors.ts';
import { SC_ERR_CONFIG } from './errors.ts';
import { maskOptionsFromEnv } from './mask/env-policy.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MTLS_MODES = ['off', 'permissive', 'strict'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

/** How records travel to the collector: see `shipper/collector-credentials.ts`. */
export const COLLECTOR_TLS_MODES = ['auto', 'on', 'off'] as const;
export type CollectorTlsMode = (typeof COLLECTOR_TLS_MODES)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?)*$/;

function integer(min: number, max: number, expected: string) {
  return z
    .string()
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, { error: expected })
    .transform(Number);
}

const tcpPort = () => integer(1, 65535, 'expected a TCP port 1-65535');

/** `host:port` where host is a DNS name, an IPv4 address or a bracketed IPv6 address. */
function isHostPort(value: string): boolean {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  if (!m) return false;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return false;
  return m[1].startsWith('[') || HOSTNAME.test(m[1]);
}

const hostPort = () =>
  z.string().refine(isHostPort, { error: 'expected host:port (a DNS name or IP address, and a port 1-65535)' });

const absolutePath = () => z.string().refine((s) => s.startsWith('/') && !s.includes('\0'), { error: 'expected an absolute file path' });

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

/** Defaults, in one place so `--help` and the docs can show them. */
export const SIDECAR_DEFAULTS = Object.freeze({
  inboundPort: 15006,
  outboundPort: 15001,
  adminPort: 15020,
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

/** Every variable the sidecar reads. Unknown `MESHTAP_*` variables produce a warning. */
export const sidecarEnvSchema = z
  .object({
    POD_NAME: z.string({ error: 'required: the pod name (the webhook sets it from metadata.name)' }).refine((s) => DNS_SUBDOMAIN.test(s), {
      error: 'expected a Kubernetes object name (lower-case DNS subdomain)',
    }),
    POD_NAMESPACE: z
      .string({ error: 'required: the pod namespace (the webhook sets it from metadata.namespace)' })
      .refine((s) => DNS_LABEL.test(s), { error: 'expected a Kubernetes namespace name (lower-case DNS label)' }),
    POD_IP: z.string({ error: 'required: the pod IPv4 address (the webhook sets it from status.podIP)' }).refine((s) => isIPv4(s), {
      error: 'expected an IPv4 address',
    }),
    NODE_NAME: z
      .string()
      .refine((s) => DNS_SUBDOMAIN.test(s), { error: 'expected a Kubernetes node name (lower-case DNS subdomain)' })
      .optional(),
    SERVICE_ACCOUNT: z
      .string()
      .refine((s) => DNS_SUBDOMAIN.test(s), { error: 'expected a service account name (lower-case DNS subdomain)' })
      .default(SIDECAR_DEFAULTS.serviceAccount),
    MESHTAP_COLLECTOR_ADDR: hostPort().optional(),
    MESHTAP_COLLECTOR_TLS: oneOf(COLLECTOR_TLS_MODES).default(SIDECAR_DEFAULTS.collectorTls),
    MESHTAP_COLLECTOR_SERVER_NAME: z
      .string()
      .refine((s) => DNS_SUBDOMAIN.test(s), { error: 'expected a lower-case DNS name (the collector serving certificate\'s name)' })
      .default(SIDECAR_DEFAULTS.collectorServerName),
    MESHTAP_INBOUND_PORT: tcpPort().default(SIDECAR_DEFAULTS.inboundPort),
    MESHTAP_OUTBOUND_PORT: tcpPort().default(SIDECAR_DEFAULTS.outboundPort),
    MESHTAP_ADMIN_PORT: tcpPort().default(SIDECAR_DEFAULTS.adminPort),
    MESHTAP_MAX_BODY_BYTES: integer(0, 64 * 1024 * 1024, 'expected a number of bytes 0-67108864').default(SIDECAR_DEFAULTS.maxBodyBytes),
    MESHTAP_PROXY_UID: integer(0, 2147483647, 'expected a numeric uid 0-2147483647').default(SIDECAR_DEFAULTS.proxyUid),
    /** The init container's variable; accepted so a shared env block does not warn. Defaults to the uid. */
    MESHTAP_PROXY_GID: integer(0, 2147483647, 'expected a numeric gid 0-2147483647').optional(),
    MESHTAP_LOG_LEVEL: oneOf(LOG_LEVELS).default(SIDECAR_DEFAULTS.logLevel),
    MESHTAP_CAPTURE: oneOf(['on', 'off'])
      .transform((v) => v === 'on')
      .default(SIDECAR_DEFAULTS.capture),
    MESHTAP_DETECT_TIMEOUT_MS: integer(1, 10000, 'expected milliseconds 1-10000').default(SIDECAR_DEFAULTS.detectTimeoutMs),
    MESHTAP_CAPTURE_BUFFER_BYTES: integer(65536, 1024 * 1024 * 1024, 'expected a number of bytes 65536-1073741824').default(SIDECAR_DEFAULTS.captureBufferBytes),
    MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES: integer(16384, 1024 * 1024 * 1024, 'expected a number of bytes 16384-1073741824').default(
      SIDECAR_DEFAULTS.captureConnectionBufferBytes,
    ),
    MESHTAP_DRAIN_SECONDS: integer(0, 3600, 'expected seconds 0-3600').default(SIDECAR_DEFAULTS.drainSeconds),
    HOST_IP: z
      .string()
      .refine((s) => isIPv4(s), { error: 'expected the node IPv4 address (the webhook sets it from status.hostIP)' })
      .optional(),
    MESHTAP_MTLS_MODE: oneOf(MTLS_MODES).optional(),
    MESHTAP_CA_TIMEOUT_SECONDS: integer(0, 3600, 'expected seconds 0-3600').default(SIDECAR_DEFAULTS.caTimeoutSeconds),
    MESHTAP_CERT_TTL_SECONDS: integer(0, 24 * 3600, 'expected seconds 0-86400 (0: the CA maximum)').default(SIDECAR_DEFAULTS.certTtlSeconds),
    MESHTAP_PROBE_PORTS: z
      .string()
      .refine((s) => s.split(',').every((p) => /^\d+$/.test(p.trim()) && Number(p) >= 1 && Number(p) <= 65535), {
        error: 'expected a comma-separated list of TCP ports 1-65535',
      })
      .transform((s) => [...new Set(s.split(',').map((p) => Number(p.trim())))])
      .optional(),
    MESHTAP_CA_ADDR: hostPort().optional(),
    MESHTAP_CONTROLLER_ADDR: hostPort().optional(),
    MESHTAP_TOKEN_FILE: absolutePath().optional(),
    MESHTAP_TRUST_BUNDLE: absolutePath().optional(),
    MESHTAP_TRUST_DOMAIN: z
      .string()
      .refine((s) => DNS_SUBDOMAIN.test(s), { error: 'expected a trust domain (lower-case DNS name, e.g. cluster.local)' })
      .default(SIDECAR_DEFAULTS.trustDomain),
    // Masking policy additions: validated by mask/env-policy.ts below.
    MESHTAP_MASK_KEYS: z.string().optional(),
    MESHTAP_MASK_HEADERS: z.string().optional(),
    MESHTAP_MASK_PATTERNS: z.string().optional(),
    MESHTAP_MASK_SCAN_BYTES: z.string().optional(),
    MESHTAP_MASK_UNSCANNED: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    for (const p of maskOptionsFromEnv(env, env.MESHTAP_MAX_BODY_BYTES).problems) ctx.addIssue({ code: 'custom', path: [p.name], message: p.message });
    const ports: Array<[string, number]> = [
      ['MESHTAP_INBOUND_PORT', env.MESHTAP_INBOUND_PORT],
      ['MESHTAP_OUTBOUND_PORT', env.MESHTAP_OUTBOUND_PORT],
      ['MESHTAP_ADMIN_PORT', env.MESHTAP_ADMIN_PORT],
    ];
    for (let i = 0; i < ports.length; i++) {
      for (let j = i + 1; j < ports.length; j++) {
        if (ports[i][1] === ports[j][1]) {
          ctx.addIssue({ code: 'custom', path: [ports[j][0]], message: `expected a port different from ${ports[i][0]} (${ports[i][1]})` });
        }
      }
    }
    if (env.MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES > env.MESHTAP_CAPTURE_BUFFER_BYTES) {
      ctx.addIssue({ code: 'custom', path: ['MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES'], message: `expected at most MESHTAP_CAPTURE_BUFFER_BYTES (${env.MESHTAP_CAPTURE_BUFFER_BYTES})` });
    }
    if (env.MESHTAP_COLLECTOR_TLS === 'on' && (env.MESHTAP_CA_ADDR === undefined || env.MESHTAP_MTLS_MODE === 'off')) {
      ctx.addIssue({ code: 'custom', path: ['MESHTAP_COLLECTOR_TLS'], message: 'on needs a workload certificate: expected MESHTAP_CA_ADDR set and MESHTAP_MTLS_MODE not off (or auto/off)' });
    }
    if (env.MESHTAP_MTLS_MODE !== undefined && env.MESHTAP_MTLS_MODE !== 'off' && env.MESHTAP_CA_ADDR === undefined) {
      ctx.addIssue({ code: 'custom', path: ['MESHTAP_MTLS_MODE'], message: 'expected MESHTAP_CA_ADDR to be set as well, or mode off' });
    }
  })
  .transform((env) => ({
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
    maxBodyBytes: env.MESHTAP_MAX_BODY_BYTES,
    proxyUid: env.MESHTAP_PROXY_UID,
    proxyGid: env.MESHTAP_PROXY_GID ?? env.MESHTAP_PROXY_UID,
    logLevel: env.MESHTAP_LOG_LEVEL,
    capture: env.MESHTAP_CAPTURE,
    detectTimeoutMs: env.MESHTAP_DETECT_TIMEOUT_MS,
    captureBufferBytes: env.MESHTAP_CAPTURE_BUFFER_BYTES,
    captureConnectionBufferBytes: env.MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES,
    drainSeconds: env.MESHTAP_DRAIN_SECONDS,
    mtls: {
      mode: env.MESHTAP_MTLS_MODE ?? (env.MESHTAP_CA_ADDR !== undefined ? 'permissive' : SIDECAR_DEFAULTS.mtlsMode),
      caTimeoutSeconds: env.MESHTAP_CA_TIMEOUT_SECONDS,
      certTtlSeconds: env.MESHTAP_CERT_TTL_SECONDS,
      probePorts: env.MESHTAP_PROBE_PORTS ?? [],
      hostIp: env.HOST_IP,
      caAddr: env.MESHTAP_CA_ADDR,
      controllerAddr: env.MESHTAP_CONTROLLER_ADDR,
      tokenFile: env.MESHTAP_TOKEN_FILE,
      trustBundle: env.MESHTAP_TRUST_BUNDLE,
      trustDomain: env.MESHTAP_TRUST_DOMAIN,
    },
    /** Plain options (the config is frozen); `resolveMaskPolicy` turns them into the policy. */
    mask: maskOptionsFromEnv(env, env.MESHTAP_MAX_BODY_BYTES).options,
  }));

export const SIDECAR_ENV_VARS: readonly string[] = Object.freeze(Object.keys(sidecarEnvSchema.in.shape));

export type SidecarConfig = Readonly<
  z.output<typeof sidecarEnvSchema> & {
    /** Non-fatal findings (unknown variables, settings not in effect yet), for the log. */
    warnings: readonly string[];
  }
>;

/** The closest known variable to a misspelt one, if any is close enough to be a likely typo. */
export function suggestVariable(name: string, known: readonly string[] = SIDECAR_ENV_VARS): string | undefined {
  return closestMatch(name, known, { maxDistance: Math.max(2, Math.floor(name.length / 4)) });
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
  const parsed = sidecarEnvSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const value = input[name];
      return value === undefined ? `${name} is not set: ${issue.message}` : `${name}="${value}": ${issue.message}`;
    });
    throw new MeshtapError(SC_ERR_CONFIG, problems.join('; '));
  }
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('MESHTAP_') || SIDECAR_ENV_VARS.includes(name)) continue;
    const hint = suggestVariable(name);
    warnings.push(`unknown variable ${name} is ignored${hint ? ` (did you mean ${hint}?)` : ''}`);
  }
  const mtls = parsed.data.mtls;
  if (mtls.mode !== 'off') {
    if (mtls.trustBundle === undefined) warnings.push('MESHTAP_TRUST_BUNDLE is not set: the CA cannot be verified, so no certificate is requested and traffic stays plaintext');
    if (mtls.tokenFile === undefined) warnings.push('MESHTAP_TOKEN_FILE is not set: the CA cannot be asked for a certificate, so traffic stays plaintext');
    if (mtls.controllerAddr === undefined) warnings.push('MESHTAP_CONTROLLER_ADDR is not set: no destination is known to be meshed, so outbound traffic stays plaintext');
    if (parsed.data.collectorTls.mode === 'on' && (mtls.trustBundle === undefined || mtls.tokenFile === undefined)) {
      warnings.push('MESHTAP_COLLECTOR_TLS=on without a workload certificate: records cannot reach the collector and are counted as dropped');
    }
    if (mtls.mode === 'strict' && mtls.probePorts.length > 0 && mtls.hostIp === undefined) {
      warnings.push('MESHTAP_PROBE_PORTS without HOST_IP: in strict mode the probe ports accept plaintext from any source');
    }
  }
  return deepFreeze({ ...parsed.data, warnings });
}
