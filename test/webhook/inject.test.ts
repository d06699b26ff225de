import { isDeepStrictEqual } from 'node:util';
import fastJsonPatch from 'fast-json-patch';
import fc from 'fast-check';
import t from 'tap';
import { isMeshtapError } from '../../lib/errors.ts';
import { parseCidrList, parsePortList } from '../../webhook/annotations.ts';
import { resolveInitConfig } from '../../sidecar/init/options.ts';
import { INJ_ERR_CONFIG } from '../../webhook/errors.ts';
import { injectPod, readInjectionStatus, type InjectDecision } from '../../webhook/inject.ts';
import type { ContainerLike, PodLike } from '../../webhook/inject-types.ts';
import { resolveInjectorConfig, type InjectorOptions } from '../../webhook/injector-config.ts';
import { SKIP_REASON_CODES, describeSkipReason, formatSkipReasons, type SkipReason } from '../../webhook/reasons.ts';
import { podProblems } from './inject-helpers.ts';

const config = resolveInjectorConfig();
const enabled = { 'meshtap.io/inject': 'enabled' };

function pod(over: { metadata?: PodLike['metadata']; spec?: Partial<PodLike['spec']> } = {}): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop', ...over.metadata },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...over.spec },
  };
}

function decide(p: PodLike, extra: Partial<Parameters<typeof injectPod>[0]> = {}): InjectDecision {
  return injectPod({ pod: p, namespace: 'shop', namespaceLabels: enabled, config, ...extra });
}

function injected(d: InjectDecision): PodLike {
  if (!d.inject) throw new Error(`expected injection, got ${formatSkipReasons(d.reasons, d.details)}`);
  return d.pod;
}

function envOf(c: ContainerLike): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of c.env as Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }>) {
    out[e.name] = e.value ?? `field:${e.valueFrom?.fieldRef.fieldPath}`;
  }
  return out;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    Object.values(v).forEach(deepFreeze);
    Object.freeze(v);
  }
  return v;
}

void t.test('config: defaults, frozen', async (t) => {
  t.equal(config.image, 'ghcr.io/meshtap/meshtap:0.1.0');
  t.equal(config.imagePullPolicy, 'IfNotPresent');
  t.same([config.proxyUid, config.proxyGid, config.inboundPort, config.outboundPort, config.adminPort], [1337, 1337, 15006, 15001, 15020]);
  t.equal(config.collectorAddr, 'meshtap-collector.meshtap-system.svc:9400');
  t.equal(config.caAddr, 'meshtap-controller.meshtap-system.svc:15012');
  t.equal(config.controllerAddr, 'meshtap-controller.meshtap-system.svc:15012');
  t.equal(config.trustDomain, 'cluster.local');
  t.equal(config.maxBodyBytes, 65536);
  t.equal(config.logLevel, 'info');
  t.equal(config.nativeSidecar, true);
  t.equal(config.mtlsMode, 'permissive');
  t.equal(config.trustBundleConfigMap, 'meshtap-trust-bundle');
  t.equal(config.tokenAudience, 'meshtap-ca');
  t.equal(config.tokenExpirationSeconds, 3600);
  t.same(config.sidecarResources, { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } });
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.sidecarResources.requests), 'deeply frozen');
  t.equal(resolveInjectorConfig({ adminPort: 9999 }).adminPort, 9999);
  // Whatever trust domain the CA takes (certs/spiffe-id.ts), "_" included, the injector takes.
  t.equal(resolveInjectorConfig({ trustDomain: 'prod_eu.example' }).trustDomain, 'prod_eu.example');
});

