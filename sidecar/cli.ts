/**
 * `meshtap sidecar`: the transparent capturing proxy of one pod.
 * Exit codes: 0 after a graceful drain (SIGTERM/SIGINT), 2 on a bad setting, 1 on a failure
 * to start (a port taken, libc not loadable).
 */
import { parseCommandArgs, reportFailure, type CommandIO } from '../lib/cli.ts';
import { armExitDeadline } from '../lib/exit-deadline.ts';
import { MeshtapError, describeError, isMeshtapError } from '../lib/errors.ts';
import { createJsonLogger, type Logger } from '../lib/log.ts';
import { waitForSignal } from '../lib/signals.ts';
import { createAdminServer } from './admin/server.ts';
import { createEpochClock } from './clock.ts';
import { SIDECAR_DEFAULTS, resolveSidecarConfig, type SidecarConfig } from './config.ts';
import { SC_ERR_CONFIG } from './errors.ts';
import { INBOUND_PASSTHROUGH_SOURCE } from './init/plan.ts';
import { createSidecarMetrics, createSidecarStats } from './metrics.ts';
import { loadOriginalDst, readOriginalDst } from './original-dst.ts';
import { createCaptureHandOff, type CaptureHandOff } from './capture-worker/hand-off.ts';
import { readGrpcDescriptors } from './grpc/load-descriptors.ts';
import { createSidecarProxy } from './proxy/proxy.ts';
import { createShipperPromMetrics } from './shipper/prom-metrics.ts';
import type { Shipper } from './shipper/shipper.ts';
import type { SidecarShipperSettings } from './shipper/sidecar-shipper.ts';
import { RemoteShipper } from './capture-worker/remote-shipper.ts';
import { startSidecarMtls } from './mtls/start.ts';
import { createDnsSide } from './dns/start.ts';
import { scheduleBinaryTrim } from './trim-pages.ts';
import pkg from '../package.json' with { type: 'json' };

const FLAGS = { help: { type: 'boolean', short: 'h' } } as const;

/** How long the shipper may keep sending after the connections are drained. */
const SHIPPER_DRAIN_MS = 1000;
/** How long the capture worker may take to finish the drained connections' records. */
const CAPTURE_DRAIN_MS = 1000;

