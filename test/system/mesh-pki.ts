/**
 * The mesh's control side for system tests that run the real controller (CA + membership
 * feed) in the host namespace: a PKI from `meshtap certs init`, a token key with a service
 * account token per pod, the controller started on the lab's gateway, and the environment that
 * points a sidecar at it. Sidecars (uid 1337) read their tokens and the trust bundle from
 * `shared`, which is world-readable.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { issueTestToken } from '../../certs/authn/jwt-key.ts';
import { sh } from '../../lab/netns.ts';
import { MESHTAP, MeshLab, NODE, Proc, REPO } from './harness.ts';

export interface MeshPki {
  /** The test's directory (removed at teardown); `pki/` holds the CA and the webhook's certificate. */
  dir: string;
  /** World-readable: tokens (`<pod>.token`) and the trust bundle. */
  shared: string;
  trustBundle: string;
  namespace: string;
}

/** A PKI, a token key and a token for each pod (`pod → service account`), in a fresh directory. */
export async function createMeshPki(t: Test, prefix: string, namespace: string, accounts: Readonly<Record<string, string>>): Promise<MeshPki> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const shared = join(dir, 'shared');
  await chmod(dir, 0o755);
  await mkdir(shared, { mode: 0o755 });
  await chmod(shared, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await sh(NODE, [MESHTAP, 'certs', 'init', '--dir', join(dir, 'pki')]);
  const trustBundle = join(shared, 'trust.pem');
  await copyFile(join(dir, 'pki/ca/ca.crt'), trustBundle);
  await chmod(trustBundle, 0o644);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(join(dir, 'token-key.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  for (const [pod, serviceAccount] of Object.entries(accounts)) {
    const token = await issueTestToken(privateKey, { namespace, serviceAccount, podName: pod, ttlSeconds: 3600 });
    await writeFile(join(shared, `${pod}.token`), token, { mode: 0o644 });
  }
  return { dir, shared, trustBundle, namespace };
}

/** `meshtap controller` on the lab's gateway, adopted by the lab; resolves once ready, with its gRPC port. */
export async function startController(lab: MeshLab, pki: MeshPki, inventoryFile: string, grpcPort = 0): Promise<{ proc: Proc; grpcPort: number }> {
  const proc = lab.adopt(
    new Proc(
      'controller',
      spawn(
        NODE,
        [
          MESHTAP, 'controller',
          '--webhook-cert-dir', join(pki.dir, 'pki/webhook'),
          '--ca-dir', join(pki.dir, 'pki/ca'),
          '--webhook-port', '0',
          '--grpc-port', String(grpcPort),
          '--host', lab.net.gateway,
          '--grpc-ip', lab.net.gateway,
          '--token-key', join(pki.dir, 'token-key.pem'),
          '--inventory-file', inventoryFile,
        ],
        { cwd: REPO, env: lab.baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    ),
  );
  const line = await proc.waitFor(/"event":"controller-ready"/);
  return { proc, grpcPort: (JSON.parse(line) as { grpcPort: number }).grpcPort };
}

/** A sidecar's environment for the controller at `grpcPort`: permissive mTLS, the pod's token and the bundle. */
export function meshSidecarEnv(lab: MeshLab, pki: MeshPki, grpcPort: number, pod: string, serviceAccount: string): Record<string, string> {
  return {
    SERVICE_ACCOUNT: serviceAccount,
    MESHTAP_MTLS_MODE: 'permissive',
    MESHTAP_CA_ADDR: `${lab.net.gateway}:${grpcPort}`,
    MESHTAP_CONTROLLER_ADDR: `${lab.net.gateway}:${grpcPort}`,
    MESHTAP_TOKEN_FILE: join(pki.shared, `${pod}.token`),
    MESHTAP_TRUST_BUNDLE: pki.trustBundle,
  };
}

/**
 * A client and a server pod, both meshed (in the controller's inventory file), with the real
 * controller and sidecars pointed at it; the lab is destroyed at teardown. `sidecarEnv` gives a
 * pod's environment as the sidecars got it (for restarts).
 */
export async function startMeshedPair(
  t: Test,
  pki: MeshPki,
  namespace: string,
  accounts: { client: string; server: string },
): Promise<{ lab: MeshLab; sidecarEnv: (pod: 'client' | 'server') => Record<string, string> }> {
  let grpcPort = 0;
  let lab!: MeshLab;
  const sidecarEnv = (pod: 'client' | 'server'): Record<string, string> => meshSidecarEnv(lab, pki, grpcPort, pod, accounts[pod]);
  lab = await MeshLab.start({
    beforeSidecars: async (l) => {
      lab = l;
      const inventory = join(pki.dir, 'inventory.json');
      const pods = (['client', 'server'] as const).map((name) => ({ name, namespace, ip: l[name].ip, serviceAccount: accounts[name], meshed: true }));
      await writeFile(inventory, JSON.stringify({ pods }));
      grpcPort = (await startController(l, pki, inventory)).grpcPort;
    },
    sidecarEnvFor: {
      get client() {
        return sidecarEnv('client');
      },
      get server() {
        return sidecarEnv('server');
      },
    },
  });
  t.teardown(() => lab.destroy());
  return { lab, sidecarEnv };
}