void t.test('config: bad values name the key, what it takes and what it got', async (t) => {
  const bad: Array<[InjectorOptions | Record<string, unknown>, string]> = [
    [{ inboundPort: 70000 }, 'inboundPort must be a port number 1-65535; got 70000'],
    [{ inboundPort: '80' }, 'inboundPort must be a port number 1-65535; got "80"'],
    [{ adminPort: 15001 }, 'adminPort must differ from outboundPort (both are 15001)'],
    // The sidecar's DNS listener: init and the sidecar refuse such a port, so every injected pod crash-looped.
    [{ adminPort: 15053 }, "adminPort must differ from 15053, the sidecar's DNS listener; got 15053"],
    [{ inboundPort: 15053 }, "inboundPort must differ from 15053, the sidecar's DNS listener; got 15053"],
    [{ proxyUid: 0 }, 'proxyUid must be a user id 1-2147483647 (not 0: the proxy never runs as root); got 0'],
    [{ proxyGid: 1.5 }, 'proxyGid must be a group id 1-2147483647 (not 0: the proxy never runs as root); got 1.5'],
    [{ imagePullPolicy: 'Sometimes' }, 'imagePullPolicy must be one of Always, IfNotPresent, Never; got "Sometimes"'],
    [{ collectorTls: 'yes' }, 'collectorTls must be one of auto, on, off; got "yes"'],
    [{ collectorAddr: 'collector' }, 'collectorAddr must be "host:port" (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535): the ":port" is missing; got "collector"'],
    [{ collectorAddr: 9400 }, 'collectorAddr must be "host:port" (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535); got 9400'],
    [{ tokenExpirationSeconds: 60 }, 'tokenExpirationSeconds must be a whole number of seconds 600-4294967295 (the API server refuses shorter-lived tokens); got 60'],
    [{ tokenAudience: '' }, 'tokenAudience must be a non-empty string; got ""'],
    [{ trustDomain: 'Cluster..local' }, 'trustDomain must be a SPIFFE trust domain: dot-separated labels of lower-case letters, digits, "-" and "_" (like "cluster.local"); got "Cluster..local"'],
    [{ trustBundleConfigMap: '' }, 'trustBundleConfigMap must be a ConfigMap name (a lower-case DNS name); got ""'],
    [{ maxBodyBytes: -1 }, 'maxBodyBytes must be a byte count 0-67108864; got -1'],
    [{ maxBodyBytes: NaN }, 'maxBodyBytes must be a byte count 0-67108864; got NaN'],
    [{ nativeSidecar: 'yes' }, 'nativeSidecar must be true or false; got "yes"'],
    [{ mtlsMode: 'off' }, 'mtlsMode must be one of permissive, strict; got "off"'],
    [{ image: 'has space' }, 'image must be an image reference without spaces; got "has space"'],
    [{ sidecarResources: { limits: { cpu: 'lots' } } }, 'sidecarResources.limits.cpu must be a Kubernetes quantity such as "50m", "1" or "64Mi"; got "lots"'],
    [{ initResources: { requests: 'x' } }, 'initResources.requests must be a mapping of cpu and memory; got "x"'],
    [{ initResources: 3 }, 'initResources must be a mapping with requests and limits, each a mapping of cpu and memory; got 3'],
    [{ sidecarResources: { limits: { gpu: '1' } } }, 'sidecarResources.limits.gpu is not an option (sidecarResources.limits takes cpu and memory)'],
    [{ sidecarResources: { maximum: {} } }, 'sidecarResources.maximum is not an option (sidecarResources takes requests and limits)'],
    [{ collectorAddress: 'x:1' }, 'collectorAddress is not an option (did you mean "collectorAddr"?)'],
    [{ bogus: 1 }, 'bogus is not an option'],
    // The sidecar refuses levels other than its four: every injected pod would exit at start.
    [{ logLevel: 'trace' }, 'logLevel must be one of debug, info, warn, error; got "trace"'],
    [{ logLevel: 'silent' }, 'logLevel must be one of debug, info, warn, error; got "silent"'],
    [{ mtlsMode: 'off', image: '' }, 'image must be an image reference without spaces; got ""; mtlsMode must be one of permissive, strict; got "off"'],
  ];
  for (const [options, message] of bad) {
    let caught: unknown;
    try {
      resolveInjectorConfig(options as InjectorOptions);
    } catch (err) {
      caught = err;
    }
    t.ok(isMeshtapError(caught, INJ_ERR_CONFIG), `${JSON.stringify(options)} throws INJ_ERR_CONFIG`);
    t.equal((caught as Error | undefined)?.message, message);
    t.notMatch((caught as Error | undefined)?.message, /Invalid (input|option)|Too (small|big)|Unrecognized key|expected/, 'no schema-library wording');
  }
  t.throws(() => resolveInjectorConfig(null as unknown as InjectorOptions), { message: 'the injector options must be a mapping of option names to values; got null' });
});

void t.test('config: host:port values need a DNS name or IP address and a port 1-65535', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['h:99999', /the port 99999 is not in 1-65535/],
    ['h:0', /the port 0 is not in 1-65535/],
    ['h:00080', /the port "00080" has a leading zero/],
    ['h:', /the port is empty/],
    ['h:http', /the port "http" is not a number/],
    ['h', /the ":port" is missing/],
    ['[::1]', /the ":port" is missing/],
    [':80', /the host is empty/],
    ['a..b:80', /the host name "a\.\.b" has an empty label/],
    ['.a:80', /empty label/],
    ['a.:80', /empty label/],
    ['-a.b:80', /the label "-a" starts or ends with a hyphen/],
    ['a-.b:80', /the label "a-" starts or ends with a hyphen/],
    ['a_b:80', /the label "a_b" has a character other than letters, digits and hyphens/],
    [`${'x'.repeat(64)}:80`, /at most 63/],
    [`${Array(64).fill('abc').join('.')}:80`, /at most 253/],
    ['999.1.1.1:80', /"999\.1\.1\.1" is not an IPv4 address/],
    ['1.2.3:80', /not an IPv4 address/],
    ['01.2.3.4:80', /not an IPv4 address/],
    ['::1:80', /must be in brackets/],
    ['[zz]:80', /"\[zz\]" is not a bracketed IPv6 address/],
    ['[1::2::3]:80', /not a bracketed IPv6 address/],
  ];
  for (const key of ['collectorAddr', 'caAddr', 'controllerAddr'] as const) {
    for (const [value, why] of bad) {
      t.throws(
        () => resolveInjectorConfig({ [key]: value }),
        { code: INJ_ERR_CONFIG, message: new RegExp(`^${key} must be "host:port" \\(a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535\\): .*${why.source}.*; got ${JSON.stringify(value).replace(/[[\].]/g, '\\$&')}$`) },
        `${key}=${value}`,
      );
    }
  }
  for (const value of ['h:1', 'h:65535', 'meshtap-collector.meshtap-system.svc:9400', 'A-1.b2:80', '10.244.0.1:9400', '[::1]:80', '[fd00::1]:9443', '[::ffff:10.0.0.1]:80']) {
    t.equal(resolveInjectorConfig({ collectorAddr: value }).collectorAddr, value, value);
  }
  t.throws(() => resolveInjectorConfig({ collectorAddr: 'h:0' }, { keyName: (k) => `--${k}` }), { message: /^--collectorAddr must be "host:port"/ }, 'callers name their own keys');
});