function usage(): string {
  const d = SIDECAR_DEFAULTS;
  return `usage: meshtap sidecar

Runs the pod's transparent proxy: the outbound and inbound listeners the pod's iptables rules
redirect to ("meshtap init"), and the admin server (/healthz, /ready, /metrics). Every byte is
forwarded unchanged; a copy is parsed into call records that are masked and shipped to the
collector. SIGTERM drains: listeners close, /ready turns 503, open connections get
MESHTAP_DRAIN_SECONDS to finish. Run it as the proxy uid, which the rules never redirect.

configuration (environment):
  POD_NAME, POD_NAMESPACE, POD_IP   the pod (required; IPv4)
  NODE_NAME, SERVICE_ACCOUNT        the node and service account (optional)
  MESHTAP_COLLECTOR_ADDR            collector gRPC host:port (unset: records are dropped, counted as no_collector)
  MESHTAP_COLLECTOR_TLS             auto|on|off: ship over mTLS with the workload certificate (default ${d.collectorTls}:
                                    mTLS while a certificate is in hand, plaintext otherwise; on: never plaintext)
  MESHTAP_COLLECTOR_SERVER_NAME     name the collector's certificate is checked for when the address is an IP
                                    (default ${d.collectorServerName})
  MESHTAP_INBOUND_PORT              inbound listener (default ${d.inboundPort})
  MESHTAP_OUTBOUND_PORT             outbound listener (default ${d.outboundPort})
  MESHTAP_ADMIN_PORT                admin server (default ${d.adminPort})
  MESHTAP_DNS_PORT                  DNS listener, UDP and TCP on 127.0.0.1, where init redirects the app's port 53
                                    (default ${d.dnsPort}); not ready while it cannot be bound
  MESHTAP_MAX_BODY_BYTES            body bytes captured per message (default ${d.maxBodyBytes})
  MESHTAP_PROXY_UID                 the uid the sidecar should run as (default ${d.proxyUid})
  MESHTAP_PROXY_GID                 the gid it should run as (default: the uid)
  MESHTAP_LOG_LEVEL                 debug|info|warn|error (default ${d.logLevel})
  MESHTAP_CAPTURE                   on|off; off only forwards (default on)
  MESHTAP_DETECT_TIMEOUT_MS         protocol detection window once the client spoke (default ${d.detectTimeoutMs})
  MESHTAP_CAPTURE_BUFFER_BYTES      bytes handed to the capture worker and not processed yet, at most
                                    (default ${d.captureBufferBytes}); beyond it capture skips and cuts, forwarding never waits
  MESHTAP_CAPTURE_CONNECTION_BUFFER_BYTES  the same per connection and direction (default ${d.captureConnectionBufferBytes})
  MESHTAP_DRAIN_SECONDS             drain time after SIGTERM (default ${d.drainSeconds})
  MESHTAP_TRIM_AFTER_SECONDS        seconds after start to give back the node binary's pages only
                                    starting used, read-only and never written (default ${d.trimAfterSeconds}; 0: never)
  MESHTAP_MTLS_MODE                 off|permissive|strict (default: permissive with a CA, else off)
  MESHTAP_CA_ADDR                   the CA (host:port); with it the sidecar gets a workload certificate
  MESHTAP_CONTROLLER_ADDR           the membership feed (host:port): which destinations are meshed
  MESHTAP_TOKEN_FILE                the projected service-account token shown to the CA and controller
  MESHTAP_TRUST_BUNDLE              the roots (PEM) the CA, the controller and mesh peers chain to
  MESHTAP_TRUST_DOMAIN              SPIFFE trust domain (default ${d.trustDomain})
  MESHTAP_CA_TIMEOUT_SECONDS        /ready waits this long for a first certificate and membership
                                    snapshot, then reports ready in plaintext passthrough and keeps
                                    retrying (default ${d.caTimeoutSeconds})
  MESHTAP_CERT_TTL_SECONDS          certificate lifetime to ask for (default 0: the CA's maximum)
  MESHTAP_MASK_KEYS                 extra key names to mask (JSON, form, multipart, query, headers), comma-separated
  MESHTAP_MASK_HEADERS              extra header names to mask, comma-separated
  MESHTAP_MASK_PATTERNS             extra patterns, one per line: literal:TEXT or an RE2 expression
  MESHTAP_MASK_SCAN_BYTES           body bytes scanned per record (default: 256 KiB or two body limits)
  MESHTAP_MASK_UNSCANNED            cut|raw: body bytes that could not be scanned (default cut)
  MESHTAP_GRPC_DESCRIPTORS          FileDescriptorSet files (absolute paths, comma-separated): gRPC messages of the
                                    methods they define get field and enum names (read at start)
  MESHTAP_PROBE_PORTS               strict mode: ports where plaintext from HOST_IP (kubelet probes) is accepted
  MESHTAP_PROBE_PATHS               strict mode: PORT=/path|/path,... ports probed over plain HTTP, where only
                                    GET/HEAD of these paths from HOST_IP is accepted
  HOST_IP                           the node's IP (downward API status.hostIP)
`;
}

