/**
 * Connection facts on a meshed pair in network namespaces, with the real controller (CA and
 * membership feed): both sidecars put the upstream connect time and the mesh handshake time on
 * the first exchange of a connection (and only there), count reuse, and a client that gives up
 * (`curl --max-time 1` against a slow endpoint) is recorded as `client_timeout`.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { issueTestToken } from '../../certs/authn/jwt-key.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { sh } from '../../lab/netns.ts';
import { MESHTAP, MeshLab, NODE, Proc, REPO, eventually } from './harness.ts';

const NS = 'systest';
const SA = { client: 'frontend', server: 'payment' } as const;

const dir = await mkdtemp(join(tmpdir(), 'meshtap-connfacts-'));
// The sidecars (uid 1337) read their tokens and the trust bundle from here.
const shared = join(dir, 'shared');
await chmod(dir, 0o755);
await mkdir(shared, { mode: 0o755 });
t.teardown(() => rm(dir, { recursive: true, force: true }));

await sh(NODE, [MESHTAP, 'certs', 'init', '--dir', join(dir, 'pki')]);
const trustBundle = join(shared, 'trust.pem');
await copyFile(join(dir, 'pki/ca/ca.crt'), trustBundle);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
await writeFile(join(dir, 'token-key.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
for (const pod of ['client', 'server'] as const) {
  const token = await issueTestToken(privateKey, { namespace: NS, serviceAccount: SA[pod], podName: pod, ttlSeconds: 3600 });
  await writeFile(join(shared, `${pod}.token`), token, { mode: 0o644 });
}
await chmod(trustBundle, 0o644);

let grpcPort = 0;
const sidecarEnv = (pod: 'client' | 'server') => ({
  SERVICE_ACCOUNT: SA[pod],
  MESHTAP_MTLS_MODE: 'permissive',
  MESHTAP_CA_ADDR: `${lab.net.gateway}:${grpcPort}`,
  MESHTAP_CONTROLLER_ADDR: `${lab.net.gateway}:${grpcPort}`,
  MESHTAP_TOKEN_FILE: join(shared, `${pod}.token`),
  MESHTAP_TRUST_BUNDLE: trustBundle,
});

let lab!: MeshLab;
lab = await MeshLab.start({
  beforeSidecars: async (l) => {
    lab = l;
    const inventory = join(dir, 'inventory.json');
    await writeFile(
      inventory,
      JSON.stringify({
        pods: [
          { name: 'client', namespace: NS, ip: l.client.ip, serviceAccount: SA.client, meshed: true },
          { name: 'server', namespace: NS, ip: l.server.ip, serviceAccount: SA.server, meshed: true },
        ],
      }),
    );
    const controller = l.adopt(
      new Proc(
        'controller',
        spawn(
          NODE,
          [
            MESHTAP, 'controller',
            '--webhook-cert-dir', join(dir, 'pki/webhook'),
            '--ca-dir', join(dir, 'pki/ca'),
            '--webhook-port', '0',
            '--grpc-port', '0',
            '--host', l.net.gateway,
            '--grpc-ip', l.net.gateway,
            '--token-key', join(dir, 'token-key.pem'),
            '--inventory-file', inventory,
          ],
          { cwd: REPO, env: l.baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
        ),
      ),
    );
    grpcPort = (JSON.parse(await controller.waitFor(/"event":"controller-ready"/)) as { grpcPort: number }).grpcPort;
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

// Certificates and membership in both sidecars before the first meshed call.
await eventually('certificates and membership in both sidecars', async () => {
  for (const pod of [lab.client, lab.server]) {
    const { body } = await lab.adminGet(pod, '/metrics');
    if (!/^meshtap_sidecar_identity_cert_info\{/m.test(body) || (await lab.metric(pod, 'meshtap_sidecar_membership_version')) === 0) return undefined;
  }
  return true;
});

const marker = () => randomBytes(6).toString('hex');
const pair = (calls: CallRecordJson[]) => ({ out: calls.find((c) => c.observer === 'outbound')!, in: calls.find((c) => c.observer === 'inbound')! });

void t.test('a meshed keep-alive connection: connect and handshake times on the first exchange of both sides, reuse counted', async (t) => {
  const m = marker();
  const first = `/echo?first=${m}`;
  const second = `/echo?second=${m}`;
  // One curl, two URLs: the second request reuses the connection.
  await lab.clientExec('curl', ['-sS', '-m', '10', lab.appUrl(first), lab.appUrl(second)]);
  const a = pair(await lab.waitForCalls(`records of ${first}`, (c) => c.path === first));
  const b = pair(await lab.waitForCalls(`records of ${second}`, (c) => c.path === second));
  for (const side of ['out', 'in'] as const) {
    const opened = a[side];
    const reused = b[side];
    t.equal(opened.tls.mesh, true, `${opened.observer}: the hop is meshed`);
    t.equal(opened.ordinal, 0, `${opened.observer}: the first exchange opened the connection`);
    t.ok(typeof opened.connection?.connect_us === 'number', `${opened.observer}: connect_us ${opened.connection?.connect_us}`);
    t.ok((opened.connection?.tls_handshake_us ?? 0) > 0, `${opened.observer}: tls_handshake_us ${opened.connection?.tls_handshake_us}`);
    t.equal(opened.connection?.exchanges, 1);
    t.equal(reused.connection_id, opened.connection_id, `${reused.observer}: the same connection`);
    t.equal(reused.connection?.exchanges, 2, `${reused.observer}: the second exchange on it`);
    t.equal(reused.connection?.connect_us, undefined, `${reused.observer}: opening facts only on the first exchange`);
    t.equal(reused.connection?.tls_handshake_us, undefined);
    t.equal(reused.error, undefined);
  }
});

void t.test('curl --max-time 1 against a slow endpoint: the client gave up (client_timeout)', async (t) => {
  const path = `/slow?ms=4000&m=${marker()}`;
  const failed = await lab.clientExec('curl', ['-sS', '--max-time', '1', lab.appUrl(path)]).then(
    () => false,
    () => true,
  );
  t.ok(failed, 'curl gave up');
  const calls = await lab.waitForCalls(`records of ${path}`, (c) => c.path === path);
  const { out, in: inb } = pair(calls);
  t.equal(out.error, 'client_timeout', 'the client sidecar: the client gave up');
  t.ok(out.connection?.half_closed_by === 'client' || out.connection?.reset_by === 'client', 'the client ended the connection');
  t.equal(out.status_code, undefined, 'no response came');
  t.equal(inb.error, 'client_timeout', 'the server sidecar saw the client side go first too');
  t.equal(inb.connection?.reset_by === 'server', false, 'nothing says the server reset');
});

void t.test('nothing is left behind', async (t) => {
  t.same(lab.sidecars.client.proc.exitCode, undefined, 'the client sidecar ran throughout');
  t.same(lab.sidecars.server.proc.exitCode, undefined, 'the server sidecar ran throughout');
  await lab.destroy();
  t.same(await lab.leftovers(), []);
});
