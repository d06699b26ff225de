import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { loadServingCertificate, parseWebhookArgs } from '../../webhook/cli.ts';
import { runMeshtap, type Proc } from '../helpers/run-meshtap.ts';

const review = readFileSync(new URL('../fixtures/admission/pod-create.json', import.meta.url), 'utf8');
const ca = createRootCa();
const leafOptions = { extraDnsNames: ['localhost'], extraIps: ['127.0.0.1'] };

/** `meshtap webhook <args>` with the pinned Node and no cluster variables from the test's env. */
function runWebhook(t: Test, args: string[], env: Record<string, string> = {}): Proc {
  return runMeshtap(t, ['webhook', ...args], env);
}

function https(port: number, path: string, trust: string, body?: string): Promise<{ status: number; json: any; peer: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', ca: trust, servername: 'localhost', agent: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text), peer }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-webhook-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

void t.test('argument parsing', async (t) => {
  t.equal(parseWebhookArgs(['--help']), 'help');
  t.match(parseWebhookArgs(['--cert-dir', 'd']), { certDir: 'd', port: 9443, host: '0.0.0.0', strictNamespaceLabels: false, drainSeconds: 0, logLevel: 'info' });
  t.match(parseWebhookArgs(['--cert-dir', 'd', '--port', '0', '--patch-webhook-config', 'meshtap', '--strict-namespace-labels']), {
    port: 0,
    patchWebhookConfig: 'meshtap',
    strictNamespaceLabels: true,
  });
  t.throws(() => parseWebhookArgs([]), { code: 'CLI_ERR_USAGE', message: /--cert-dir is required/ });
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--port', '70000']), { code: 'CLI_ERR_USAGE', message: /--port must be a port number 0-65535, got "70000"/ });
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--port', 'https']), { code: 'CLI_ERR_USAGE' });
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--log-level', 'loud']), { code: 'CLI_ERR_USAGE', message: /--log-level/ });
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--patch-webhook-config', 'Bad Name']), { code: 'CLI_ERR_USAGE' });
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--bogus']), { code: 'CLI_ERR_USAGE', message: "Unknown option '--bogus'" });
});

void t.test('--host: an IP address (IPv6 without brackets) or a host name; anything else is a usage error', async (t) => {
  for (const host of ['::', '::1', '0.0.0.0', '127.0.0.1', 'localhost', 'meshtap-controller.meshtap-system.svc']) {
    t.match(parseWebhookArgs(['--cert-dir', 'd', '--host', host]), { host }, `${host} is accepted`);
  }
  // The bracketed form is what the listening line shows (https://[::]:9443): the one people copy.
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--host', '[::]']), {
    code: 'CLI_ERR_USAGE',
    message: 'meshtap webhook: --host takes an IPv6 address without brackets: give "::", got "[::]"',
  });
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--host', 'a b']), { code: 'CLI_ERR_USAGE', message: /^meshtap webhook: --host must be an IP address or a host name, got "a b"/ });
  t.throws(() => parseWebhookArgs(['--cert-dir', 'd', '--host', '[nope]']), { code: 'CLI_ERR_USAGE', message: /got "\[nope\]": "\[nope\]" is not an IP address/ });
});

void t.test('a missing certificate file names the flag that gave its directory', async (t) => {
  const empty = tempDir(t);
  const cert = join(empty, 'tls.crt');
  await t.rejects(loadServingCertificate(empty), {
    code: 'WH_ERR_TLS_FILES',
    message: `cannot read ${cert}: no such file (create one with "meshtap certs init --dir DIR" and pass --cert-dir DIR/webhook)`,
  }, 'the webhook\'s own --cert-dir by default');
  await t.rejects(loadServingCertificate(empty, '--webhook-cert-dir'), {
    code: 'WH_ERR_TLS_FILES',
    message: `cannot read ${cert}: no such file (create one with "meshtap certs init --dir DIR" and pass --webhook-cert-dir DIR/webhook)`,
  }, 'the controller\'s flag when it passes it');
});

