import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { issueTestToken } from '../../certs/authn/jwt-key.ts';
import { requestWorkloadCertificate } from '../../certs/ca-client.ts';
import { createRootCa } from '../../certs/root-ca.ts';
import { writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { parseControllerArgs } from '../../controller/cli.ts';
import { createMembershipClient } from '../../sidecar/membership/client.ts';
import { loadMembershipServiceDefinition } from '../../record/membership-proto.ts';
import { runMeshtap, tempDir, until, type Proc } from './helpers.ts';

const review = readFileSync(new URL('../fixtures/admission/pod-create.json', import.meta.url), 'utf8');
const root = createRootCa({ trustDomain: 'cluster.local' });
const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const inventory = (paymentMeshed: boolean) => ({
  pods: [
    { name: 'frontend-1', namespace: 'shop', ip: '10.244.0.5', serviceAccount: 'frontend', meshed: true },
    { name: 'payment-1', namespace: 'shop', ip: '10.244.0.7', serviceAccount: 'payment', meshed: paymentMeshed },
  ],
  services: [{ name: 'payment', namespace: 'shop', vip: '10.96.0.20', ports: [{ port: 80, targetPort: 8080 }], endpoints: [{ ip: '10.244.0.7', port: 8080 }] }],
});

interface Setup {
  dir: string;
  args: (grpcPort?: number) => string[];
  inventoryFile: string;
}

async function setup(t: Test): Promise<Setup> {
  const dir = tempDir(t);
  await writeTlsDir(join(dir, 'ca'), root);
  await writeTlsDir(join(dir, 'webhook'), issueWebhookCert(root, { extraDnsNames: ['localhost'], extraIps: ['127.0.0.1'] }));
  const keyFile = join(dir, 'token-key.pem');
  writeFileSync(keyFile, tokenKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const inventoryFile = join(dir, 'inventory.json');
  writeFileSync(inventoryFile, JSON.stringify(inventory(false)));
  const args = (grpcPort = 0) => [
    'controller',
    '--webhook-cert-dir', join(dir, 'webhook'),
    '--webhook-port', '0',
    '--ca-dir', join(dir, 'ca'),
    '--grpc-port', String(grpcPort),
    '--grpc-ip', '127.0.0.1',
    '--host', '127.0.0.1',
    '--token-key', keyFile,
    '--inventory-file', inventoryFile,
  ];
  return { dir, args, inventoryFile };
}

async function startController(t: Test, s: Setup, grpcPort = 0): Promise<{ proc: Proc; ready: any }> {
  const proc = runMeshtap(t, s.args(grpcPort));
  const ready = await proc.waitFor((l) => l.event === 'controller-ready', 'the ready line');
  return { proc, ready };
}

function postReview(port: number): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca: root.cert, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(review);
  });
}

const token = (namespace: string, serviceAccount: string, key = tokenKey.privateKey) => issueTestToken(key, { namespace, serviceAccount, podName: `${serviceAccount}-1` });

void t.test('argument parsing', async (t) => {
  t.equal(parseControllerArgs(['--help']), 'help');
  t.match(parseControllerArgs(['--webhook-cert-dir', 'w', '--ca-dir', 'c']), {
    webhookCertDir: 'w',
    caDir: 'c',
    webhookPort: 9443,
    grpcPort: 15012,
    host: '0.0.0.0',
    publishTrustBundle: false,
    grpcDns: [],
    grpcIps: [],
  });
  t.match(parseControllerArgs(['--webhook-cert-dir', 'w', '--ca-dir', 'c', '--grpc-dns', 'a.example,b.example', '--grpc-dns', 'c.example', '--grpc-ip', '10.0.0.1']), {
    grpcDns: ['a.example', 'b.example', 'c.example'],
    grpcIps: ['10.0.0.1'],
  });
  t.throws(() => parseControllerArgs(['--ca-dir', 'c']), { code: 'CLI_ERR_USAGE', message: /--webhook-cert-dir is required/ });
  t.throws(() => parseControllerArgs(['--webhook-cert-dir', 'w']), { code: 'CLI_ERR_USAGE', message: /--ca-dir is required/ });
  t.throws(() => parseControllerArgs(['--webhook-cert-dir', 'w', '--ca-dir', 'c', '--grpc-port', '9443']), { message: /must differ/ });
  t.throws(() => parseControllerArgs(['--webhook-cert-dir', 'w', '--ca-dir', 'c', '--grpc-ip', 'nope']), { code: 'CLI_ERR_USAGE' });
  t.throws(() => parseControllerArgs(['--webhook-cert-dir', 'w', '--ca-dir', 'c', '--trust-domain', 'Bad..TD']), { code: 'CLI_ERR_USAGE', message: /--trust-domain/ });
  t.throws(() => parseControllerArgs(['--webhook-cert-dir', 'w', '--ca-dir', 'c', '--grpc-cert-dir', 'g', '--grpc-dns', 'x.example']), { message: /do not apply/ });
});

