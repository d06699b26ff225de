import t from 'tap';
import { isMeshtapError } from '../../../lib/errors.ts';
import { SIDECAR_DEFAULTS, SIDECAR_ENV_VARS, resolveSidecarConfig, suggestVariable } from '../../../sidecar/config.ts';

const POD = { POD_NAME: 'frontend-7d9c', POD_NAMESPACE: 'shop', POD_IP: '10.244.1.7' };

function configError(env: Record<string, string>): string {
  try {
    resolveSidecarConfig({ ...POD, ...env });
  } catch (err) {
    if (isMeshtapError(err, 'SC_ERR_CONFIG')) return err.message;
    throw err;
  }
  throw new Error('expected SC_ERR_CONFIG');
}

void t.test('defaults from the pod environment alone', async (t) => {
  const config = resolveSidecarConfig(POD);
  t.match(config, {
    pod: { name: 'frontend-7d9c', namespace: 'shop', ip: '10.244.1.7', serviceAccount: 'default' },
    collectorAddr: undefined,
    inboundPort: 15006,
    outboundPort: 15001,
    adminPort: 15020,
    maxBodyBytes: 65536,
    proxyUid: 1337,
    proxyGid: 1337,
    logLevel: 'info',
    capture: true,
    detectTimeoutMs: SIDECAR_DEFAULTS.detectTimeoutMs,
    captureBufferBytes: 16 * 1024 * 1024,
    captureConnectionBufferBytes: 4 * 1024 * 1024,
    drainSeconds: 5,
    trimAfterSeconds: 10,
    mtls: { mode: 'off', trustDomain: 'cluster.local' },
    warnings: [],
  });
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.pod) && Object.isFrozen(config.mtls), 'frozen all the way down');
});

void t.test('every documented variable is read', async (t) => {
  const config = resolveSidecarConfig({
    ...POD,
    NODE_NAME: 'node-a',
    SERVICE_ACCOUNT: 'frontend',
    MESHTAP_COLLECTOR_ADDR: 'meshtap-collector.meshtap-system.svc:9090',
    MESHTAP_INBOUND_PORT: '16006',
    MESHTAP_OUTBOUND_PORT: '16001',
    MESHTAP_ADMIN_PORT: '16020',
    MESHTAP_MAX_BODY_BYTES: '0',
    MESHTAP_PROXY_UID: '2000',
    MESHTAP_PROXY_GID: '2001',
    MESHTAP_LOG_LEVEL: 'debug',
    MESHTAP_CAPTURE: 'off',
    MESHTAP_DETECT_TIMEOUT_MS: '250',
    MESHTAP_CAPTURE_BUFFER_BYTES: '8388608',
    MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES: '1048576',
    MESHTAP_DRAIN_SECONDS: '0',
    MESHTAP_TRIM_AFTER_SECONDS: '0',
    MESHTAP_MTLS_MODE: 'strict',
    MESHTAP_CA_ADDR: '10.96.0.10:8443',
    MESHTAP_CONTROLLER_ADDR: '[fd00::1]:9443',
    MESHTAP_TOKEN_FILE: '/var/run/secrets/meshtap/token',
    MESHTAP_TRUST_BUNDLE: '/var/run/secrets/meshtap/ca.pem',
    MESHTAP_TRUST_DOMAIN: 'example.org',
  });
  t.match(config, {
    pod: { node: 'node-a', serviceAccount: 'frontend' },
    collectorAddr: 'meshtap-collector.meshtap-system.svc:9090',
    inboundPort: 16006,
    outboundPort: 16001,
    adminPort: 16020,
    maxBodyBytes: 0,
    proxyUid: 2000,
    proxyGid: 2001,
    logLevel: 'debug',
    capture: false,
    detectTimeoutMs: 250,
    captureBufferBytes: 8388608,
    captureConnectionBufferBytes: 1048576,
    drainSeconds: 0,
    trimAfterSeconds: 0,
    mtls: {
      mode: 'strict',
      caAddr: '10.96.0.10:8443',
      controllerAddr: '[fd00::1]:9443',
      tokenFile: '/var/run/secrets/meshtap/token',
      trustBundle: '/var/run/secrets/meshtap/ca.pem',
      trustDomain: 'example.org',
    },
  });
  t.same(config.warnings, [], 'every mTLS setting is there, so nothing to warn about');
});