void t.test('reasons: every code has a description; formatting', async (t) => {
  for (const r of SKIP_REASON_CODES) t.ok(describeSkipReason(r).length > 10, r);
  t.equal(formatSkipReasons(['host-network'], {}), `host-network: ${describeSkipReason('host-network')}`);
  t.equal(formatSkipReasons(['host-network', 'pod-opted-out'], { 'host-network': 'x' }), `host-network: x; pod-opted-out: ${describeSkipReason('pod-opted-out')}`);
});

void t.test('a pod of a shape the API server never gives is invalid-pod, saying where, never an exception', async (t) => {
  const base = pod();
  const app = base.spec!.containers![0];
  const cases: Array<[string, unknown, RegExp]> = [
    ['a null container', { ...base, spec: { ...base.spec, containers: [app, null] } }, /^spec\.containers\[1\] is null, not a container$/],
    ['ports that are text', { ...base, spec: { ...base.spec, containers: [{ ...app, ports: 'x', readinessProbe: { httpGet: { port: 'http' } } }] } }, /^spec\.containers\[0\]\.ports is a string, not a list$/],
    ['annotations that are text', { ...base, metadata: { ...base.metadata, annotations: 'x' } }, /^metadata\.annotations is a string, not an object$/],
    ['init containers that are an object', { ...base, spec: { ...base.spec, initContainers: { name: 'x' } } }, /^spec\.initContainers is an object, not a list$/],
    ['a probe that is a list', { ...base, spec: { ...base.spec, containers: [{ ...app, livenessProbe: [] }] } }, /^spec\.containers\[0\]\.livenessProbe is a list, not an object$/],
    ['volumes holding text', { ...base, spec: { ...base.spec, volumes: ['v'] } }, /^spec\.volumes\[0\] is a string, not a volume$/],
  ];
  for (const [what, p, message] of cases) {
    let decision: InjectDecision | undefined;
    t.doesNotThrow(() => (decision = decide(p as PodLike)), what);
    t.equal(decision?.inject, false, what);
    if (decision !== undefined && !decision.inject) {
      t.same(decision.reasons, ['invalid-pod'], what);
      t.match(decision.details['invalid-pod'], message, what);
    }
  }
});