void t.test('every missing or invalid setting is named at once, a usage error (exit 2); an unusable file exits 1', async (t) => {
  const s = await setup(t);
  const hint = 'Run "meshtap controller --help" for its options.\n';
  const outside = 'outside a cluster (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset)';
  const tokenKey = `--token-key FILE is required ${outside}: the PEM public key or JWKS that checks sidecars' tokens (in a cluster, TokenReview does)`;
  const membership = `--inventory-file FILE or --kubeconfig FILE is required ${outside}: the membership source (in a cluster, its informers)`;
  const bare = runMeshtap(t, ['controller']);
  t.equal(await bare.exited, 2);
  t.equal(
    bare.stderr(),
    'meshtap controller: CLI_ERR_USAGE: ' +
      "--webhook-cert-dir is required (the directory holding the webhook's tls.crt and tls.key); " +
      '--ca-dir is required (the CA directory holding tls.crt, tls.key and ca.crt); ' +
      `${tokenKey}; ${membership}\n${hint}`,
    'one run names all four',
  );
  const usage = runMeshtap(t, ['controller', '--ca-dir', 'x']);
  t.equal(await usage.exited, 2);
  t.match(usage.stderr(), /--webhook-cert-dir is required/);
  const noAuth = runMeshtap(t, s.args().filter((a, i, all) => a !== '--token-key' && all[i - 1] !== '--token-key'));
  t.equal(await noAuth.exited, 2, 'a missing token key outside a cluster is a usage error');
  t.equal(noAuth.stderr(), `meshtap controller: CLI_ERR_USAGE: ${tokenKey}\n${hint}`);
  const noCa = runMeshtap(t, s.args().map((a) => (a === join(s.dir, 'ca') ? join(s.dir, 'missing') : a)));
  t.equal(await noCa.exited, 1);
  t.match(noCa.stderr(), /CTL_ERR_CONFIG: --ca-dir .*missing/);
});

const usageError = (message: string | RegExp) => ({ code: 'CLI_ERR_USAGE', message });

/** `args` with `flag`'s value replaced (`value` given) or the flag and its value left out. */
function withFlag(args: string[], flag: string, value?: string): string[] {
  const i = args.indexOf(flag);
  const rest = i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 2)];
  return value === undefined ? rest : [...rest, flag, value];
}

void t.test('a missing certificate is named by the flag that gave its directory, not the webhook\'s --cert-dir', async (t) => {
  const s = await setup(t);
  const missing = join(s.dir, 'nonexistent');
  const webhookDir = runMeshtap(t, withFlag(s.args(), '--webhook-cert-dir', missing));
  t.equal(await webhookDir.exited, 1, 'a runtime failure');
  t.equal(
    webhookDir.stderr(),
    `meshtap controller: WH_ERR_TLS_FILES: cannot read ${join(missing, 'tls.crt')}: no such file (create one with "meshtap certs init --dir DIR" and pass --webhook-cert-dir DIR/webhook)\n`,
  );
  // --grpc-ip names the certificate the controller issues, which --grpc-cert-dir replaces.
  const grpcDir = runMeshtap(t, withFlag(withFlag(s.args(), '--grpc-ip'), '--grpc-cert-dir', missing));
  t.equal(await grpcDir.exited, 1);
  t.equal(
    grpcDir.stderr(),
    `meshtap controller: WH_ERR_TLS_FILES: cannot read ${join(missing, 'tls.crt')}: no such file (create one with "meshtap certs init --dir DIR" and pass --grpc-cert-dir DIR/webhook)\n`,
  );
});