void t.test('usage errors exit 2, runtime failures exit 1, both with a clear message', async (t) => {
  const help = runWebhook(t, ['--help']);
  t.equal(await help.exited, 0);
  t.ok(help.lines.some((l) => /usage: meshtap webhook --cert-dir DIR/.test(l.text)));
  const badPort = runWebhook(t, ['--cert-dir', '/nonexistent', '--port', 'abc']);
  t.equal(await badPort.exited, 2);
  t.equal(badPort.stderr(), 'meshtap webhook: CLI_ERR_USAGE: --port must be a port number 0-65535, got "abc"\nRun "meshtap webhook --help" for its options.\n', 'the command named once, then where its options are');

  const empty = tempDir(t);
  const missing = runWebhook(t, ['--cert-dir', empty, '--port', '0']);
  t.equal(await missing.exited, 1);
  t.match(missing.stderr(), new RegExp(`WH_ERR_TLS_FILES: cannot read ${join(empty, 'tls.crt').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no such file`));
  t.match(missing.stderr(), /meshtap certs init/);

  const garbage = tempDir(t);
  writeFileSync(join(garbage, 'tls.crt'), 'not a certificate');
  writeFileSync(join(garbage, 'tls.key'), 'not a key');
  const bad = runWebhook(t, ['--cert-dir', garbage, '--port', '0']);
  t.equal(await bad.exited, 1);
  t.match(bad.stderr(), /not a usable certificate\/key pair/);

  const dir = tempDir(t);
  await writeTlsDir(dir, issueWebhookCert(ca, leafOptions));
  const cfg = join(dir, 'injector.yaml');
  writeFileSync(cfg, 'proxyUID: 1337\n');
  const badConfig = runWebhook(t, ['--cert-dir', dir, '--port', '0', '--config', cfg]);
  t.equal(await badConfig.exited, 1);
  t.match(badConfig.stderr(), /WH_ERR_CONFIG: --config .*injector\.yaml: .*proxyUID.*did you mean "proxyUid"/);
  writeFileSync(cfg, '!!binary AAAA\n');
  const binary = runWebhook(t, ['--cert-dir', dir, '--port', '0', '--config', cfg]);
  t.equal(await binary.exited, 1);
  t.match(binary.stderr(), /WH_ERR_CONFIG: --config .*injector\.yaml must be a YAML mapping of injector options/, 'a !!binary document is text, not a Buffer whose methods are listed as unknown options');
  writeFileSync(cfg, 'caAddr: "meshtap-controller..svc:15012"\ncollectorAddr: "collector:99999"\n');
  const badAddr = runWebhook(t, ['--cert-dir', dir, '--port', '0', '--config', cfg]);
  // Raced with a timer: a regression would start serving with the bad config and never exit.
  let timer: NodeJS.Timeout | undefined;
  const stillServing = new Promise<string>((resolve) => (timer = setTimeout(resolve, 20_000, 'still serving')));
  t.equal(await Promise.race([badAddr.exited, stillServing]), 1);
  clearTimeout(timer);
  t.match(badAddr.stderr(), /WH_ERR_CONFIG: --config .*injector\.yaml: .*collectorAddr must be "host:port" .*: the port 99999 is not in 1-65535; got "collector:99999"; /);
  t.match(badAddr.stderr(), /caAddr must be "host:port" .*: the host name "meshtap-controller\.\.svc" has an empty label; got "meshtap-controller\.\.svc:15012"\n/);

  const noCa = tempDir(t);
  const leaf = issueWebhookCert(ca, leafOptions);
  writeFileSync(join(noCa, 'tls.crt'), leaf.cert);
  writeFileSync(join(noCa, 'tls.key'), leaf.key);
  const needsCa = runWebhook(t, ['--cert-dir', noCa, '--port', '0', '--patch-webhook-config', 'meshtap']);
  t.equal(await needsCa.exited, 1);
  t.match(needsCa.stderr(), /ca\.crt: no such file/);

  // .invalid never resolves (RFC 6761); 192.0.2.1 (TEST-NET-1) is no address of this machine.
  const unresolved = runWebhook(t, ['--cert-dir', dir, '--port', '0', '--host', 'meshtap-test.invalid']);
  t.equal(await unresolved.exited, 1);
  t.match(unresolved.stderr(), /^meshtap webhook: WH_ERR_LISTEN: --host meshtap-test\.invalid does not resolve to an address to listen on \(getaddrinfo \w+ meshtap-test\.invalid\)\n$/);
  const foreign = runWebhook(t, ['--cert-dir', dir, '--port', '0', '--host', '192.0.2.1']);
  t.equal(await foreign.exited, 1);
  t.match(foreign.stderr(), /^meshtap webhook: WH_ERR_LISTEN: --host 192\.0\.2\.1 is not an address of this machine \(listen EADDRNOTAVAIL/);
});

void t.test('serves on --port 0, announces the port, applies --config, reloads certificates, stops on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const certDir = join(dir, 'webhook');
  await writeTlsDir(certDir, issueWebhookCert(ca, leafOptions));
  const cfg = join(dir, 'injector.yaml');
  writeFileSync(cfg, 'image: registry.example/meshtap:test\nproxyUid: 2000\nproxyGid: 2000\n');
  const proc = runWebhook(t, ['--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1', '--config', cfg]);
  const listening = await proc.waitFor((l) => l.event === 'listening', 'the listening line');
  t.type(listening.port, 'number');
  t.ok(listening.port > 0);
  t.equal(listening.address, `https://127.0.0.1:${listening.port}`);
  t.ok(proc.lines.some((l) => /not running in a cluster/.test(l.msg)), 'says namespace labels are assumed');

  const health = await https(listening.port, '/healthz', ca.cert);
  t.equal(health.status, 200);
  const res = await https(listening.port, '/mutate', ca.cert, review);
  t.equal(res.status, 200);
  const patch = JSON.parse(Buffer.from(res.json.response.patch, 'base64').toString());
  t.match(JSON.stringify(patch), /registry\.example\/meshtap:test/, 'the --config image is used');
  t.match(JSON.stringify(patch), /"runAsUser":2000/, 'the --config proxy uid is used');

  // Rotate: a new CA and certificate written into the directory are picked up without restart.
  const ca2 = createRootCa({ commonName: 'rotated root' });
  await writeTlsDir(certDir, issueWebhookCert(ca2, leafOptions), { overwrite: true });
  await proc.waitFor((l) => l.event === 'certificate-reloaded', 'the reload line');
  const after = await https(listening.port, '/healthz', ca2.cert);
  t.equal(after.status, 200, 'the new certificate is served');
  t.not(after.peer, health.peer);

  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0, 'graceful exit');
  t.ok(proc.lines.some((l) => l.event === 'shutdown' && l.signal === 'SIGTERM'));
  t.ok(proc.lines.some((l) => l.event === 'stopped'));
});