void t.test('each skip reason, alone', async (t) => {
  const cases: Array<[SkipReason, InjectDecision]> = [
    ['invalid-pod', decide({ metadata: { name: 'x' } })],
    ['invalid-pod', decide(pod({ spec: { containers: [] } }))],
    ['invalid-pod', decide(null as unknown as PodLike)],
    ['system-namespace', decide(pod({ metadata: { namespace: 'kube-public' } }))],
    ['system-namespace', decide(pod({ metadata: { namespace: 'kube-node-lease' } }))],
    ['system-namespace', decide(pod({ metadata: { namespace: 'meshtap-system' } }))],
    ['system-namespace', decide(pod({ metadata: { namespace: undefined } }), { namespace: 'kube-system' })],
    ['namespace-not-enabled', decide(pod(), { namespaceLabels: {} })],
    ['namespace-not-enabled', decide(pod(), { namespaceLabels: { 'meshtap.io/inject': 'true' } })],
    ['pod-opted-out', decide(pod({ metadata: { labels: { 'meshtap.io/inject': 'false' } } }))],
    ['host-network', decide(pod({ spec: { hostNetwork: true } }))],
    ['already-injected', decide(pod({ metadata: { annotations: { 'meshtap.io/status': '{}' } } }))],
    ['already-injected', decide(pod({ spec: { containers: [{ name: 'app' }, { name: 'meshtap-proxy' }] } }))],
    ['istio-proxy-present', decide(pod({ spec: { initContainers: [{ name: 'istio-proxy' }] } }))],
    ['istio-proxy-present', decide(pod({ metadata: { annotations: { 'sidecar.istio.io/status': '{}' } } }))],
    ['linkerd-proxy-present', decide(pod({ spec: { containers: [{ name: 'app' }, { name: 'linkerd-proxy' }] } }))],
    ['linkerd-proxy-present', decide(pod({ metadata: { annotations: { 'linkerd.io/proxy-version': 'edge' } } }))],
    ['name-collision', decide(pod({ spec: { initContainers: [{ name: 'meshtap-init' }] } }))],
    ['name-collision', decide(pod({ spec: { ephemeralContainers: [{ name: 'meshtap-init' }] } }))],
    ['name-collision', decide(pod({ spec: { volumes: [{ name: 'meshtap-token', emptyDir: {} }] } }))],
    ['port-conflict', decide(pod({ spec: { containers: [{ name: 'app', ports: [{ containerPort: 15020 }] }] } }))],
    ['port-conflict', decide(pod({ spec: { initContainers: [{ name: 'i', ports: [{ containerPort: 15006, protocol: 'TCP' }] }] } }))],
    ['port-conflict', decide(pod({ spec: { containers: [{ name: 'dns', ports: [{ containerPort: 15053, protocol: 'UDP' }] }] } }))],
    ['port-conflict', decide(pod({ spec: { containers: [{ name: 'dns', ports: [{ containerPort: 15053 }] }] } }))],
    ['invalid-annotation', decide(pod({ metadata: { annotations: { 'meshtap.io/exclude-outbound-ports': '0' } } }))],
    ['invalid-annotation', decide(pod({ metadata: { annotations: { 'meshtap.io/exclude-outbound-cidrs': 'example.com' } } }))],
    ['invalid-annotation', decide(pod({ metadata: { annotations: { 'meshtap.io/max-body-bytes': '64Ki' } } }))],
    ['invalid-annotation', decide(pod({ metadata: { annotations: { 'meshtap.io/mtls-mode': 'STRICT' } } }))],
    ['invalid-annotation', decide(pod({ metadata: { annotations: { 'meshtap.io/native-sidecar': 'no' } } }))],
    ['invalid-annotation', decide(pod({ metadata: { annotations: { 'meshtap.io/exclude-inbound-ports': 8080 as unknown as string } } }))],
    ['invalid-annotation', decide(pod(), { namespaceAnnotations: { 'meshtap.io/mtls-mode': 'tight' } })],
    ['invalid-annotation', decide(pod({ metadata: { annotations: { 'meshtap.io/exclude-outbound-cidrs': '10.0.0.0/8,fd00::/129' } } }))],
    ['pod-security', decide(pod(), { namespaceLabels: { 'meshtap.io/inject': 'enabled', 'pod-security.kubernetes.io/enforce': 'baseline' } })],
    ['pod-security', decide(pod(), { namespaceLabels: { 'meshtap.io/inject': 'enabled', 'pod-security.kubernetes.io/enforce': 'restricted' } })],
    ['uid-conflict', decide(pod({ spec: { securityContext: { runAsUser: 1337 } } }))],
    ['uid-conflict', decide(pod({ spec: { containers: [{ name: 'app', securityContext: { runAsGroup: 1337 } }] } }))],
    ['uid-conflict', decide(pod({ spec: { initContainers: [{ name: 'setup', securityContext: { runAsUser: 1337 } }] } }))],
    ['run-to-completion', decide(pod({ spec: { restartPolicy: 'Never' } }), { config: resolveInjectorConfig({ nativeSidecar: false }) })],
    ['run-to-completion', decide(pod({ metadata: { annotations: { 'meshtap.io/native-sidecar': 'false' } }, spec: { restartPolicy: 'OnFailure' } }))],
  ];
  for (const [reason, d] of cases) {
    t.same(d.reasons, [reason], `${reason}: ${d.inject ? '(injected)' : d.details[reason]}`);
    t.same(d.patch, []);
  }
  const covered = new Set(cases.map(([r]) => r));
  t.same(SKIP_REASON_CODES.filter((r) => !covered.has(r)), [], 'every reason code is exercised');
});