void t.test('--host: a bracketed or malformed address is a usage error; one that cannot be listened on names --host (exit 1)', async (t) => {
  const base = ['--webhook-cert-dir', 'w', '--ca-dir', 'c'];
  t.throws(() => parseControllerArgs([...base, '--host', '[::]']), usageError('meshtap controller: --host takes an IPv6 address without brackets: give "::", got "[::]"'));
  t.throws(() => parseControllerArgs([...base, '--host', '[::1]']), usageError(/give "::1", got "\[::1\]"/));
  t.throws(() => parseControllerArgs([...base, '--host', 'a b']), usageError(/^meshtap controller: --host must be an IP address or a host name, got "a b": the label "a b" has a character/));
  t.throws(() => parseControllerArgs([...base, '--host', '300.1.1.1']), usageError(/--host must be an IP address or a host name, got "300\.1\.1\.1"/));
  t.throws(() => parseControllerArgs([...base, '--host', '::zz']), usageError(/--host must be an IP address or a host name, got "::zz": "::zz" is not an IP address/));
  t.throws(() => parseControllerArgs([...base, '--host', '[::]', '--grpc-port', 'x']), usageError(/--grpc-port must be .*; --host takes an IPv6 address without brackets/), 'named with the other problems');
  for (const host of ['::', '::1', '127.0.0.1', 'localhost', 'meshtap-controller.meshtap-system.svc']) {
    t.match(parseControllerArgs([...base, '--host', host]), { host }, `${host} is accepted`);
  }

  const s = await setup(t);
  const bracketed = runMeshtap(t, withFlag(s.args(), '--host', '[::1]'));
  t.equal(await bracketed.exited, 2);
  t.equal(
    bracketed.stderr(),
    'meshtap controller: CLI_ERR_USAGE: --host takes an IPv6 address without brackets: give "::1", got "[::1]"\nRun "meshtap controller --help" for its options.\n',
  );
  // .invalid never resolves (RFC 6761): a name that is well formed but no address to listen on.
  const unresolved = runMeshtap(t, withFlag(s.args(), '--host', 'meshtap-test.invalid'));
  t.equal(await unresolved.exited, 1, 'a runtime failure, as the controller\'s other start failures');
  t.match(unresolved.stderr(), /^meshtap controller: CTL_ERR_LISTEN: --host meshtap-test\.invalid does not resolve to an address to listen on \(getaddrinfo \w+ meshtap-test\.invalid\)\n$/);
});