void t.test('a bad value names the variable, the value and what is expected', async (t) => {
  t.equal(configError({ MESHTAP_INBOUND_PORT: 'abc' }), 'MESHTAP_INBOUND_PORT="abc": expected a TCP port 1-65535');
  t.equal(configError({ MESHTAP_ADMIN_PORT: '70000' }), 'MESHTAP_ADMIN_PORT="70000": expected a TCP port 1-65535');
  t.equal(configError({ MESHTAP_CAPTURE: 'yes' }), 'MESHTAP_CAPTURE="yes": expected one of on, off');
  t.equal(configError({ MESHTAP_DNS_PORT: '53x' }), 'MESHTAP_DNS_PORT="53x": expected a port 1-65535 (UDP and TCP)');
  t.equal(configError({ MESHTAP_DNS_PORT: '15020' }), 'MESHTAP_DNS_PORT="15020": expected a port different from MESHTAP_ADMIN_PORT (15020, its default)');
  t.equal(resolveSidecarConfig(POD).dnsPort, 15053, 'the DNS port defaults to 15053');
  t.equal(resolveSidecarConfig({ ...POD, MESHTAP_DNS_PORT: '5353' }).dnsPort, 5353);
  t.equal(configError({ MESHTAP_LOG_LEVEL: 'loud' }), 'MESHTAP_LOG_LEVEL="loud": expected one of debug, info, warn, error');
  t.equal(configError({ POD_IP: 'fd00::7' }), 'POD_IP="fd00::7": expected an IPv4 address');
  t.equal(configError({ MESHTAP_COLLECTOR_ADDR: 'collector' }), 'MESHTAP_COLLECTOR_ADDR="collector": expected host:port (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535): the ":port" is missing');
  // The injector's check (lib/host-port.ts): what it refuses, the sidecar refuses too.
  for (const [value, problem] of [
    ['999.999.999.999:80', /is not an IPv4 address/],
    ['[:::::]:80', /is not a bracketed IPv6 address/],
    ['host:0080', /has a leading zero/],
    ['a..b:80', /has an empty label/],
  ] as const) {
    t.match(configError({ MESHTAP_COLLECTOR_ADDR: value }), problem, value);
  }
  t.equal(resolveSidecarConfig({ ...POD, MESHTAP_COLLECTOR_ADDR: '[fd00::1]:9400' }).collectorAddr, '[fd00::1]:9400');
  // Past Kubernetes' 2147483647 (which init and the injector refuse too) is refused here.
  t.equal(configError({ MESHTAP_PROXY_GID: '3000000000' }), 'MESHTAP_PROXY_GID="3000000000": expected a numeric gid 0-2147483647');
  t.equal(configError({ MESHTAP_MAX_BODY_BYTES: '-1' }), 'MESHTAP_MAX_BODY_BYTES="-1": expected a number of bytes 0-67108864');
  t.equal(configError({ MESHTAP_TRIM_AFTER_SECONDS: 'soon' }), 'MESHTAP_TRIM_AFTER_SECONDS="soon": expected seconds 0-3600 (0: never)');
  t.equal(configError({ MESHTAP_TOKEN_FILE: 'token' }), 'MESHTAP_TOKEN_FILE="token": expected an absolute file path');
  t.equal(configError({ MESHTAP_OUTBOUND_PORT: '15006' }), 'MESHTAP_OUTBOUND_PORT="15006": expected a port different from MESHTAP_INBOUND_PORT (15006, its default)');
  // The variable that was set is named, not the one left at its default.
  t.equal(configError({ MESHTAP_INBOUND_PORT: '15001' }), 'MESHTAP_INBOUND_PORT="15001": expected a port different from MESHTAP_OUTBOUND_PORT (15001, its default)');
  t.equal(configError({ MESHTAP_INBOUND_PORT: '7000', MESHTAP_OUTBOUND_PORT: '7000' }), 'MESHTAP_OUTBOUND_PORT="7000": expected a port different from MESHTAP_INBOUND_PORT (7000)');
  t.equal(configError({ MESHTAP_MTLS_MODE: 'permissive' }), 'MESHTAP_MTLS_MODE="permissive": expected MESHTAP_CA_ADDR to be set as well, or mode off');
  t.equal(configError({ MESHTAP_CAPTURE_BUFFER_BYTES: '1k' }), 'MESHTAP_CAPTURE_BUFFER_BYTES="1k": expected a number of bytes 65536-1073741824');
  t.equal(
    configError({ MESHTAP_CAPTURE_BUFFER_BYTES: '1048576', MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES: '2097152' }),
    'MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES="2097152": expected at most MESHTAP_CAPTURE_BUFFER_BYTES (1048576)',
  );
  t.equal(configError({ MESHTAP_PROBE_PORTS: '8080', MESHTAP_PROBE_PATHS: '8080:/healthz' }), 'MESHTAP_PROBE_PATHS="8080:/healthz": expected PORT=/path|/path,... (TCP ports 1-65535, paths starting with /)');
  t.equal(configError({ MESHTAP_PROBE_PORTS: '8080', MESHTAP_PROBE_PATHS: '9090=/live' }), 'MESHTAP_PROBE_PATHS="9090=/live": port 9090 is not in MESHTAP_PROBE_PORTS');
  t.same(resolveSidecarConfig({ ...POD, MESHTAP_PROBE_PORTS: '8080,9090', MESHTAP_PROBE_PATHS: '8080=/healthz|/ready' }).mtls.probePaths, { 8080: ['/healthz', '/ready'] });
  t.match(configError({ POD_NAMESPACE: 'Shop' }), /^POD_NAMESPACE="Shop": expected a Kubernetes namespace name/);
  // The CA's rule (certs/spiffe-id.ts): "_" is a SPIFFE trust domain character; empty labels are not.
  t.equal(resolveSidecarConfig({ ...POD, MESHTAP_TRUST_DOMAIN: 'prod_eu.example' }).mtls.trustDomain, 'prod_eu.example');
  t.equal(
    configError({ MESHTAP_TRUST_DOMAIN: 'prod..example' }),
    'MESHTAP_TRUST_DOMAIN="prod..example": expected a SPIFFE trust domain: dot-separated labels of lower-case letters, digits, "-" and "_" (like "cluster.local")',
  );
});

