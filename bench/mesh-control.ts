/**
 * The control plane the mTLS sidecars need, as the system tests run it: a controller (CA and
 * membership feed) in the host namespace on the bridge address, with a temp CA from
 * `meshtap certs init`, a token key, per-pod test tokens and an inventory naming both pods as
 * meshed. Also the checks that the mTLS pair really is meshed, before and after the load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueTestToken } from '../certs/authn/jwt-key.ts';
import { execInNetns, sh, type PodNetns, type PodNetwork } from '../lab/netns.ts';
import type { CallRecordJson } from '../record/record-json.ts';
import { waitForLine, type Collector } from './collector-process.ts';
import type { LoadResult } from './results.ts';
import { samples } from './sidecar-counters.ts';
import { ADMIN_PORT, APP_PORT, APP_UID, MESHTAP, NODE, POD_NAMES, POD_NAMESPACE, REPO, SERVICE_ACCOUNTS, benchEnv, log, sleep } from './settings.ts';

export class MeshControl {
  child: ChildProcess | undefined;
  grpcPort = 0;
  private readonly dir: string;
  private readonly shared: string;
  private readonly net: PodNetwork;

  constructor(net: PodNetwork, dir: string) {
    this.net = net;
    this.dir = join(dir, 'mesh');
    this.shared = join(this.dir, 'shared');
  }

  async start(pods: PodNetns[]): Promise<void> {
    // The sidecars (proxy uid) read their token and the trust bundle from `shared`.
    mkdirSync(this.shared, { recursive: true, mode: 0o755 });
    chmodSync(this.dir, 0o755);
    chmodSync(this.shared, 0o755);
    await sh(NODE, [MESHTAP, 'certs', 'init', '--dir', join(this.dir, 'pki')]);
    writeFileSync(join(this.shared, 'trust.pem'), readFileSync(join(this.dir, 'pki/ca/ca.crt')), { mode: 0o644 });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(this.dir, 'token-key.pem'), publicKey.export({ type: 'spki', format: 'pem' }) as string);
    for (const i of [0, 1] as const) {
      const token = await issueTestToken(privateKey, { namespace: POD_NAMESPACE, serviceAccount: SERVICE_ACCOUNTS[i], podName: POD_NAMES[i], ttlSeconds: 3600 });
      writeFileSync(join(this.shared, `${POD_NAMES[i]}.token`), token, { mode: 0o644 });
    }
    const inventory = join(this.dir, 'inventory.json');
    const doc = { pods: pods.map((pod, i) => ({ name: POD_NAMES[i], namespace: POD_NAMESPACE, ip: pod.ip, serviceAccount: SERVICE_ACCOUNTS[i], meshed: true })) };
    writeFileSync(`${inventory}.tmp`, JSON.stringify(doc));
    renameSync(`${inventory}.tmp`, inventory);
    this.child = spawn(
      NODE,
      [
        MESHTAP, 'controller',
        '--webhook-cert-dir', join(this.dir, 'pki/webhook'),
        '--ca-dir', join(this.dir, 'pki/ca'),
        '--webhook-port', '0',
        '--grpc-port', '0',
        '--host', this.net.gateway,
        '--grpc-ip', this.net.gateway,
        '--token-key', join(this.dir, 'token-key.pem'),
        '--inventory-file', inventory,
      ],
      { cwd: REPO, env: benchEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const line = await waitForLine(this.child, /"event":"controller-ready"/, 'controller');
    this.grpcPort = (JSON.parse(line) as { grpcPort: number }).grpcPort;
  }

  /** The identity variables for the pod at `index` (client 0, server 1). */
  sidecarEnv(index: 0 | 1): Record<string, string> {
    const addr = `${this.net.gateway}:${this.grpcPort}`;
    return {
      SERVICE_ACCOUNT: SERVICE_ACCOUNTS[index],
      MESHTAP_MTLS_MODE: 'permissive',
      MESHTAP_CA_ADDR: addr,
      MESHTAP_CONTROLLER_ADDR: addr,
      MESHTAP_TOKEN_FILE: join(this.shared, `${POD_NAMES[index]}.token`),
      MESHTAP_TRUST_BUNDLE: join(this.shared, 'trust.pem'),
    };
  }

  stop(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** A sidecar's Prometheus exposition, from its admin port. */
export async function sidecarMetrics(pod: PodNetns): Promise<string> {
  return (await fetch(`http://${pod.ip}:${ADMIN_PORT}/metrics`)).text();
}

/** Waits until both sidecars hold a certificate and have seen the membership feed. */
export async function waitMeshReady(pods: PodNetns[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const texts = await Promise.all(pods.map((pod) => sidecarMetrics(pod).catch(() => '')));
    const ready = texts.every(
      (t) => /^meshtap_sidecar_identity_cert_info\{[^}]*serial="[0-9a-f]+"/m.test(t) && Number(/^meshtap_sidecar_membership_version (\S+)$/m.exec(t)?.[1] ?? '0') > 0,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error('meshtap mTLS: the sidecars got no certificate or membership from the controller');
    await sleep(200);
  }
}

/** One marked call from the client pod's app uid; both records must report tls.mesh: true. */
export async function verifyMeshedCall(client: PodNetns, url: string, collector: Collector): Promise<void> {
  const path = `/echo?bench-mesh=${randomBytes(6).toString('hex')}`;
  await execInNetns(client.netns, 'setpriv', [`--reuid=${APP_UID}`, `--regid=${APP_UID}`, '--clear-groups', 'curl', '-sS', '-m', '10', '--data-binary', 'mesh', new URL(path, url).href]);
  let found: CallRecordJson[] = [];
  for (let i = 0; i < 50 && found.length < 2; i++) {
    found = (await collector.calls(1000)).filter((c) => c.path === path);
    if (found.length < 2) await sleep(200);
  }
  const observers = found.map((c) => `${c.observer}: tls.mesh=${String(c.tls.mesh)}`).join(', ');
  if (found.length < 2 || !found.every((c) => c.tls.mesh === true)) {
    throw new Error(`meshtap mTLS: the marked call is not meshed in both records (${observers || 'no records'})`);
  }
}

/**
 * A pair without capture has no records to show its calls were meshed: its sidecars' own
 * counters must (outbound connections by mTLS outcome: some `mesh`, none plaintext).
 */
export async function verifyMeshedConnections(pods: readonly PodNetns[]): Promise<void> {
  const outbound = parseOutcomes(await sidecarMetrics(pods[0]));
  const plain = Object.entries(outbound).filter(([outcome, n]) => outcome !== 'mesh' && n > 0);
  if ((outbound.mesh ?? 0) === 0 || plain.length > 0) {
    throw new Error(`meshtap mTLS: the client sidecar's outbound connections were not all meshed (${JSON.stringify(outbound)})`);
  }
  log(`meshtap mTLS, capture off: ${outbound.mesh} outbound connections meshed, none plaintext`);
}

/** `meshtap_sidecar_mtls_connections_total{direction="outbound",outcome=…}` by outcome. */
function parseOutcomes(exposition: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { labels, value } of samples(exposition, 'meshtap_sidecar_mtls_connections_total')) {
    if (labels.direction === 'outbound' && labels.outcome !== undefined) out[labels.outcome] = (out[labels.outcome] ?? 0) + value;
  }
  return out;
}

/** After the load: the newest records (all from this load: newest first) must report tls.mesh: true. */
export async function verifyMeshedLoad(collector: Collector, fixed: LoadResult): Promise<void> {
  const calls = (await collector.calls(Math.min(1000, 2 * fixed.total))).filter((c) => c.dst.port === APP_PORT);
  const plain = calls.filter((c) => c.tls.mesh !== true);
  if (calls.length === 0 || plain.length > 0) {
    throw new Error(`meshtap mTLS: ${plain.length} of the last ${calls.length} records under load are not tls.mesh: true`);
  }
  log(`meshtap mTLS: the last ${calls.length} records under load all report tls.mesh: true`);
}