void t.test('opt-in rules', async (t) => {
  t.ok(decide(pod()).inject, 'enabled namespace');
  t.ok(decide(pod({ metadata: { labels: { 'meshtap.io/inject': 'true' } } }), { namespaceLabels: {} }).inject, 'pod opts in, unlabelled namespace');
  t.same(
    decide(pod({ metadata: { labels: { 'meshtap.io/inject': 'true' } } }), { namespaceLabels: { 'meshtap.io/inject': 'disabled' } }).reasons,
    ['namespace-not-enabled'],
    'a disabled namespace wins',
  );
  // The handler re-checks the selectors' rules: the opt-in webhook only sees namespaces without the label.
  for (const value of ['no', 'true', 'Enabled', '']) {
    const d = decide(pod({ metadata: { labels: { 'meshtap.io/inject': 'true' } } }), { namespaceLabels: { 'meshtap.io/inject': value } });
    t.same(d.reasons, ['namespace-not-enabled'], `a namespace labelled "${value}" keeps an opted-in pod out`);
  }
  t.same(decide(pod({ metadata: { labels: { 'meshtap.io/inject': 'false' } } }), { namespaceLabels: {} }).reasons, ['namespace-not-enabled', 'pod-opted-out'], 'both reasons');
  t.ok(decide(pod({ metadata: { labels: { 'meshtap.io/inject': 'maybe' } } })).inject, 'other pod label values leave it to the namespace');
  t.ok(decide(pod({ metadata: { namespace: 'shop' } }), { namespace: 'kube-system' }).inject, 'metadata.namespace wins over the request namespace');
  t.ok(decide(pod({ metadata: { namespace: undefined } }), { namespace: undefined }).inject, 'no namespace at all');
  t.ok(decide(pod({ spec: { containers: [{ name: 'app', ports: [{ containerPort: 15001, protocol: 'UDP' }] }] } })).inject, 'UDP ports do not clash');
  // A Job's pod: the native sidecar stops with its containers; a regular container never would.
  t.ok(decide(pod({ spec: { restartPolicy: 'Never' } })).inject, 'a run-to-completion pod with the native sidecar is injected');
  t.ok(decide(pod({ metadata: { annotations: { 'meshtap.io/native-sidecar': 'true' } }, spec: { restartPolicy: 'OnFailure' } }), { config: resolveInjectorConfig({ nativeSidecar: false }) }).inject, 'the annotation asks for the native sidecar');
  t.ok(decide(pod({ spec: { restartPolicy: 'Always' } }), { config: resolveInjectorConfig({ nativeSidecar: false }) }).inject, 'a long-running pod takes the regular sidecar');
  t.match(
    decide(pod({ spec: { restartPolicy: 'Never' } }), { config: resolveInjectorConfig({ nativeSidecar: false }) }).details['run-to-completion'],
    /restartPolicy is Never and the proxy would be a regular container, which never exits/,
  );
  t.same(
    decide(pod({ spec: { containers: [{ name: 'resolver', ports: [{ containerPort: 15053, protocol: 'UDP' }] }] } })).details['port-conflict'],
    `container "resolver" declares port 15053/UDP, meshtap's DNS port`,
    "the DNS listener's port clashes over UDP too",
  );
  t.ok(decide(pod({ spec: { containers: [{ name: 'app', ports: [{ containerPort: 15053, protocol: 'SCTP' }] }] } })).inject, 'SCTP does not clash with the DNS listener');
  t.ok(decide(pod({ metadata: { annotations: { 'meshtap.io/exclude-inbound-ports': '' } } })).inject, 'an empty exclusion is no exclusion');
});