void t.test('missing pod variables are reported as not set; empty counts as unset', async (t) => {
  t.throws(() => resolveSidecarConfig({}), { code: 'SC_ERR_CONFIG', message: /POD_NAME is not set.*POD_NAMESPACE is not set.*POD_IP is not set/ });
  t.equal(resolveSidecarConfig({ ...POD, MESHTAP_INBOUND_PORT: '' }).inboundPort, 15006);
  t.equal(resolveSidecarConfig({ ...POD, MESHTAP_INBOUND_PORT: ' 16006 ' }).inboundPort, 16006, 'surrounding blanks ignored');
});

void t.test('unknown MESHTAP_ variables warn, with a did-you-mean hint when close', async (t) => {
  const config = resolveSidecarConfig({ ...POD, MESHTAP_INBOUND_PROT: '1', MESHTAP_SOMETHING_ELSE: 'x', OTHER_VAR: 'y' });
  t.same(config.warnings, [
    'unknown variable MESHTAP_INBOUND_PROT is ignored (did you mean MESHTAP_INBOUND_PORT?)',
    'unknown variable MESHTAP_SOMETHING_ELSE is ignored',
  ]);
  t.equal(suggestVariable('MESHTAP_COLECTOR_ADDR'), 'MESHTAP_COLLECTOR_ADDR');
  t.equal(suggestVariable('MESHTAP_CAPTURE_MODE'), 'MESHTAP_CAPTURE');
  t.equal(suggestVariable('MESHTAP_XYZ'), undefined);
  t.ok(SIDECAR_ENV_VARS.includes('MESHTAP_DRAIN_SECONDS'));
});