void t.test('meshtap webhook: a skipped pod is logged with which annotation and why, and the answer warns', async (t) => {
  const dir = tempDir(t);
  const certDir = join(dir, 'webhook');
  await writeTlsDir(certDir, issueWebhookCert(ca, leafOptions));
  const proc = runWebhook(t, ['--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1']);
  const listening = await proc.waitFor((l) => l.event === 'listening', 'the listening line');
  const doc = JSON.parse(review);
  doc.request.object.metadata.annotations['meshtap.io/exclude-inbound-ports'] = 'http';
  const res = await https(listening.port, '/mutate', ca.cert, JSON.stringify(doc));
  t.equal(res.status, 200);
  const detail = 'pod annotation meshtap.io/exclude-inbound-ports: "http" is not a port number 1-65535';
  t.same(res.json.response, { uid: doc.request.uid, allowed: true, warnings: [`meshtap did not inject the pod: invalid-annotation: ${detail}`] });
  const line = await proc.waitFor((l) => l.uid === doc.request.uid, 'the review line');
  t.match(line, { outcome: 'skipped', reasons: ['invalid-annotation'], details: { 'invalid-annotation': detail } });
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
});

void t.test('meshtap webhook --strict-namespace-labels with no namespace source warns that every pod is skipped', async (t) => {
  const dir = tempDir(t);
  const certDir = join(dir, 'webhook');
  await writeTlsDir(certDir, issueWebhookCert(ca, leafOptions));
  const proc = runWebhook(t, ['--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1', '--strict-namespace-labels']);
  const listening = await proc.waitFor((l) => l.event === 'listening', 'the listening line');
  const warning = proc.lines.find((l) => /not running in a cluster/.test(l.msg));
  t.match(warning, { level: 'warn', msg: /no --namespaces file: every pod will be skipped \(namespace-labels-unknown/ }, 'a warning, not "labels are assumed"');
  t.notOk(proc.lines.some((l) => /assumed/.test(l.msg)), 'nothing claims labels are assumed');
  const res = await https(listening.port, '/mutate', ca.cert, review);
  t.equal(res.status, 200);
  t.equal(res.json.response.patch, undefined, 'the pod is not injected');
  t.match(res.json.response.warnings, [/namespace-labels-unknown/], 'as the warning said');
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
});