void t.test('argument parsing with the environment: what a cluster provides is needed only outside one', async (t) => {
  const base = ['--webhook-cert-dir', 'w', '--ca-dir', 'c'];
  const inCluster = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  t.match(parseControllerArgs([...base, '--publish-trust-bundle'], inCluster), { publishTrustBundle: true, tokenKeyFile: undefined }, 'in a cluster: TokenReview and informers');
  t.match(parseControllerArgs([...base, '--token-key', 'k', '--inventory-file', 'f'], {}), { tokenKeyFile: 'k', inventoryFile: 'f' });
  t.match(parseControllerArgs([...base, '--token-key', 'k', '--kubeconfig', 'kc', '--publish-trust-bundle'], {}), { kubeconfig: 'kc' }, 'a kubeconfig gives cluster access');
  t.throws(() => parseControllerArgs([...base, '--publish-trust-bundle', '--grpc-port', 'x'], { KUBERNETES_SERVICE_HOST: '10.96.0.1' }), {
    code: 'CLI_ERR_USAGE',
    message: new RegExp(
      '^meshtap controller: --grpc-port must be a port number 0-65535, got "x"; --token-key FILE is required outside a cluster .*; ' +
        '--inventory-file FILE or --kubeconfig FILE is required outside a cluster .*; --publish-trust-bundle needs cluster access: run in a cluster or give --kubeconfig FILE$',
    ),
  }, 'a host without a port is not a cluster; flag and environment problems in one message');
  t.throws(() => parseControllerArgs([...base, '--token-key', '', '--inventory-file', ' '], {}), {
    code: 'CLI_ERR_USAGE',
    message: 'meshtap controller: --token-key needs a value (a PEM public key or JWKS file), got ""; --inventory-file needs a value (a membership JSON file), got " "',
  }, 'a file flag given empty needs a value, and is not also missing');
  t.throws(() => parseControllerArgs(['--webhook-cert-dir', 'w', '--grpc-ip', 'nope', '--collector-tls-secret', 'UPPER']), {
    code: 'CLI_ERR_USAGE',
    message: /^meshtap controller: --ca-dir is required .*; --grpc-dns\/--grpc-ip: .*; --collector-tls-secret must be a Kubernetes name .*, got "UPPER"$/,
  }, 'without the environment, the command line alone, every problem of it');
});

void t.test('one process: webhook, CA and membership on one TLS gRPC port; membership follows the file; clients survive a restart', async (t) => {
  const s = await setup(t);
  const first = await startController(t, s);
  const { ready } = first;
  t.type(ready.webhookPort, 'number');
  t.type(ready.grpcPort, 'number');
  t.not(ready.webhookPort, ready.grpcPort);
  t.equal(ready.trustDomain, 'cluster.local');
  t.equal(ready.authenticator, 'jwt-key');
  t.equal(ready.membershipSource, 'file');
  const addr = `127.0.0.1:${ready.grpcPort}`;

  // The webhook answers an AdmissionReview over HTTPS.
  const res = await postReview(ready.webhookPort);
  t.equal(res.status, 200);
  t.equal(res.json.kind, 'AdmissionReview');
  t.equal(res.json.response.allowed, true);
  t.ok(res.json.response.patch, 'the pod is patched (namespace assumed opted in outside a cluster)');

  // The CA issues a workload certificate for the token's identity.
  const issued = await requestWorkloadCertificate({ caAddr: addr, trustBundlePem: root.ca, token: await token('shop', 'frontend'), timeoutMs: 10_000 });
  t.equal(issued.spiffeId, 'spiffe://cluster.local/ns/shop/sa/frontend');
  t.equal(new X509Certificate(issued.certPem).subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/frontend', 'the certificate carries the token\'s identity');

  // The membership watch: a snapshot, then an update when the file changes.
  const client = createMembershipClient({ controllerAddr: addr, trustBundlePem: root.ca, token: await token('shop', 'frontend'), backoff: { initialMs: 50, maxMs: 300 } });
  t.teardown(() => client.close());
  const quick = createMembershipClient({ controllerAddr: addr, trustBundlePem: root.ca, token: await token('shop', 'payment'), backoff: { initialMs: 50, maxMs: 300 }, staleAfterMs: 200 });
  t.teardown(() => quick.close());
  t.same(client.lookup('10.244.0.5', 8080), { meshed: false, reason: 'no-snapshot' }, 'passthrough before the first snapshot');
  t.ok(await client.waitForSnapshot(10_000), 'a snapshot arrives');
  t.ok(await quick.waitForSnapshot(10_000));
  t.equal(client.connected, true);
  const v1 = client.version!;
  t.ok(v1 > 0);
  t.match(client.lookup('10.244.0.5', 8080), { meshed: true, identity: 'spiffe://cluster.local/ns/shop/sa/frontend' });
  t.match(client.lookup('10.96.0.20', 80), { meshed: false, reason: 'service-not-meshed' }, 'payment has no sidecar yet');
  t.match(client.lookup('10.244.0.99', 80), { meshed: false, reason: 'not-meshed' });

  writeFileSync(join(s.dir, 'next.json'), JSON.stringify(inventory(true)));
  renameSync(join(s.dir, 'next.json'), s.inventoryFile);
  await until(() => (client.version ?? 0) > v1, 'the updated snapshot');
  t.match(client.lookup('10.96.0.20', 80), { meshed: true, via: 'service', identities: ['spiffe://cluster.local/ns/shop/sa/payment'] }, 'the VIP is meshed now');
  const v2 = client.version!;

  // The controller goes away: the last snapshot keeps answering within the staleness limit.
  first.proc.child.kill('SIGTERM');
  t.equal(await first.proc.exited, 0, 'graceful exit on SIGTERM');
  t.ok(first.proc.lines.some((l) => l.event === 'stopped'));
  await until(() => !client.connected, 'the client to notice');
  t.match(client.lookup('10.244.0.5', 8080), { meshed: true }, 'disconnected, within the limit: still meshed');
  await new Promise((r) => setTimeout(r, 400));
  t.same(quick.lookup('10.244.0.5', 8080), { meshed: false, reason: 'stale' }, 'past its 200 ms limit: passthrough');

  // It comes back on the same port: both clients reconnect by themselves.
  const second = await startController(t, s, ready.grpcPort);
  t.equal(second.ready.grpcPort, ready.grpcPort);
  await until(() => client.connected && quick.connected && (client.version ?? 0) > v2 && (quick.version ?? 0) > v2, 'reconnection with a newer version');
  t.match(quick.lookup('10.244.0.5', 8080), { meshed: true }, 'fresh again');
  t.ok(client.stats().failures >= 1, 'failures were counted meanwhile');
  t.ok(second.proc.lines.some((l) => l.event === 'membership-watch' && l.namespace === 'shop' && l.serviceAccount === 'frontend'), 'the watch is logged with the caller\'s identity');
  second.proc.child.kill('SIGTERM');
  t.equal(await second.proc.exited, 0);
});