function checkIdentity(config: SidecarConfig, log: Logger): void {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if ((uid !== undefined && uid !== config.proxyUid) || (gid !== undefined && gid !== config.proxyGid)) {
    log.warn(
      {
        uid,
        gid,
        proxy_uid: config.proxyUid,
        proxy_gid: config.proxyGid,
      },
      'not running as the proxy uid/gid: in a pod with meshtap rules, outbound connections of this process would be redirected back to it',
    );
  }
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, FLAGS);
  if (args.values.help) {
    io.stdout.write(usage());
    return 0;
  }
  let config: SidecarConfig;
  try {
    config = resolveSidecarConfig(io.env);
  } catch (err) {
    if (!isMeshtapError(err, SC_ERR_CONFIG)) throw err;
    return reportFailure(io.stderr, 'sidecar', err, true);
  }
  let grpcDescriptors: Uint8Array[];
  try {
    grpcDescriptors = readGrpcDescriptors(config.grpcDescriptors);
  } catch (err) {
    return reportFailure(io.stderr, 'sidecar', new MeshtapError(SC_ERR_CONFIG, `MESHTAP_GRPC_DESCRIPTORS: ${(err as Error).message}`), true);
  }
  const log = createJsonLogger(io.stdout, { level: config.logLevel, base: { component: 'sidecar' } });
  for (const warning of config.warnings) log.warn({}, warning);
  checkIdentity(config, log);

  try {
    loadOriginalDst();
  } catch (err) {
    log.error({ error: describeError(err) }, 'cannot read original destinations');
    return 1;
  }

  const stats = createSidecarStats();
  const clock = createEpochClock();
  let draining = false;
  let listening = false;

  let shipper: Shipper | undefined;
  let capture: CaptureHandOff | undefined;
  const mtls = startSidecarMtls(config, stats, log);
  // Ready once a certificate and the first membership snapshot are in hand, or once the CA
  // timeout has passed (then: passthrough, or plaintext towards peers until the feed answers).
  // Without the snapshot an app's first connections, opened as soon as the sidecar is ready and
  // often pooled for the app's life, would all go out in plaintext to meshed peers: two
  // observations per call that never join (their connection ids differ).
  const meshWaits = new Set<string>();
  if (mtls) {
    const timeoutMs = config.mtls.caTimeoutSeconds * 1000;
    const fields = { timeout_seconds: config.mtls.caTimeoutSeconds };
    meshWaits.add('a workload certificate');
    void mtls.identity.waitForFirst(timeoutMs).then((ok) => {
      meshWaits.delete('a workload certificate');
      if (!ok) log.warn(fields, 'mtls: no certificate yet; ready in plaintext passthrough while the CA is retried');
    });
    if (mtls.membership) {
      meshWaits.add('the membership feed');
      void mtls.membership.waitForSnapshot(timeoutMs).then((ok) => {
        meshWaits.delete('the membership feed');
        if (!ok) log.warn(fields, 'mtls: no membership snapshot yet; ready, outbound connections are plaintext until the feed answers');
      });
    }
  }
  // Where the shipper runs: with capture on, in the capture worker (its gRPC stream and garbage
  // stay off the forwarding thread; remote-shipper.ts); with capture off, here (DNS records only).
  const shipperSettings: SidecarShipperSettings | undefined = config.collectorAddr
    ? {
        collectorAddr: config.collectorAddr,
        sidecar: {
          pod: config.pod.name,
          namespace: config.pod.namespace,
          pod_ip: config.pod.ip,
          node: config.pod.node ?? '',
          service_account: config.pod.serviceAccount,
          sidecar_version: pkg.version,
        },
        tls: config.collectorTls,
      }
    : undefined;
  const remoteShipper = shipperSettings && config.capture ? new RemoteShipper(shipperSettings) : undefined;
  // DNS records skip the capture worker's parsers (dns/dns-capture.ts says why); they reach the
  // shipper encoded, wherever it runs. The worker counts what its shipper takes as offered.
  const dns = createDnsSide({
    config,
    clock,
    log,
    ship: shipperSettings
      ? (record) => {
          if (remoteShipper) return remoteShipper.offer(record);
          const ok = shipper?.offer(record) ?? false;
          if (ok) stats.records.offered++;
          return ok;
        }
      : undefined,
  });
  const metricsRegistry = createSidecarMetrics({
    dns: dns.stats,
    stats,
    shipper: () => shipper?.stats(),
    draining: () => draining,
    capture: () => capture?.stats(),
    identity: mtls ? () => mtls.identity.stats() : undefined,
    membershipVersion: mtls?.membership ? () => mtls.membership?.version : undefined,
  });
  if (shipperSettings) {
    const shipperMetrics = createShipperPromMetrics(metricsRegistry);
    if (remoteShipper) {
      remoteShipper.connect({
        metrics: shipperMetrics.metrics,
        identity: mtls?.identity,
        firstIdentityTimeoutMs: config.mtls.caTimeoutSeconds * 1000,
      });
      shipper = remoteShipper;
    } else {
      // Loaded only here: a capturing sidecar keeps the shipper's code off its forwarding thread.
      const { createSidecarShipper } = await import('./shipper/sidecar-shipper.ts');
      shipper = createSidecarShipper(shipperSettings, {
        identity: () => mtls?.identity.current(),
        firstIdentity: mtls ? () => mtls.identity.waitForFirst(config.mtls.caTimeoutSeconds * 1000) : undefined,
        metrics: shipperMetrics.metrics,
        log: (level, message, fields) => log[level](fields, message),
      });
    }
    shipperMetrics.observe(shipper);
  } else {
    log.warn({}, 'MESHTAP_COLLECTOR_ADDR is not set: records are counted as dropped (no_collector)');
  }

  if (config.capture) {
    capture = createCaptureHandOff({
      worker: {
        maxBodyBytes: config.maxBodyBytes,
        detectTimeoutMs: config.detectTimeoutMs,
        local: { pod: config.pod.name, namespace: config.pod.namespace, node: config.pod.node },
        mask: config.mask,
        shipping: shipperSettings !== undefined,
        grpcDescriptors,
      },
      clock,
      stats,
      sidecarBytes: config.captureBufferBytes,
      connectionBytes: config.captureConnectionBufferBytes,
      shipper: remoteShipper,
      onLog: (level, message, fields) => log[level](fields, message),
    });
    try {
      await capture.ready();
    } catch (err) {
      log.error({ error: describeError(err) }, 'cannot start the capture worker');
      await mtls?.close().catch(() => undefined);
      return 1;
    }
  }
  const proxy = createSidecarProxy({
    host: '0.0.0.0',
    outboundPort: config.outboundPort,
    inboundPort: config.inboundPort,
    podIp: config.pod.ip,
    inboundSourceAddress: INBOUND_PASSTHROUGH_SOURCE,
    clock,
    stats,
    capture,
    originalDst: readOriginalDst,
    mtls: mtls?.hooks,
  });
  const admin = createAdminServer({
    host: '0.0.0.0',
    port: config.adminPort,
    registry: metricsRegistry,
    state: () => ({
      listening,
      ready: listening && !draining && meshWaits.size === 0 && dns.listening,
      draining,
      waitingFor: [...meshWaits, ...(dns.listening ? [] : ['the DNS port'])].join(' and ') || undefined,
    }),
  });

  const signal = waitForSignal();
  try {
    await admin.listen();
    const addresses = await proxy.listen();
    // A DNS port that cannot be bound is logged and retried; /ready stays 503 meanwhile.
    await dns.start();
    listening = true;
    log.info(
      {
        outbound: `${addresses.outbound.address}:${addresses.outbound.port}`,
        inbound: `${addresses.inbound.address}:${addresses.inbound.port}`,
        admin_port: config.adminPort,
        dns_port: dns.listening ? config.dnsPort : null,
        capture: config.capture,
        collector: config.collectorAddr ?? null,
        collector_tls: config.collectorTls.mode,
        mtls: mtls ? config.mtls.mode : 'off',
        pod: `${config.pod.namespace}/${config.pod.name}`,
        version: pkg.version,
      },
      'listening',
    );
  } catch (err) {
    log.error({ error: describeError(err) }, 'cannot start');
    await admin.close().catch(() => undefined);
    await dns.close().catch(() => undefined);
    await capture?.close(0).catch(() => undefined);
    await shipper?.close({ drainMs: 0 }).catch(() => undefined);
    await mtls?.close().catch(() => undefined);
    signal.dispose();
    return 1;
  }

  // Started: the node binary's pages that only starting used go back.
  const cancelTrim = scheduleBinaryTrim(config.trimAfterSeconds, log);

  const received = await signal.promise;
  cancelTrim();
  signal.dispose();
  // Drain time, the shipper's flush, then out whatever still hangs (a vanished collector or peer).
  armExitDeadline({ ms: config.drainSeconds * 1000 + CAPTURE_DRAIN_MS + SHIPPER_DRAIN_MS + 5000, log: (message, fields) => log.warn(fields, message) });
  draining = true;
  log.info({ signal: received, drain_seconds: config.drainSeconds, active_connections: proxy.activeConnections }, 'draining');
  await proxy.stopAccepting();
  listening = false;
  const aborted = await proxy.drain(config.drainSeconds * 1000);
  await dns.close().catch(() => undefined);
  // The drained connections' last records are still in the worker: they reach the shipper
  // first, the shipper drains (in the worker when it runs there), then the worker stops.
  await capture?.flush(CAPTURE_DRAIN_MS).catch(() => undefined);
  const shipped = await shipper?.close({ drainMs: SHIPPER_DRAIN_MS }).catch(() => undefined);
  await capture?.close(0).catch(() => undefined);
  await mtls?.close().catch(() => undefined);
  await admin.close();
  log.info(
    {
      connections_ended_at_deadline: aborted,
      records_emitted: stats.records.emitted,
      records_shipped: shipped?.shipped ?? 0,
      records_dropped: { ...stats.records.dropped, ...Object.fromEntries(Object.entries(shipped?.dropped ?? {}).filter(([, n]) => n > 0)) },
    },
    'stopped',
  );
  // Anything still holding the event loop (a lingering gRPC channel) must not block the exit.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}
