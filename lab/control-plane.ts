/**
 * The lab's control plane: `meshtap controller` (webhook, CA and membership feed) started as a
 * host process, and the collector's serving certificate. `lab up` talks to it through
 * `ControlPlane`, so a scenario (or a test) can bring its own.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueWebhookCert } from '../certs/webhook-cert.ts';
import { readTlsDir, writeTlsDir } from '../lib/tls/tls-dir.ts';
import { GATEWAY_IP } from './addresses.ts';
import { MESHTAP_BIN, NODE } from './paths.ts';

export interface ControlPlaneContext {
  stateDir: string;
  /** `meshtap certs init` output: `ca/` and `webhook/` TLS directories. */
  certDir: string;
  /** Namespace objects of the scenario, for label lookups. */
  namespacesFile: string;
  /** Injector options (collector and controller addresses on the lab's network). */
  injectorConfigFile: string;
  /** PEM public key the pods' tokens are verified with. */
  tokenKeyFile: string;
  /** The membership file the lab keeps (`membership-file.ts`). */
  membershipFile: string;
  /** Address (on the bridge, reachable from every pod) and port of the CA + membership gRPC port. */
  grpcIp: string;
  grpcPort: number;
  /** Starts a host process, recorded in the state before it is spawned. */
  startHostProcess(name: string, argv: string[], env?: Record<string, string>): { child: ChildProcess; log: string };
  /** Resolves with the first JSON log line of `log` that `match` accepts. */
  waitForLogLine(name: string, log: string, child: ChildProcess, match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export interface RunningControlPlane {
  webhookUrl: string;
  /** The CA pods trust (the webhook's serving certificate and the gRPC port chain to it). */
  caPem: string;
  /** `ip:port` of the CA and membership gRPC port. */
  grpcAddr: string;
  /** The log the webhook's review lines (with skip reasons) go to. */
  log: string;
  pid?: number;
  trustDomain?: string;
  summary: string;
  /** Resolves true once the membership feed lists `workloads` meshed pods, false after `timeoutMs`. */
  waitForMembership?(workloads: number, timeoutMs: number): Promise<boolean>;
}

/** What admits pods, signs workload certificates and serves the membership feed. */
export interface ControlPlane {
  name: string;
  start(ctx: ControlPlaneContext): Promise<RunningControlPlane>;
}

/** The name the issued gRPC certificate carries for in-cluster clients; the lab adds the bridge address. */
export const CONTROLLER_DNS_NAME = 'meshtap-controller.meshtap-system.svc';

/**
 * The collector's serving certificate names its Service (what sidecars check when they dial an
 * IP, `MESHTAP_COLLECTOR_SERVER_NAME`), the bridge address and loopback.
 */
export async function issueCollectorCert(certDir: string): Promise<string> {
  const ca = await readTlsDir(join(certDir, 'ca'));
  const dir = join(certDir, 'collector');
  await writeTlsDir(dir, issueWebhookCert(ca, { service: 'meshtap-collector', namespace: 'meshtap-system', extraIps: [GATEWAY_IP, '127.0.0.1'] }), { overwrite: true });
  return dir;
}

/**
 * `meshtap controller` on the bridge address: the webhook (a free port) and the CA +
 * membership gRPC port (15012), whose serving certificate names both the bridge address (what
 * `MESHTAP_CA_ADDR` holds, so a client checking the address's host accepts it) and the
 * controller's service name (for a client that sets that name as TLS server name).
 */
export const controllerControlPlane: ControlPlane = {
  name: 'controller',
  async start(ctx) {
    const argv = [
      NODE, MESHTAP_BIN, 'controller',
      '--webhook-cert-dir', join(ctx.certDir, 'webhook'),
      '--ca-dir', join(ctx.certDir, 'ca'),
      '--host', ctx.grpcIp,
      '--webhook-port', '0',
      '--grpc-port', String(ctx.grpcPort),
      '--grpc-ip', ctx.grpcIp,
      '--grpc-dns', CONTROLLER_DNS_NAME,
      '--token-key', ctx.tokenKeyFile,
      '--inventory-file', ctx.membershipFile,
      '--config', ctx.injectorConfigFile,
      '--namespaces', ctx.namespacesFile,
      '--strict-namespace-labels',
    ];
    const { child, log } = ctx.startHostProcess('controller', argv);
    const line = await ctx.waitForLogLine('controller', log, child, (l) => l.event === 'controller-ready');
    const webhookUrl = `https://${ctx.grpcIp}:${String(line.webhookPort)}`;
    const grpcAddr = `${ctx.grpcIp}:${String(line.grpcPort)}`;
    return {
      webhookUrl,
      grpcAddr,
      caPem: readFileSync(join(ctx.certDir, 'ca', 'ca.crt'), 'utf8'),
      log,
      pid: child.pid,
      ...(typeof line.trustDomain === 'string' ? { trustDomain: line.trustDomain } : {}),
      summary: `meshtap controller: webhook ${webhookUrl}, CA and membership ${grpcAddr} (pid ${child.pid}, log ${log})`,
      waitForMembership: (workloads, timeoutMs) =>
        ctx.waitForLogLine('controller', log, child, (l) => l.event === 'membership-snapshot' && l.workloads === workloads, timeoutMs).then(
          () => true,
          () => false,
        ),
    };
  },
};
