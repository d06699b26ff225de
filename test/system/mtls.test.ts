/**
 * Sidecar-to-sidecar mTLS in network namespaces, with the real controller (CA + membership
 * feed) in the host namespace: meshed calls are encrypted on the wire and carry both SPIFFE
 * ids; spoofed peers are refused; app TLS passes through; strict mode refuses plaintext but
 * lets the node's probes in; the CA going away (at start or mid-run, on either side) never
 * stops traffic; a certificate rotation under load fails no request.
 */
import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmod, copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { readTlsDir } from '../../lib/tls/tls-dir.ts';
import { signWorkloadCsr } from '../../certs/workload-cert.ts';
import { createWorkloadCsr } from '../../certs/workload-csr.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { execInNetns, sh, spawnInNetns, type PodNetns } from '../../lab/netns.ts';
import { HELLO_GRACE_MS } from '../../sidecar/proxy/inbound-gate.ts';
import { APP_PORTS, APP_UID, MeshLab, NODE, PROXY_UID, Proc, REPO, eventually, sleep } from './harness.ts';
import { createMeshPki, meshSidecarEnv, startController as startMeshController } from './mesh-pki.ts';

const NS = 'systest';
const SA = { client: 'frontend', server: 'payment' } as const;
const ID = { client: `spiffe://cluster.local/ns/${NS}/sa/${SA.client}`, server: `spiffe://cluster.local/ns/${NS}/sa/${SA.server}` };
const HTTPS_PORT = 8443;
const CERT_TTL_SECONDS = 20;

// The app (uid 1000) also reads its TLS files from the shared directory.
const pki = await createMeshPki(t, 'meshtap-mtls', NS, SA);
const { dir, shared } = pki;
for (const f of ['tls.crt', 'tls.key']) {
  await copyFile(join(dir, 'pki/webhook', f), join(shared, `app-${f}`));
  await chmod(join(shared, `app-${f}`), 0o644);
}

const inventoryFile = join(dir, 'inventory.json');
/** Longer than the sidecar's CA and membership retry cap (30 s) plus one request's timeout. */
const RETRY_CAP_WAIT_MS = 45_000;

async function writeInventory(lab: MeshLab, serverAccount: string = SA.server, serverStrict = false): Promise<void> {
  const doc = {
    pods: [
      { name: 'client', namespace: NS, ip: lab.client.ip, serviceAccount: SA.client, meshed: true },
      { name: 'server', namespace: NS, ip: lab.server.ip, serviceAccount: serverAccount, meshed: true, ...(serverStrict ? { strict: true } : {}) },
    ],
  };
  await writeFile(`${inventoryFile}.tmp`, JSON.stringify(doc));
  await rename(`${inventoryFile}.tmp`, inventoryFile);
}

let controller: Proc | undefined;
let grpcPort = 0;
async function startController(lab: MeshLab): Promise<void> {
  const started = await startMeshController(lab, pki, inventoryFile, grpcPort);
  grpcPort = started.grpcPort;
  controller = started.proc;
}
async function killController(): Promise<void> {
  controller?.child.kill('SIGKILL');
  await controller?.wait(5000);
  controller = undefined;
}

const sidecarEnv = (pod: 'client' | 'server', extra: Record<string, string> = {}) => ({
  ...meshSidecarEnv(lab, pki, grpcPort, pod, SA[pod]),
  MESHTAP_CERT_TTL_SECONDS: String(CERT_TTL_SECONDS),
  ...extra,
});

