import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { createJwtKeyAuthenticator, issueTestToken } from '../../../certs/authn/jwt-key.ts';
import { createRootCa } from '../../../certs/root-ca.ts';
import { issueWebhookCert } from '../../../certs/webhook-cert.ts';
import type { MembershipInput } from '../../../controller/membership/build.ts';
import { createMembershipHub } from '../../../controller/membership/hub.ts';
import { createMembershipService } from '../../../controller/membership/service.ts';
import { createListeners, type MembershipSource } from '../../../controller/membership/source.ts';
import { createMembershipClient } from '../../../sidecar/membership/client.ts';
import { until } from '../../controller/helpers.ts';

const root = createRootCa({ trustDomain: 'cluster.local' });
const serving = issueWebhookCert(root, { extraIps: ['127.0.0.1'] });
const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const input = (pods: number): MembershipInput => ({
  pods: Array.from({ length: pods }, (_, i) => ({ name: `web-${i}`, namespace: 'shop', ips: [`10.244.0.${10 + i}`], serviceAccount: 'web', injected: true })),
  services: [],
});

async function startServer(t: Test, options: { maxStreamAgeMs?: number; initial?: MembershipInput | null } = {}) {
  let state: MembershipInput | undefined = options.initial === null ? undefined : (options.initial ?? input(1));
  const listeners = createListeners();
  const source: MembershipSource = { kind: 'test', async start() {}, async stop() {}, read: () => state, onChange: (fn) => listeners.add(fn) };
  const hub = createMembershipHub({ source, trustDomain: 'cluster.local', debounceMs: 10 });
  const seen: { namespace: string; serviceAccount: string }[] = [];
  const authenticator = createJwtKeyAuthenticator({ key: tokenKey.publicKey });
  const counting = {
    kind: 'jwt-key',
    async authenticate(token: string) {
      const w = await authenticator.authenticate(token);
      seen.push({ namespace: w.namespace, serviceAccount: w.serviceAccount });
      return w;
    },
  };
  const service = createMembershipService({ hub, authenticator: counting, maxStreamAgeMs: options.maxStreamAgeMs, random: () => 0 });
  const server = new grpc.Server();
  server.addService(service.definition, service.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(serving.cert), private_key: Buffer.from(serving.key) }], false), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  t.teardown(() => {
    hub.close();
    service.close();
    server.forceShutdown();
  });
  return {
    addr: `127.0.0.1:${port}`,
    service,
    seen,
    set(next: MembershipInput | undefined) {
      state = next;
      listeners.fire();
    },
  };
}

void t.test('bad options are refused at construction, with the option named', async (t) => {
  t.throws(() => createMembershipClient({ controllerAddr: 'x:1', trustBundlePem: root.ca }), { code: 'SC_ERR_MEMBERSHIP_CONFIG', message: /exactly one of "token" and "tokenFile"/ });
  t.throws(() => createMembershipClient({ controllerAddr: 'x:1', trustBundlePem: root.ca, token: 'a', backoff: { initialMs: 100, maxMs: 10 } }), { message: /backoff/ });
  t.throws(() => createMembershipClient({ controllerAddr: '', trustBundlePem: root.ca, token: 'a' }), { message: /controllerAddr/ });
});