void t.test('native sidecar layout', async (t) => {
  const input = pod({ spec: { initContainers: [{ name: 'user-init', image: 'i' }] } });
  const out = injected(decide(input));
  const inits = out.spec!.initContainers!;
  t.same(inits.map((c) => c.name), ['meshtap-init', 'meshtap-proxy', 'user-init']);
  t.same(out.spec!.containers, input.spec!.containers, 'app containers untouched');
  const [init, proxy] = inits;
  t.same(init.command, ['meshtap', 'init']);
  t.same(init.args, ['--proxy-uid', '1337', '--proxy-gid', '1337', '--inbound-port', '15006', '--outbound-port', '15001', '--admin-port', '15020']);
  t.match(init.securityContext, {
    runAsUser: 0, runAsNonRoot: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
    capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
  });
  t.equal(proxy.restartPolicy, 'Always');
  t.equal(proxy.lifecycle, undefined);
  t.same(proxy.command, ['meshtap', 'sidecar']);
  t.same(proxy.ports, [{ name: 'mt-admin', containerPort: 15020, protocol: 'TCP' }]);
  t.match(proxy.securityContext, {
    runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  });
  t.notOk((proxy.securityContext as { capabilities: { add?: unknown } }).capabilities.add, 'the proxy adds no capability');
  t.match(proxy.startupProbe, { httpGet: { path: '/ready', port: 15020 }, periodSeconds: 1, failureThreshold: 60 });
  t.match(proxy.readinessProbe, { httpGet: { path: '/ready', port: 15020 } });
  t.match(proxy.livenessProbe, { httpGet: { path: '/healthz', port: 15020 } });
  t.same(envOf(proxy), {
    POD_NAME: 'field:metadata.name',
    POD_NAMESPACE: 'field:metadata.namespace',
    POD_IP: 'field:status.podIP',
    NODE_NAME: 'field:spec.nodeName',
    SERVICE_ACCOUNT: 'field:spec.serviceAccountName',
    HOST_IP: 'field:status.hostIP',
    MESHTAP_COLLECTOR_ADDR: 'meshtap-collector.meshtap-system.svc:9400',
    MESHTAP_COLLECTOR_TLS: 'on',
    MESHTAP_CA_ADDR: 'meshtap-controller.meshtap-system.svc:15012',
    MESHTAP_CONTROLLER_ADDR: 'meshtap-controller.meshtap-system.svc:15012',
    MESHTAP_INBOUND_PORT: '15006',
    MESHTAP_OUTBOUND_PORT: '15001',
    MESHTAP_ADMIN_PORT: '15020',
    MESHTAP_PROXY_UID: '1337',
    MESHTAP_PROXY_GID: '1337',
    MESHTAP_MAX_BODY_BYTES: '65536',
    MESHTAP_LOG_LEVEL: 'info',
    MESHTAP_TOKEN_FILE: '/var/run/secrets/meshtap/tokens/meshtap-token',
    MESHTAP_TRUST_BUNDLE: '/var/run/secrets/meshtap/trust/ca.crt',
    MESHTAP_TRUST_DOMAIN: 'cluster.local',
    MESHTAP_MTLS_MODE: 'permissive',
    NODE_OPTIONS: '--max-semi-space-size=1 --max-old-space-size=128',
    MALLOC_ARENA_MAX: '2',
    MALLOC_MMAP_THRESHOLD_: '131072',
  });
  t.same(proxy.volumeMounts, [
    { name: 'meshtap-token', mountPath: '/var/run/secrets/meshtap/tokens', readOnly: true },
    { name: 'meshtap-trust-bundle', mountPath: '/var/run/secrets/meshtap/trust', readOnly: true },
    { name: 'meshtap-tmp', mountPath: '/tmp' },
  ]);
  const volumes = out.spec!.volumes!;
  t.same(volumes.map((v) => v.name), ['meshtap-token', 'meshtap-trust-bundle', 'meshtap-tmp']);
  t.same(volumes[0].projected, { sources: [{ serviceAccountToken: { audience: 'meshtap-ca', expirationSeconds: 3600, path: 'meshtap-token' } }] });
  t.match(volumes[1].configMap, { name: 'meshtap-trust-bundle', optional: true });
  t.same(readInjectionStatus(out), {
    version: '0.1.0',
    nativeSidecar: true,
    initContainers: ['meshtap-init', 'meshtap-proxy'],
    containers: [],
    volumes: ['meshtap-token', 'meshtap-trust-bundle', 'meshtap-tmp'],
    mtlsMode: 'permissive',
  });
  t.same(Object.keys(out.metadata!.labels ?? {}), [], 'no labels are added');
});

void t.test('fallback layout (native sidecar off)', async (t) => {
  const viaAnnotation = injected(decide(pod({ metadata: { annotations: { 'meshtap.io/native-sidecar': 'false' } } })));
  const viaConfig = injected(decide(pod(), { config: resolveInjectorConfig({ nativeSidecar: false }) }));
  for (const out of [viaAnnotation, viaConfig]) {
    t.same(out.spec!.initContainers!.map((c) => c.name), ['meshtap-init']);
    t.same(out.spec!.containers!.map((c) => c.name), ['meshtap-proxy', 'app']);
    const proxy = out.spec!.containers![0];
    t.equal(proxy.restartPolicy, undefined);
    t.same(proxy.lifecycle, { postStart: { exec: { command: ['meshtap', 'wait-ready', '--admin-port', '15020', '--timeout-seconds', '60'] } } });
    t.equal(out.metadata!.annotations!['kubectl.kubernetes.io/default-container'], 'app');
    t.equal(readInjectionStatus(out)!.nativeSidecar, false);
  }
  const kept = injected(
    decide(pod({ metadata: { annotations: { 'meshtap.io/native-sidecar': 'false', 'kubectl.kubernetes.io/default-container': 'other' } } })),
  );
  t.equal(kept.metadata!.annotations!['kubectl.kubernetes.io/default-container'], 'other', 'an existing default is kept');
  t.ok(injected(decide(pod({ metadata: { annotations: { 'meshtap.io/native-sidecar': 'true' } } }), { config: resolveInjectorConfig({ nativeSidecar: false }) }))
    .spec!.initContainers!.some((c) => c.name === 'meshtap-proxy'), 'the pod annotation beats the config');
});

