/**
 * Connection facts on a meshed pair in network namespaces, with the real controller (CA and
 * membership feed): both sidecars put the upstream connect time and the mesh handshake time on
 * the first exchange of a connection (and only there), count reuse, and a client that gives up
 * (`curl --max-time 1` against a slow endpoint) is recorded as `client_timeout`.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { CallRecordJson } from '../../record/record-json.ts';
import { eventually } from './harness.ts';
import { createMeshPki, startMeshedPair } from './mesh-pki.ts';

const NS = 'systest';
const SA = { client: 'frontend', server: 'payment' } as const;

const pki = await createMeshPki(t, 'meshtap-connfacts', NS, SA);
const { lab } = await startMeshedPair(t, pki, NS, SA);

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
