import { SIDECAR_RUNTIME_ENV } from '../lib/pod-entry.ts';
import { posix } from 'node:path';
import type { MtlsMode } from './annotations.ts';
import type { InjectorConfig } from './injector-config.ts';
import type { ContainerLike, VolumeLike } from './inject-types.ts';

/** Container and volume names are contracts: the sidecar, the lab and the docs use them. */
export const INIT_CONTAINER_NAME = 'meshtap-init';
export const SIDECAR_CONTAINER_NAME = 'meshtap-proxy';
export const TOKEN_VOLUME_NAME = 'meshtap-token';
export const TRUST_BUNDLE_VOLUME_NAME = 'meshtap-trust-bundle';
export const TMP_VOLUME_NAME = 'meshtap-tmp';
export const ADMIN_PORT_NAME = 'mt-admin';

export const TOKEN_DIR = '/var/run/secrets/meshtap/tokens';
export const TOKEN_FILE_NAME = 'meshtap-token';
export const TOKEN_FILE = posix.join(TOKEN_DIR, TOKEN_FILE_NAME);
export const TRUST_BUNDLE_DIR = '/var/run/secrets/meshtap/trust';
export const TRUST_BUNDLE_KEY = 'ca.crt';
export const TRUST_BUNDLE_FILE = posix.join(TRUST_BUNDLE_DIR, TRUST_BUNDLE_KEY);
export const TMP_DIR = '/tmp';

/** Seconds the non-native sidecar's postStart hook waits for the proxy to become ready. */
export const WAIT_READY_TIMEOUT_SECONDS = 60;

export const MESHTAP_CONTAINER_NAMES: readonly string[] = [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME];
export const MESHTAP_VOLUME_NAMES: readonly string[] = [TOKEN_VOLUME_NAME, TRUST_BUNDLE_VOLUME_NAME, TMP_VOLUME_NAME];

/** What the pod's annotations (over the namespace's and the config's defaults) ask for. */
export interface PodInjectionSettings {
  excludeInboundPorts: number[];
  excludeOutboundPorts: number[];
  excludeOutboundCidrs: string[];
  maxBodyBytes: number;
  mtlsMode: MtlsMode;
  nativeSidecar: boolean;
  /** False: init leaves the app's DNS alone (annotation `meshtap.io/dns-capture: "false"`). */
  dnsCapture: boolean;
  /** Ports the kubelet probes: accepted in plaintext from the node even in strict mode. */
  probePorts: number[];
  /** `MESHTAP_PROBE_PATHS`: the httpGet probes' paths per port (webhook/probe-ports.ts); empty: none. */
  probePaths: string;
  /** Key names the sidecar masks in addition to its defaults. */
  maskKeys?: string[];
}

function mutableResources(r: InjectorConfig['sidecarResources']): Record<string, unknown> {
  return structuredClone(r) as Record<string, unknown>;
}