void t.test('per-pod settings', async (t) => {
  const out = injected(
    decide(
      pod({
        metadata: {
          annotations: {
            'meshtap.io/exclude-inbound-ports': '9100',
            'meshtap.io/exclude-outbound-cidrs': '10.2.0.1, 10.1.0.0/16',
            'meshtap.io/max-body-bytes': '0',
          },
        },
      }),
      { namespaceAnnotations: { 'meshtap.io/mtls-mode': 'strict' } },
    ),
  );
  const [init, proxy] = out.spec!.initContainers!;
  t.same((init.args as string[]).slice(10), ['--exclude-inbound-ports', '9100', '--exclude-outbound-cidrs', '10.2.0.1/32,10.1.0.0/16']);
  t.equal(envOf(proxy).MESHTAP_MAX_BODY_BYTES, '0');
  t.equal(envOf(proxy).MESHTAP_MTLS_MODE, 'strict', 'namespace default');
  const podWins = injected(decide(pod({ metadata: { annotations: { 'meshtap.io/mtls-mode': 'permissive' } } }), { namespaceAnnotations: { 'meshtap.io/mtls-mode': 'strict' } }));
  t.equal(envOf(podWins.spec!.initContainers![1]).MESHTAP_MTLS_MODE, 'strict', 'a pod annotation cannot loosen a strict namespace');
  const podTightens = injected(decide(pod({ metadata: { annotations: { 'meshtap.io/mtls-mode': 'strict' } } }), { namespaceAnnotations: { 'meshtap.io/mtls-mode': 'permissive' } }));
  t.equal(envOf(podTightens.spec!.initContainers![1]).MESHTAP_MTLS_MODE, 'strict', 'a pod annotation may tighten a permissive namespace');
});

void t.test('annotation parsers', async (t) => {
  t.same(parsePortList(' 80 ,443,80,'), { ok: true, value: [80, 443] });
  t.same(parsePortList('65535'), { ok: true, value: [65535] });
  for (const bad of ['0', '65536', '80-90', '-1', '1e3', 'http', '08080a']) t.notOk(parsePortList(bad).ok, bad);
  t.same(parseCidrList('10.0.0.1, ::1, fe80::/10,0.0.0.0/0'), { ok: true, value: ['10.0.0.1/32', '::1/128', 'fe80::/10', '0.0.0.0/0'] });
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0/8', '10.0.0.0/', 'a.b.c.d/8', '10.0.0.0/-1']) t.notOk(parseCidrList(bad).ok, bad);
});

void t.test('the input is never modified', async (t) => {
  const input = deepFreeze(pod({ spec: { initContainers: [{ name: 'i' }], volumes: [{ name: 'v', emptyDir: {} }] }, metadata: { annotations: { a: 'b' }, labels: { x: 'y' } } }));
  const d = decide(input);
  t.ok(d.inject);
  t.not(d.pod, input);
  t.same(fastJsonPatch.applyPatch(structuredClone(input), d.patch, true, false).newDocument, d.pod);
});

void t.test('null where a list or map is expected (as YAML gives for an empty key)', async (t) => {
  const input = { metadata: { name: 'n', annotations: null, labels: null }, spec: { containers: [{ name: 'a', image: 'b' }], initContainers: null, volumes: null } } as unknown as PodLike;
  const d = decide(input);
  const out = injected(d);
  t.same(fastJsonPatch.applyPatch(structuredClone(input), d.patch, true, false).newDocument, out);
  t.same(podProblems(out), []);
  t.same(out.spec!.initContainers!.map((c) => c.name), ['meshtap-init', 'meshtap-proxy']);
});

void t.test('templates: no name, no namespace', async (t) => {
  const template: PodLike = { metadata: { labels: { app: 'w' } }, spec: { containers: [{ name: 'w', image: 'w' }] } };
  const d = decide(template, { namespace: 'shop' });
  const out = injected(d);
  t.equal(out.apiVersion, undefined, 'no kind or apiVersion is invented');
  t.same(out.metadata!.labels, { app: 'w' });
  t.same(podProblems(out), []);
});

// Pods built from a small vocabulary so collisions, absent fields and odd annotations all occur.
const nameArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('app', 'web', 'init', 'side', 'x', 'y') }, { weight: 1, arbitrary: fc.constantFrom('meshtap-init', 'meshtap-proxy', 'istio-proxy') });
const containerArb = fc.record(
  {
    name: nameArb,
    image: fc.constantFrom('a:1', 'b:2'),
    ports: fc.array(fc.record({ containerPort: fc.constantFrom(80, 8080, 9090, 3000, 15001, 15020), protocol: fc.constantFrom('TCP', 'UDP') }), { maxLength: 1 }),
    restartPolicy: fc.constant('Always'),
  },
  { requiredKeys: ['name', 'image'] },
);
const annotationArb = fc.dictionary(
  fc.constantFrom(
    'meshtap.io/exclude-inbound-ports',
    'meshtap.io/exclude-outbound-ports',
    'meshtap.io/exclude-outbound-cidrs',
    'meshtap.io/max-body-bytes',
    'meshtap.io/mtls-mode',
    'meshtap.io/native-sidecar',
    'kubectl.kubernetes.io/default-container',
    'a/b~c',
    'plain',
  ),
  fc.constantFrom('', '80', '1,2', '10.0.0.0/8', '::1', 'strict', 'false', 'true', '70000', 'x/y', '~0', 'web'),
  { maxKeys: 4 },
);
const podArb = fc.record(
  {
    metadata: fc.record(
      {
        name: fc.constantFrom('p', 'q'),
        generateName: fc.constant('p-'),
        namespace: fc.constantFrom('shop', 'shop', 'shop', 'kube-system'),
        labels: fc.dictionary(fc.constantFrom('meshtap.io/inject', 'app'), fc.constantFrom('true', 'false', 'web')),
        annotations: annotationArb,
      },
      { requiredKeys: [] },
    ),
    spec: fc.record(
      {
        containers: fc.uniqueArray(containerArb, { minLength: 1, maxLength: 3, selector: (c) => c.name }),
        initContainers: fc.uniqueArray(containerArb, { maxLength: 2, selector: (c) => c.name }),
        volumes: fc.uniqueArray(fc.record({ name: fc.constantFrom('data', 'cfg', 'logs', 'meshtap-tmp'), emptyDir: fc.constant({}) }), { maxLength: 2, selector: (v) => v.name }),
        hostNetwork: fc.constantFrom(false, false, false, true),
        automountServiceAccountToken: fc.boolean(),
      },
      { requiredKeys: ['containers'] },
    ),
  },
  { requiredKeys: ['spec'] },
);