let lab!: MeshLab;
lab = await MeshLab.start({
  beforeSidecars: async (l) => {
    lab = l;
    await writeInventory(l);
    await startController(l);
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

const legacy: PodNetns = await lab.net.addPod('legacy');
const httpsApp = lab.adopt(
  new Proc(
    'https app',
    spawnInNetns(
      lab.server.netns,
      NODE,
      [
        '-e',
        `const https=require('node:https'),fs=require('node:fs');
         https.createServer({key:fs.readFileSync(process.argv[1]),cert:fs.readFileSync(process.argv[2])},(q,r)=>{let n=0;q.on('data',d=>n+=d.length);q.on('end',()=>r.end('secure hello '+q.url+' '+n))}).listen(${HTTPS_PORT},()=>console.log('https ready'));`,
        join(shared, 'app-tls.key'),
        join(shared, 'app-tls.crt'),
      ],
      { uid: APP_UID, cwd: REPO, env: lab.baseEnv() },
    ),
  ),
);
await httpsApp.waitFor(/https ready/);

const marker = () => randomBytes(6).toString('hex');
const membershipVersion = (pod: PodNetns) => lab.metric(pod, 'meshtap_sidecar_membership_version');
const mtlsCount = (pod: PodNetns, direction: string, outcome: string) => lab.metric(pod, 'meshtap_sidecar_mtls_connections_total', { direction, outcome });
async function certSerial(pod: PodNetns): Promise<string | undefined> {
  const { body } = await lab.adminGet(pod, '/metrics');
  return /^meshtap_sidecar_identity_cert_info\{[^}]*serial="([0-9a-f]+)"/m.exec(body)?.[1];
}
async function waitMeshReady(): Promise<void> {
  await eventually('certificates and membership in both sidecars', async () => {
    for (const pod of [lab.client, lab.server]) {
      if ((await certSerial(pod)) === undefined || (await membershipVersion(pod)) === 0) return undefined;
    }
    return true;
  });
}
const curlClient = (args: string[]) => lab.clientExec('curl', ['-sS', '-m', '10', ...args]);
const recordsFor = (path: string) => lab.waitForCalls(`records of ${path}`, (c) => c.path === path);
const pair = (calls: CallRecordJson[]) => ({ out: calls.find((c) => c.observer === 'outbound')!, in: calls.find((c) => c.observer === 'inbound')! });

await waitMeshReady();

void t.test('a meshed call: encrypted on the wire, both records name both SPIFFE ids and one connection', async (t) => {
  const m = marker();
  const pcap = join(dir, `wire-${m}.pcap`);
  await writeFile(pcap, '');
  await chmod(pcap, 0o666);
  const tshark = lab.adopt(new Proc('tshark', spawn('tshark', ['-i', lab.server.hostIf, '-w', pcap, '-f', `tcp and host ${lab.client.ip} and host ${lab.server.ip}`], { stdio: ['ignore', 'pipe', 'pipe'] })));
  await tshark.waitFor(/Capturing on/);
  // tshark announces the interface a moment before its capture filter is live.
  await sleep(2000);
  const path = `/echo?mesh=${m}`;
  const body = `{"marker":"${m}"}`;
  const { stdout } = await curlClient(['-H', 'content-type: application/json', '--data-binary', body, lab.appUrl(path)]);
  t.equal(stdout, body, 'the app received and echoed the body');
  await sleep(1000);
  tshark.child.kill('SIGINT');
  await tshark.wait(5000);
  const wire = await readFile(pcap);
  t.ok(wire.length > 500, `packets were captured (${wire.length} bytes)`);
  t.ok(wire.includes(Buffer.from('meshtap/1')), 'the mesh ClientHello (ALPN meshtap/1) crossed the wire');
  // Only the hop between the pods: the records themselves still go to the collector in plaintext.
  t.notOk(wire.includes(Buffer.from(m)), 'the marker never crossed the pod-to-pod wire in plaintext');

  const { out, in: inb } = pair(await recordsFor(path));
  for (const r of [out, inb]) {
    t.equal(r.tls.mesh, true, `${r.observer}: tls.mesh`);
    t.equal(r.src.identity, ID.client, `${r.observer}: src identity`);
    t.equal(r.dst.identity, ID.server, `${r.observer}: dst identity`);
    t.equal(r.request?.body && 'text' in r.request.body ? r.request.body.text : undefined, body, `${r.observer}: the capture saw plaintext`);
  }
  t.equal(out.connection_id, inb.connection_id, 'both sidecars use the client sidecar\'s connection id');
  t.not(out.id, inb.id, 'record ids stay unique');
});

void t.test('app TLS: through the mesh and from an unmeshed source, passed through and recorded as tls', async (t) => {
  const m = marker();
  const { stdout } = await curlClient(['-k', '--data-binary', 'abcde', `https://${lab.server.ip}:${HTTPS_PORT}/m-${m}`]);
  t.equal(stdout, `secure hello /m-${m} 5`, 'the app\'s own TLS handshake and data went through intact (meshed client)');
  const host = await sh('curl', ['-sS', '-m', '10', '-k', `https://${lab.server.ip}:${HTTPS_PORT}/h-${m}`]);
  t.equal(host.stdout, `secure hello /h-${m} 0`, 'intact from the host (app TLS passthrough, no mesh)');
  const calls = await lab.waitForCalls('tls records', (c) => c.dst.port === HTTPS_PORT && c.protocol === 'tls', 3);
  const fromClient = calls.filter((c) => c.src.ip === lab.client.ip);
  t.same(new Set(fromClient.map((c) => c.observer)), new Set(['outbound', 'inbound']), 'both sidecars recorded the meshed app-TLS call');
  for (const c of fromClient) t.equal(c.tls.mesh, true, `${c.observer}: app TLS inside the mesh hop`);
  const fromHost = calls.filter((c) => c.src.ip === lab.net.gateway);
  t.equal(fromHost.length, 1, 'the server sidecar recorded the unmeshed app-TLS call');
  t.equal(fromHost[0]?.tls.mesh, false);
  t.match(fromHost[0]?.tls.app_tls, { version: /^TLSv1\.[23]$/, alpn: Array }, 'the app handshake metadata was recorded');
  t.match(fromClient.find((c) => c.observer === 'inbound')?.tls.app_tls, { version: /^TLSv1\.[23]$/ }, 'also for app TLS inside the mesh');
});

/** A TLS client in the host namespace speaking meshtap's ALPN to the server pod's app port. */
async function spoof(cert: { key: string; cert: string } | undefined): Promise<{ secure: boolean; answer: string; error?: string }> {
  return new Promise((resolve) => {
    let answer = '';
    let secure = false;
    const socket = tlsConnect({
      host: lab.server.ip,
      port: APP_PORTS.http,
      ALPNProtocols: ['meshtap/1'],
      rejectUnauthorized: false,
      ...(cert ?? {}),
    });
    socket.on('secureConnect', () => {
      secure = true;
      socket.write(Buffer.concat([Buffer.from([4]), Buffer.from('abcd'), Buffer.from(`GET /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)]));
    });
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', (err) => resolve({ secure, answer, error: err.message }));
    socket.on('close', () => resolve({ secure, answer }));
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

void t.test('spoofed peers are refused by the server sidecar', async (t) => {
  const before = await mtlsCount(lab.server, 'inbound', 'handshake_failed');
  const foreignCa = createRootCa({ trustDomain: 'cluster.local' });
  const foreign = createWorkloadCsr();
  const foreignCert = signWorkloadCsr(foreignCa, foreign.csrPem, { spiffeId: ID.client });
  const realCa = await readTlsDir(join(dir, 'pki/ca'));
  const old = createWorkloadCsr();
  // The CA cannot sign into the past (it is younger than that): a 2-second certificate, then wait.
  const expired = signWorkloadCsr(realCa, old.csrPem, { spiffeId: ID.client, validityHours: 2 / 3600 });
  await sleep(3000);
  t.ok(new X509Certificate(expired.cert).validToDate < new Date(), 'the expired certificate is expired');
  const cases = {
    'a client certificate from another CA': { key: foreign.keyPem, cert: foreignCert.cert },
    'an expired certificate from the mesh CA': { key: old.keyPem, cert: expired.cert },
    'no client certificate': undefined,
  };
  for (const [what, cert] of Object.entries(cases)) {
    const result = await spoof(cert);
    t.notMatch(result.answer, /HTTP\/1\.1/, `${what}: no answer from the app`);
  }
  // Control: the same client with a valid mesh certificate does get through.
  const good = createWorkloadCsr();
  const goodCert = signWorkloadCsr(realCa, good.csrPem, { spiffeId: ID.client });
  const ok = await spoof({ key: good.keyPem, cert: goodCert.cert });
  t.match(ok.answer, /^HTTP\/1\.1 200/, 'a valid mesh certificate is answered (so the refusals above are real)');
  t.equal(await mtlsCount(lab.server, 'inbound', 'handshake_failed'), before + 3, 'three refused handshakes counted');
});

void t.test('expected-identity mismatch: the client sidecar resets the app connection', async (t) => {
  const version = await membershipVersion(lab.client);
  await writeInventory(lab, 'intruder');
  await eventually('the client sidecar sees the new membership', async () => ((await membershipVersion(lab.client)) > version ? true : undefined));
  const before = await mtlsCount(lab.client, 'outbound', 'peer_rejected');
  const m = marker();
  const result = await curlClient(['--data-binary', m, lab.appUrl(`/echo?mismatch=${m}`)]).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  t.match(result, /curl: \((52|56|7)\)/, 'curl saw the connection reset/closed, not an answer');
  t.equal(await mtlsCount(lab.client, 'outbound', 'peer_rejected'), before + 1, 'counted as peer_rejected');
  t.match(lab.sidecars.client.proc.output, /expected spiffe:\/\/cluster\.local\/ns\/systest\/sa\/intruder/, 'the refusal is logged with both identities');
  const v2 = await membershipVersion(lab.client);
  await writeInventory(lab);
  await eventually('membership restored', async () => ((await membershipVersion(lab.client)) > v2 ? true : undefined));
});

void t.test('a server-first app through the mesh: every fresh connection is meshed and answered', async (t) => {
  // The app writes its banner as soon as the server sidecar connects to it, often before the
  // client sidecar's ClientHello (about 1.5 KB: two TCP segments) is all in; the hello decides.
  const COUNT = 40;
  const meshBefore = await mtlsCount(lab.server, 'inbound', 'mesh');
  const plaintextBefore = await mtlsCount(lab.server, 'inbound', 'plaintext');
  const result = await lab.runClient<{ count: number; failures: string[] }>('banners', lab.server.ip, String(APP_PORTS.banner), String(COUNT));
  t.same(result.failures, [], 'every connection got the banner, its echo and the goodbye');
  t.equal((await mtlsCount(lab.server, 'inbound', 'mesh')) - meshBefore, COUNT, 'every connection terminated as mesh');
  t.equal((await mtlsCount(lab.server, 'inbound', 'plaintext')) - plaintextBefore, 0, 'none taken as plaintext');
});

void t.test('a server-first app and a meshed pod that connects in plaintext: the greeting waits briefly for a hello, then flows', async (t) => {
  // As the proxy's user the client pod's connection bypasses its sidecar: plaintext from an
  // address the membership feed calls meshed, whose hello the server sidecar waits for a moment.
  const plaintextBefore = await mtlsCount(lab.server, 'inbound', 'plaintext');
  const result = await lab.runClientAs<{ connect_ms: number; banner_ms: number; text: string }>(PROXY_UID, 'banner', lab.server.ip, String(APP_PORTS.banner));
  t.equal(result.text, '220 meshtap-test ready\r\nHELO test\r\n221 bye\r\n');
  // From before the dial: the client's 'connect' callback may run late on a busy machine, never early.
  const waited = result.connect_ms + result.banner_ms;
  t.ok(waited >= HELLO_GRACE_MS * 0.95, `the greeting waited for a hello (${waited.toFixed(1)} ms from the dial)`);
  t.equal((await mtlsCount(lab.server, 'inbound', 'plaintext')) - plaintextBefore, 1, 'then taken as plaintext');
  // From an unmeshed pod nothing is waited for (the best of three, on a busy machine).
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { stdout } = await execInNetns(legacy.netns, NODE, [join(REPO, 'test/system/client.ts'), 'banner', lab.server.ip, String(APP_PORTS.banner)]);
    const legacyResult = JSON.parse(stdout.trim().split('\n').at(-1)!) as { banner_ms: number; text: string };
    t.match(legacyResult.text, /^220 meshtap-test ready/);
    samples.push(legacyResult.banner_ms);
  }
  t.ok(Math.min(...samples) < HELLO_GRACE_MS / 2, `an unmeshed pod's greeting is not held (best ${Math.min(...samples).toFixed(1)} ms)`);
});

void t.test('a meshed call to a port the app does not listen on: one call, both sides, one connection id', async (t) => {
  // Each try: the server sidecar's app connection is refused while the client's hello or
  // handshake is still under way; its record must wait for the mesh connection id.
  // On a busy machine curl may not have written its request before the reset comes back: the
  // client sidecar then read no byte, has no call to record and counts the connection as
  // protocol `none`. Such a try still needs the server's meshed record; tries go on until five
  // carried the request (at most twelve), and at least three must.
  const CLOSED_PORT = 9999;
  const refused = (c: CallRecordJson) => c.observer === 'inbound' && c.dst.port === CLOSED_PORT;
  const unread = () => lab.metric(lab.client, 'meshtap_sidecar_connections_total', { direction: 'outbound', protocol: 'none' });
  let withRequest = 0;
  for (let i = 0; i < 12 && withRequest < 5; i++) {
    const path = `/refused-${marker()}`;
    const known = new Set((await lab.calls()).filter(refused).map((c) => c.connection_id));
    const unreadBefore = await unread();
    const failed = await lab.clientExec('curl', ['-sS', '-m', '10', '-o', '/dev/null', `http://${lab.server.ip}:${CLOSED_PORT}${path}`]).then(
      () => false,
      () => true,
    );
    t.ok(failed, 'curl fails: nothing listens there');
    const [inbound] = await lab.waitForCalls(`the server sidecar's record of ${path}'s connection`, (c) => refused(c) && !known.has(c.connection_id), 1);
    t.match(inbound, { error: 'upstream_unreachable', tls: { mesh: true } }, 'the server sidecar recorded the meshed connection it could not pass on');
    const out = await eventually(`the client sidecar's record of ${path}, or its count of a connection with no byte read`, async () => {
      const record = (await lab.calls()).find((c) => c.observer === 'outbound' && c.connection_id === inbound.connection_id);
      if (record !== undefined) return record;
      return (await unread()) > unreadBefore ? ('no request read' as const) : undefined;
    });
    if (out === 'no request read') continue;
    withRequest++;
    t.match(out, { path, tls: { mesh: true } }, 'the client sidecar\'s record of the request shares the connection id, over mTLS (not a plaintext retry)');
  }
  t.ok(withRequest >= 3, `tries whose request reached the client sidecar: ${withRequest}`);
});

void t.test('permissive: plaintext from an unmeshed pod is accepted and recorded without mesh', async (t) => {
  const m = marker();
  const path = `/echo?legacy=${m}`;
  const { stdout } = await execInNetns(legacy.netns, 'curl', ['-sS', '-m', '10', '--data-binary', m, lab.appUrl(path)]);
  t.equal(stdout, m);
  const calls = await lab.waitForCalls('legacy record', (c) => c.path === path, 1);
  t.match(calls[0], { observer: 'inbound', tls: { mesh: false }, src: { ip: legacy.ip } });
  t.equal(calls[0].src.identity, undefined, 'no identity for a plaintext peer');
});

void t.test('rotation under steady load: no failed request, a new serial in use, long-lived connection kept', async (t) => {
  const serialBefore = await certSerial(lab.server);
  const rotationsBefore = await lab.metric(lab.server, 'meshtap_sidecar_identity_rotations_total');
  const urls = Array.from({ length: 60 }, (_, i) => lab.appUrl(`/echo?rot=${i}`));
  // One curl, one keep-alive connection across the rotation; and separate connections alongside.
  const longLived = curlClient(['--rate', '5/s', '-o', '/dev/null', '-w', '%{http_code} %{num_connects}\\n', ...urls]);
  const separate: Promise<string>[] = [];
  for (let i = 0; i < 20; i++) {
    separate.push(curlClient(['-o', '/dev/null', '-w', '%{http_code}', lab.appUrl(`/echo?sep=${i}`)]).then((r) => r.stdout, (e: Error) => e.message));
    await sleep(500);
  }
  const lines = (await longLived).stdout.trim().split('\n');
  t.equal(lines.length, 60);
  t.ok(lines.every((l) => l.startsWith('200 ')), 'every request on the long-lived connection answered 200');
  t.equal(lines.map((l) => Number(l.split(' ')[1])).reduce((a, b) => a + b, 0), 1, 'one connection for all of them');
  t.same(await Promise.all(separate), Array(20).fill('200'), 'every new connection answered 200');
  t.ok((await lab.metric(lab.server, 'meshtap_sidecar_identity_rotations_total')) > rotationsBefore, 'the server certificate rotated');
  t.not(await certSerial(lab.server), serialBefore, 'a new serial is in use');
});

void t.test('CA killed mid-run: meshed traffic carries on', async (t) => {
  await killController();
  for (let i = 0; i < 3; i++) {
    const m = marker();
    const path = `/echo?cadown=${m}`;
    const { stdout } = await curlClient(['--data-binary', m, lab.appUrl(path)]);
    t.equal(stdout, m, `call ${i} answered`);
    const { out } = pair(await recordsFor(path));
    t.equal(out.tls.mesh, true, `call ${i} still meshed`);
  }
  await startController(lab);
});

void t.test('/ready waits for the first membership snapshot (up to the CA timeout), so an app\'s first connections are meshed', async (t) => {
  await lab.restartSidecar('client', sidecarEnv('client'));
  await lab.waitReady(lab.client, 20);
  t.ok((await membershipVersion(lab.client)) > 0, 'a snapshot is in use the moment the sidecar is ready');
  const m = marker();
  const path = `/echo?first=${m}`;
  await curlClient(['--data-binary', m, lab.appUrl(path)]);
  const first = pair(await recordsFor(path));
  t.equal(first.out.tls.mesh, true, 'the first call after ready is meshed');
  t.equal(first.in.connection_id, first.out.connection_id, 'and its two observations join');
  // The feed away, the CA up: not ready, saying why, until the timeout; then ready (plaintext out).
  const timeoutMs = 10_000;
  const started = Date.now();
  await lab.restartSidecar('client', sidecarEnv('client', { MESHTAP_CONTROLLER_ADDR: `${lab.net.gateway}:1`, MESHTAP_CA_TIMEOUT_SECONDS: String(timeoutMs / 1000) }));
  await eventually('the certificate', async () => ((await certSerial(lab.client)) ? true : undefined), timeoutMs - 2000);
  t.same(await lab.adminGet(lab.client, '/ready'), { status: 503, body: 'not ready: waiting for the membership feed\n' }, 'a certificate alone is not ready');
  await lab.waitReady(lab.client, 20);
  t.ok(Date.now() - started >= timeoutMs - 100, 'ready at the timeout');
  const m2 = marker();
  const path2 = `/echo?nofeed=${m2}`;
  const { stdout } = await curlClient(['--data-binary', m2, lab.appUrl(path2)]);
  t.equal(stdout, m2, 'traffic flows without the feed');
  t.equal(pair(await recordsFor(path2)).out.tls.mesh, false, 'in plaintext: no snapshot says the server is meshed');
  await lab.restartSidecar('client', sidecarEnv('client'));
  await lab.waitReady(lab.client, 20);
  await waitMeshReady();
});

void t.test('CA down at sidecar start: ready after the timeout, plaintext passthrough, mesh once the CA is back', async (t) => {
  await killController();
  // The CA timeout runs from the sidecar's start; on a loaded machine the restart (module
  // loading, the workload key) has taken over two seconds, so leave it room to be seen waiting.
  const caTimeoutMs = 10_000;
  const started = Date.now();
  await lab.restartSidecar('client', sidecarEnv('client', { MESHTAP_CA_TIMEOUT_SECONDS: String(caTimeoutMs / 1000) }));
  const listeningAfter = Date.now() - started;
  t.ok(listeningAfter < caTimeoutMs - 500, `the sidecar listened ${listeningAfter} ms after its start, within the CA timeout`);
  t.equal((await lab.adminGet(lab.client, '/ready')).status, 503, 'not ready while waiting for the CA');
  await lab.waitReady(lab.client, 20);
  t.ok(Date.now() - started >= caTimeoutMs - 100, 'ready only after the CA timeout');
  const m = marker();
  const path = `/echo?nocert=${m}`;
  const { stdout } = await curlClient(['--data-binary', m, lab.appUrl(path)]);
  t.equal(stdout, m, 'traffic flows without a certificate');
  const first = pair(await recordsFor(path));
  t.equal(first.out.tls.mesh, false, 'plaintext passthrough');
  t.equal(first.in.tls.mesh, false, 'the server sidecar accepted plaintext (permissive)');
  await startController(lab);
  // Both clients retry with full-jitter backoff capped at 30 s, so once the CA has been away a
  // few seconds the next attempt may be up to 30 s off (plus a 5 s request timeout): wait past that.
  await eventually('the client sidecar gets its certificate', async () => ((await certSerial(lab.client)) ? true : undefined), RETRY_CAP_WAIT_MS);
  await eventually('and the membership feed', async () => ((await membershipVersion(lab.client)) > 0 ? true : undefined), RETRY_CAP_WAIT_MS);
  const m2 = marker();
  const path2 = `/echo?cert=${m2}`;
  await curlClient(['--data-binary', m2, lab.appUrl(path2)]);
  const second = pair(await recordsFor(path2));
  t.equal(second.out.tls.mesh, true, 'meshed once the CA answered');
  t.ok((await lab.metric(lab.client, 'meshtap_sidecar_identity_ca_failures_total')) > 0, 'the CA failures were counted');
});

void t.test('meshed destination whose sidecar has no certificate: the client sidecar falls back to plaintext', async (t) => {
  // The server sidecar's CA (and feed) unreachable from its start: passthrough after the timeout.
  const nowhere = `${lab.net.gateway}:1`;
  await lab.restartSidecar('server', sidecarEnv('server', { MESHTAP_CA_ADDR: nowhere, MESHTAP_CONTROLLER_ADDR: nowhere, MESHTAP_CA_TIMEOUT_SECONDS: '1' }));
  await lab.waitReady(lab.server, 10);
  t.equal(await certSerial(lab.server), undefined, 'the server sidecar has no certificate');
  t.ok((await certSerial(lab.client)) !== undefined && (await membershipVersion(lab.client)) > 0, 'the client sidecar has its identity and the feed');
  const fallbacks = () => mtlsCount(lab.client, 'outbound', 'plaintext_fallback_no_peer_identity');
  const before = { fallback: await fallbacks(), failed: await mtlsCount(lab.client, 'outbound', 'handshake_failed') };
  const logLines = () => lab.sidecars.client.proc.output.split('\n').filter((l) => l.includes('plaintext fallback')).length;
  const logsBefore = logLines();

  const m = marker();
  const path = `/echo?fallback=${m}`;
  const { stdout } = await curlClient(['--data-binary', m, lab.appUrl(path)]);
  t.equal(stdout, m, 'the app connection succeeded with the right body');
  const { out, in: inb } = pair(await recordsFor(path));
  t.equal(out.tls.mesh, false, 'outbound record: not meshed');
  t.equal(inb.tls.mesh, false, 'inbound record: not meshed');
  t.equal(out.request?.body && 'text' in out.request.body ? out.request.body.text : undefined, m, 'the client sidecar captured the request once');
  t.equal(inb.request?.body && 'text' in inb.request.body ? inb.request.body.text : undefined, m, 'the app got the request once');

  // A body larger than what the pending handshake buffers: the held bytes are replayed once, in order.
  const big = Array.from({ length: 4096 }, (_, i) => `${String(i).padStart(6, '0')}${randomBytes(29).toString('hex')}\n`).join('');
  const bigFile = join(shared, `big-${m}.txt`);
  await writeFile(bigFile, big, { mode: 0o644 });
  const large = await curlClient(['-H', 'expect:', '--data-binary', `@${bigFile}`, lab.appUrl(`/echo?fallback-big=${m}`)]);
  t.equal(large.stdout.length, big.length, `the large body came back whole (${big.length} bytes)`);
  t.ok(large.stdout === big, 'byte for byte, in order');

  t.equal(await fallbacks(), before.fallback + 2, 'both calls counted plaintext_fallback_no_peer_identity');
  t.equal(await mtlsCount(lab.client, 'outbound', 'handshake_failed'), before.failed, 'no handshake failure counted');
  t.ok((await mtlsCount(lab.server, 'inbound', 'mesh_without_identity')) >= 2, 'the server sidecar declined the mesh handshakes');
  t.equal(logLines() - logsBefore, 1, 'the fallback is logged once for the destination');
  t.ok(out.notes?.some((n: string) => n.startsWith('mtls fallback')), 'the outbound record is marked as a plaintext fallback');

  // The same peer listed as strict: a failed handshake is a failed connection, never plaintext.
  const versionBefore = await membershipVersion(lab.client);
  await writeInventory(lab, SA.server, true);
  await eventually('the feed says the server is strict', async () => ((await membershipVersion(lab.client)) > versionBefore ? true : undefined), 20_000);
  const refusedBefore = await mtlsCount(lab.client, 'outbound', 'fallback_refused_strict_peer');
  const strictPath = `/echo?strict-peer=${m}`;
  const strictCall = await execInNetns(lab.client.netns, 'curl', ['-sS', '-m', '5', '--data-binary', m, lab.appUrl(strictPath)]).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  t.not(strictCall, 'answered', 'towards a strict peer without a certificate the call fails');
  t.equal(await mtlsCount(lab.client, 'outbound', 'fallback_refused_strict_peer'), refusedBefore + 1, 'counted fallback_refused_strict_peer');
  t.equal(await fallbacks(), before.fallback + 2, 'no plaintext fallback towards the strict peer');
  await writeInventory(lab);

  await lab.restartSidecar('server', sidecarEnv('server'));
  await lab.waitReady(lab.server, 20);
  await waitMeshReady();
  const m2 = marker();
  const path2 = `/echo?after-fallback=${m2}`;
  t.equal((await curlClient(['--data-binary', m2, lab.appUrl(path2)])).stdout, m2);
  t.equal(pair(await recordsFor(path2)).out.tls.mesh, true, 'meshed again once the server sidecar has its certificate');
});

void t.test('strict: plaintext from an unmeshed pod refused, the node\'s probe accepted, mesh accepted', async (t) => {
  await lab.restartSidecar('server', sidecarEnv('server', { MESHTAP_MTLS_MODE: 'strict', MESHTAP_PROBE_PORTS: String(APP_PORTS.http), HOST_IP: lab.net.gateway }));
  await lab.waitReady(lab.server, 20);
  await waitMeshReady();
  const refused = await execInNetns(legacy.netns, 'curl', ['-sS', '-m', '5', lab.appUrl('/echo?strict=legacy')]).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  t.match(refused, /curl: \((52|56)\)/, 'plaintext from the unmeshed pod is reset');
  t.ok((await mtlsCount(lab.server, 'inbound', 'strict_plaintext_refused')) >= 1, 'counted strict_plaintext_refused');
  const tlsRefused = await execInNetns(legacy.netns, 'curl', ['-sS', '-k', '-m', '5', `https://${lab.server.ip}:${HTTPS_PORT}/`]).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  t.match(tlsRefused, /curl: \((35|52|56)\)/, 'app TLS from the unmeshed pod is refused too');
  const probe = await sh('curl', ['-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', lab.appUrl('/echo?probe=1')]);
  t.equal(probe.stdout, '200', 'a probe from the node to the probe port works');
  t.ok((await mtlsCount(lab.server, 'inbound', 'probe_plaintext')) >= 1, 'counted probe_plaintext');
  const m = marker();
  const { stdout } = await curlClient(['--data-binary', m, lab.appUrl(`/echo?strict=${m}`)]);
  t.equal(stdout, m, 'the meshed client still gets through');
});

void t.test('strict with probe paths: the node reaches the probes\' paths only', async (t) => {
  await lab.restartSidecar(
    'server',
    sidecarEnv('server', { MESHTAP_MTLS_MODE: 'strict', MESHTAP_PROBE_PORTS: String(APP_PORTS.http), MESHTAP_PROBE_PATHS: `${APP_PORTS.http}=/echo`, HOST_IP: lab.net.gateway }),
  );
  await lab.waitReady(lab.server, 20);
  await waitMeshReady();
  const probe = await sh('curl', ['-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', lab.appUrl('/echo?probe=path')]);
  t.equal(probe.stdout, '200', 'GET of a probe path from the node passes');
  const refusedBefore = await mtlsCount(lab.server, 'inbound', 'strict_probe_path_refused');
  const other = await sh('curl', ['-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', lab.appUrl('/sha256')]).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  t.match(other, /\((52|56)\)/, 'another path on the same port from the node is reset');
  const post = await sh('curl', ['-sS', '-m', '5', '--data-binary', 'x', lab.appUrl('/echo')]).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  t.match(post, /\((52|56)\)/, 'another method on a probe path is reset');
  t.equal(await mtlsCount(lab.server, 'inbound', 'strict_probe_path_refused'), refusedBefore + 2, 'both counted strict_probe_path_refused');
  const m = marker();
  const { stdout } = await curlClient(['--data-binary', m, lab.appUrl(`/sha256?mesh=${m}`)]);
  t.ok(stdout.length > 0, 'a meshed client still reaches any path');
});

void t.test('nothing is left behind', async (t) => {
  t.same(lab.sidecars.client.proc.exitCode, undefined, 'the client sidecar ran throughout');
  t.same(lab.sidecars.server.proc.exitCode, undefined, 'the server sidecar ran throughout');
  t.equal(await lab.metric(lab.client, 'meshtap_sidecar_parser_errors_total', { kind: 'exception' }), 0, 'no parser exceptions');
  await lab.destroy();
  t.same(await lab.leftovers(), []);
});