export function buildInitContainer(config: InjectorConfig, settings: PodInjectionSettings): ContainerLike {
  const args = [
    '--proxy-uid', String(config.proxyUid),
    '--proxy-gid', String(config.proxyGid),
    '--inbound-port', String(config.inboundPort),
    '--outbound-port', String(config.outboundPort),
    '--admin-port', String(config.adminPort),
  ];
  if (settings.excludeInboundPorts.length > 0) args.push('--exclude-inbound-ports', settings.excludeInboundPorts.join(','));
  if (settings.excludeOutboundPorts.length > 0) args.push('--exclude-outbound-ports', settings.excludeOutboundPorts.join(','));
  if (settings.excludeOutboundCidrs.length > 0) args.push('--exclude-outbound-cidrs', settings.excludeOutboundCidrs.join(','));
  if (!settings.dnsCapture) args.push('--no-dns-capture');
  return {
    name: INIT_CONTAINER_NAME,
    image: config.image,
    imagePullPolicy: config.imagePullPolicy,
    command: ['meshtap', 'init'],
    args,
    // iptables takes its lock under /run by default, which the read-only root cannot hold.
    env: [{ name: 'XTABLES_LOCKFILE', value: posix.join(TMP_DIR, 'xtables.lock') }],
    resources: mutableResources(config.initResources),
    volumeMounts: [{ name: TMP_VOLUME_NAME, mountPath: TMP_DIR }],
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

function fieldEnv(name: string, fieldPath: string) {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

function httpProbe(path: string, port: number, extra: Record<string, number>) {
  return { httpGet: { path, port, scheme: 'HTTP' }, ...extra };
}

export function buildSidecarContainer(config: InjectorConfig, settings: PodInjectionSettings): ContainerLike {
  const container: ContainerLike = {
    name: SIDECAR_CONTAINER_NAME,
    image: config.image,
    imagePullPolicy: config.imagePullPolicy,
    command: ['meshtap', 'sidecar'],
    env: [
      fieldEnv('POD_NAME', 'metadata.name'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      fieldEnv('POD_IP', 'status.podIP'),
      fieldEnv('NODE_NAME', 'spec.nodeName'),
      fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
      fieldEnv('HOST_IP', 'status.hostIP'),
      { name: 'MESHTAP_COLLECTOR_ADDR', value: config.collectorAddr },
      { name: 'MESHTAP_COLLECTOR_TLS', value: config.collectorTls },
      { name: 'MESHTAP_CA_ADDR', value: config.caAddr },
      { name: 'MESHTAP_CONTROLLER_ADDR', value: config.controllerAddr },
      { name: 'MESHTAP_INBOUND_PORT', value: String(config.inboundPort) },
      { name: 'MESHTAP_OUTBOUND_PORT', value: String(config.outboundPort) },
      { name: 'MESHTAP_ADMIN_PORT', value: String(config.adminPort) },
      { name: 'MESHTAP_PROXY_UID', value: String(config.proxyUid) },
      // The group the container runs as (runAsGroup below): without it the sidecar assumed the uid's number.
      { name: 'MESHTAP_PROXY_GID', value: String(config.proxyGid) },
      { name: 'MESHTAP_MAX_BODY_BYTES', value: String(settings.maxBodyBytes) },
      { name: 'MESHTAP_LOG_LEVEL', value: config.logLevel },
      { name: 'MESHTAP_TOKEN_FILE', value: TOKEN_FILE },
      { name: 'MESHTAP_TRUST_BUNDLE', value: TRUST_BUNDLE_FILE },
      { name: 'MESHTAP_TRUST_DOMAIN', value: config.trustDomain },
      { name: 'MESHTAP_MTLS_MODE', value: settings.mtlsMode },
      // V8 limits and malloc arenas fit for a sidecar (lib/pod-entry.ts says why these).
      ...Object.entries(SIDECAR_RUNTIME_ENV).map(([name, value]) => ({ name, value })),
      ...(settings.probePorts.length > 0 ? [{ name: 'MESHTAP_PROBE_PORTS', value: settings.probePorts.join(',') }] : []),
      ...(settings.probePaths !== '' ? [{ name: 'MESHTAP_PROBE_PATHS', value: settings.probePaths }] : []),
      ...(settings.maskKeys !== undefined && settings.maskKeys.length > 0 ? [{ name: 'MESHTAP_MASK_KEYS', value: settings.maskKeys.join(',') }] : []),
    ],
    // Only the admin port is declared: the listener ports are reached through iptables and
    // declaring them could clash with, or be mistaken for, the app's ports.
    ports: [{ name: ADMIN_PORT_NAME, containerPort: config.adminPort, protocol: 'TCP' }],
    resources: mutableResources(config.sidecarResources),
    volumeMounts: [
      { name: TOKEN_VOLUME_NAME, mountPath: TOKEN_DIR, readOnly: true },
      { name: TRUST_BUNDLE_VOLUME_NAME, mountPath: TRUST_BUNDLE_DIR, readOnly: true },
      { name: TMP_VOLUME_NAME, mountPath: TMP_DIR },
    ],
    // As a native sidecar the startup probe also holds the user's init containers back
    // until the proxy can carry their traffic.
    startupProbe: httpProbe('/ready', config.adminPort, { periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 60 }),
    readinessProbe: httpProbe('/ready', config.adminPort, { periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 }),
    livenessProbe: httpProbe('/healthz', config.adminPort, { periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 }),
    securityContext: {
      runAsUser: config.proxyUid,
      runAsGroup: config.proxyGid,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
  if (settings.nativeSidecar) {
    container.restartPolicy = 'Always';
  } else {
    // The kubelet starts containers in order and waits for each postStart hook, so the
    // app containers start only once the proxy is ready.
    container.lifecycle = {
      postStart: {
        exec: {
          command: [
            'meshtap', 'wait-ready',
            '--admin-port', String(config.adminPort),
            '--timeout-seconds', String(WAIT_READY_TIMEOUT_SECONDS),
          ],
        },
      },
    };
  }
  return container;
}

export function buildVolumes(config: InjectorConfig): VolumeLike[] {
  return [
    {
      // Projected, so it exists even when automountServiceAccountToken is false.
      name: TOKEN_VOLUME_NAME,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: config.tokenAudience,
              expirationSeconds: config.tokenExpirationSeconds,
              path: TOKEN_FILE_NAME,
            },
          },
        ],
      },
    },
    {
      // Optional: a missing ConfigMap must never keep the pod from starting.
      name: TRUST_BUNDLE_VOLUME_NAME,
      configMap: {
        name: config.trustBundleConfigMap,
        optional: true,
        items: [{ key: TRUST_BUNDLE_KEY, path: TRUST_BUNDLE_KEY }],
      },
    },
    { name: TMP_VOLUME_NAME, emptyDir: {} },
  ];
}