void t.test('a watch without a valid token is refused', async (t) => {
  const s = await setup(t);
  const { ready, proc } = await startController(t, s);
  const Client = grpc.makeGenericClientConstructor(loadMembershipServiceDefinition(), 'Membership');
  const watch = (authorization?: string) =>
    new Promise<{ code: number; details: string; messages: number }>((resolve) => {
      const c = new Client(`127.0.0.1:${ready.grpcPort}`, grpc.credentials.createSsl(Buffer.from(root.ca)));
      const md = new grpc.Metadata();
      if (authorization !== undefined) md.set('authorization', authorization);
      const stream = (c as any).Watch({ known_version: 0 }, md, { deadline: Date.now() + 10_000 }) as grpc.ClientReadableStream<unknown>;
      let messages = 0;
      stream.on('data', () => {
        messages++;
        stream.cancel();
      });
      stream.on('error', (err: grpc.ServiceError) => {
        c.close();
        resolve({ code: err.code, details: err.details, messages });
      });
    });
  const none = await watch();
  t.equal(none.code, grpc.status.UNAUTHENTICATED);
  t.match(none.details, /^CA_ERR_TOKEN_MISSING: /);
  t.equal(none.messages, 0, 'nothing was streamed');
  const forged = await watch(`Bearer ${await token('shop', 'frontend', otherKey.privateKey)}`);
  t.equal(forged.code, grpc.status.UNAUTHENTICATED);
  t.match(forged.details, /^CA_ERR_TOKEN_INVALID: /);
  t.equal(forged.messages, 0);
  const ok = await watch(`Bearer ${await token('shop', 'frontend')}`);
  t.equal(ok.code, grpc.status.CANCELLED, 'a valid token gets the stream (cancelled by the test after one message)');
  t.equal(ok.messages, 1);
  t.ok(proc.lines.some((l) => l.event === 'membership-watch-refused' && l.code === 'CA_ERR_TOKEN_MISSING'), 'refusals are logged');
  t.notOk(JSON.stringify(proc.lines).includes('eyJ'), 'no token in the log');
});