void t.test('property: any pod either gets a clean, valid, idempotent patch or a reasoned skip', async (t) => {
  let injectedCount = 0;
  fc.assert(
    fc.property(podArb, fc.constantFrom<Record<string, string>>(enabled, enabled, enabled, {}), (raw, namespaceLabels) => {
      // Plain JSON, as the API server and YAML parsers hand it over.
      const input = JSON.parse(JSON.stringify(raw)) as PodLike;
      // The API server refuses duplicate names across containers and init containers.
      const names = [...input.spec!.containers!, ...(input.spec!.initContainers ?? [])].map((c) => c.name);
      fc.pre(new Set(names).size === names.length);
      const before = structuredClone(input);
      const d = injectPod({ pod: input, namespace: 'shop', namespaceLabels, config });
      if (!isDeepStrictEqual(input, before)) throw new Error('input modified');
      if (!d.inject) {
        if (d.reasons.length === 0 || d.patch.length !== 0 || d.pod !== input) throw new Error('bad skip');
        return;
      }
      injectedCount++;
      const applied = fastJsonPatch.applyPatch(structuredClone(input), d.patch, true, false).newDocument;
      if (!isDeepStrictEqual(applied, d.pod)) throw new Error('patch does not reproduce the pod');
      const problems = podProblems(d.pod);
      if (problems.length > 0) throw new Error(problems.join('; '));
      const again = injectPod({ pod: d.pod, namespace: 'shop', namespaceLabels, config });
      if (again.inject || !again.reasons.includes('already-injected') || again.patch.length !== 0) throw new Error('not idempotent');
    }),
    { numRuns: 600, seed: 1337 },
  );
  t.ok(injectedCount > 20, `a fair share of generated pods is injected (${injectedCount})`);
});

void t.test('a pod is injected only with settings its init container accepts', async (t) => {
  // The webhook admits, the init container then runs: if they disagree the pod cannot start.
  const values = ['10.0.0.0/8', '169.254.169.254', 'fd00::/8', '::1', '10.0.0.0/8, fe80::/10', '192.168.0.0/16,10.1.2.3', '::ffff:10.0.0.1', '10.0.0.0/33', 'fd00::/129', 'fe80::1%eth0'];
  let injected = 0;
  for (const value of values) {
    const d = decide(pod({ metadata: { annotations: { 'meshtap.io/exclude-outbound-cidrs': value } } }));
    let initAccepts = true;
    try {
      const init = d.inject ? d.pod.spec?.initContainers?.find((c) => c.name === 'meshtap-init') : undefined;
      const args = (init?.args as string[] | undefined) ?? [];
      const i = args.indexOf('--exclude-outbound-cidrs');
      resolveInitConfig({ excludeOutboundCidrs: d.inject ? args[i + 1] : value });
    } catch {
      initAccepts = false;
    }
    if (d.inject) injected++;
    t.equal(d.inject, initAccepts, `${value}: webhook ${d.inject ? 'injects' : 'skips'}, init ${initAccepts ? 'accepts' : 'refuses'}`);
  }
  t.equal(injected, 7, 'IPv6 CIDRs are injected like IPv4 ones; malformed ones of either family are not');
});

void t.test('Pod Security levels that allow NET_ADMIN, and users other than the proxy\'s, still inject', async (t) => {
  t.ok(decide(pod(), { namespaceLabels: { 'meshtap.io/inject': 'enabled', 'pod-security.kubernetes.io/enforce': 'privileged' } }).inject, 'privileged');
  t.ok(decide(pod(), { namespaceLabels: { 'meshtap.io/inject': 'enabled', 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted' } }).inject, 'warn/audit do not block');
  t.ok(decide(pod({ spec: { securityContext: { runAsUser: 1337 }, containers: [{ name: 'app', securityContext: { runAsUser: 1000 } }] } })).inject, 'a container override of the pod UID');
  t.ok(decide(pod({ spec: { securityContext: { runAsUser: 1000, runAsGroup: 3000 } } })).inject, 'other ids');
});