void t.test('follows snapshots; reconnects with a re-read token when the controller ends a stream', async (t) => {
  const server = await startServer(t, { maxStreamAgeMs: 300 });
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-membership-client-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${await issueTestToken(tokenKey.privateKey, { namespace: 'shop', serviceAccount: 'web' })}\n`);
  const tables: number[] = [];
  // What the client said about each stream's end: an aged-out stream is an info line ("ended the
  // stream"), a failure a warning or an error. grpc-js can, rarely and under load, report a
  // stream the server ended cleanly as broken (RST_STREAM racing the trailers); that one is
  // logged as a warning and is counted, so failures must match the warnings, not be zero.
  const said: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const note = (level: string) => (fields: Record<string, unknown>, msg = '') => said.push({ level, msg, fields });
  const log = { info: note('info'), warn: note('warn'), error: note('error') };
  const client = createMembershipClient({ controllerAddr: server.addr, trustBundlePem: root.ca, tokenFile, resumeDelayMs: 10, log, onSnapshot: (tbl) => tables.push(tbl.version) });
  t.teardown(() => client.close());
  t.ok(await client.waitForSnapshot(10_000));
  t.match(client.lookup('10.244.0.10', 80), { meshed: true, identity: 'spiffe://cluster.local/ns/shop/sa/web' });
  t.match(client.lookup('10.244.0.11', 80), { meshed: false });

  server.set(input(2));
  await until(() => client.lookup('10.244.0.11', 80).meshed, 'the second pod');
  // A stream that aged out (300 ms) meanwhile resends the current snapshot: versions, not calls.
  t.equal(new Set(tables).size, 2, `onSnapshot called for each snapshot (versions ${tables.join(', ')})`);

  // Rotate the token: the next stream (after the 300 ms age) uses the new one.
  // Atomically, as the kubelet swaps projected tokens: a reader never sees a half-written file.
  writeFileSync(`${tokenFile}.new`, await issueTestToken(tokenKey.privateKey, { namespace: 'shop', serviceAccount: 'web-rotated' }));
  renameSync(`${tokenFile}.new`, tokenFile);
  await until(() => server.seen.some((w) => w.serviceAccount === 'web-rotated'), 'a stream with the rotated token', 5000);
  // The server sees the token when the stream opens; the client counts the connect once the
  // stream answers: under load the assertions below must not run in between.
  await until(() => client.stats().connects >= 2, 'the client on its second stream', 5000);
  const ended = said.filter((l) => l.level === 'info' && /ended the stream/.test(l.msg));
  const failed = said.filter((l) => l.level !== 'info');
  t.ok(ended.length >= 1, 'an aged-out stream is logged as ended by the controller, not as a failure');
  t.equal(client.stats().failures, failed.length, `every counted failure is one logged warning: ${JSON.stringify(failed)}`);
  t.ok(failed.every((l) => l.level === 'warn'), 'no stream was refused');
  t.ok(client.stats().connects >= 2);
  t.match(client.lookup('10.244.0.11', 80), { meshed: true }, 'the snapshot was kept across the reconnect');
});

void t.test('a refused token: retried with backoff, lookups stay passthrough, close stops everything', async (t) => {
  const server = await startServer(t);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log = { info() {}, warn() {}, error: (fields: Record<string, unknown>, msg = '') => lines.push({ msg, fields }) };
  const client = createMembershipClient({
    controllerAddr: server.addr,
    trustBundlePem: root.ca,
    token: await issueTestToken(other.privateKey, { namespace: 'shop', serviceAccount: 'web' }),
    backoff: { initialMs: 20, maxMs: 40 },
    log,
  });
  await until(() => client.stats().failures >= 3, 'several refusals');
  t.equal(client.connected, false);
  t.same(client.lookup('10.244.0.10', 80), { meshed: false, reason: 'no-snapshot' });
  t.match(lines[0], { msg: /refused the token/, fields: { code: 'UNAUTHENTICATED' } });
  t.equal(await client.waitForSnapshot(50), false);
  await client.close();
  const after = client.stats().failures;
  await new Promise((r) => setTimeout(r, 150));
  t.equal(client.stats().failures, after, 'no attempts after close');
  t.equal(server.service.streams(), 0);
});

void t.test('before the controller has a snapshot the stream is open but lookups pass through', async (t) => {
  const server = await startServer(t, { initial: null });
  const client = createMembershipClient({ controllerAddr: server.addr, trustBundlePem: root.ca, token: await issueTestToken(tokenKey.privateKey, { namespace: 'shop', serviceAccount: 'web' }) });
  t.teardown(() => client.close());
  await until(() => client.connected, 'the stream');
  t.same(client.lookup('10.244.0.10', 80), { meshed: false, reason: 'no-snapshot' });
  server.set(input(1));
  t.ok(await client.waitForSnapshot(5000));
  t.ok(client.lookup('10.244.0.10', 80).meshed);
});
