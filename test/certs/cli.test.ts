import { X509Certificate } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { run } from '../../certs/cli.ts';
import { openssl, plainEnv, runProgram, tempDir } from './helpers.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const meshtap = (args: string[]) => runProgram('npx', ['meshtap', ...args], { cwd: repoRoot, env: plainEnv() });

/** Runs the command in this process, for the cases that need no real process. */
async function runHere(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  const code = await run(argv, { stdin: new PassThrough(), stdout, stderr, env: {} });
  return { code, stdout: out, stderr: err };
}

// npx takes seconds to start: the usage-error run goes alongside the init runs.
const usageRun = meshtap(['certs', 'init']);

const read = (p: string) => readFile(p, 'utf8');
const mode = async (p: string) => (await stat(p)).mode & 0o777;

void t.test('meshtap certs init: CA, webhook certificate, reuse, --force', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'pki');

  const first = await meshtap(['certs', 'init', '--dir', out, '--dns', 'hook.example.com,hook2.example.com', '--ip', '10.96.0.10', '--ip', '::1']);
  t.equal(first.code, 0, first.stderr);
  t.same((await readdir(out)).sort(), ['ca', 'webhook']);
  for (const sub of ['ca', 'webhook']) {
    t.same((await readdir(join(out, sub))).sort(), ['ca.crt', 'tls.crt', 'tls.key'], sub);
    t.equal(await mode(join(out, sub, 'tls.key')), 0o600, `${sub}/tls.key is 0600`);
    t.equal(await mode(join(out, sub)), 0o700, `${sub} is 0700`);
  }
  const caCert = await read(join(out, 'ca', 'tls.crt'));
  const caKey = await read(join(out, 'ca', 'tls.key'));
  t.equal(await read(join(out, 'ca', 'ca.crt')), caCert);
  t.equal(await read(join(out, 'webhook', 'ca.crt')), caCert, 'the caBundle is the CA certificate');
  const wh = new X509Certificate(await read(join(out, 'webhook', 'tls.crt')));
  t.equal(
    wh.subjectAltName,
    'DNS:meshtap-controller, DNS:meshtap-controller.meshtap-system, DNS:meshtap-controller.meshtap-system.svc, ' +
      'DNS:meshtap-controller.meshtap-system.svc.cluster.local, DNS:hook.example.com, DNS:hook2.example.com, ' +
      'IP Address:10.96.0.10, IP Address:0:0:0:0:0:0:0:1',
  );
  t.equal(new X509Certificate(caCert).subjectAltName, 'URI:spiffe://cluster.local', 'default trust domain recorded');
  const v = await openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', join(out, 'webhook', 'ca.crt'), join(out, 'webhook', 'tls.crt')]);
  t.equal(v.code, 0, v.stdout + v.stderr);
  t.match(first.stdout, `CA: created ${join(out, 'ca')}`);
  t.match(first.stdout, join(out, 'webhook', 'tls.key'));
  t.match(first.stdout, 'DNS:hook.example.com');
  t.match(first.stdout, /expires 20\d\d-/);

  const second = await meshtap(['certs', 'init', '--dir', out]);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, `CA: reused ${join(out, 'ca')}`);
  t.equal(await read(join(out, 'ca', 'tls.crt')), caCert, 'CA certificate kept');
  t.equal(await read(join(out, 'ca', 'tls.key')), caKey, 'CA key kept');
  const wh2 = new X509Certificate(await read(join(out, 'webhook', 'tls.crt')));
  t.not(wh2.serialNumber, wh.serialNumber, 'webhook certificate issued again');
  t.ok(wh2.verify(new X509Certificate(caCert).publicKey), 'by the same CA');
  t.notMatch(wh2.subjectAltName, /hook\.example\.com/, 'with the names of this run');

  const forced = await meshtap(['certs', 'init', '--dir', out, '--force', '--trust-domain', 'prod.example']);
  t.equal(forced.code, 0, forced.stderr);
  const newCa = await read(join(out, 'ca', 'tls.crt'));
  t.not(newCa, caCert, 'a new CA');
  t.equal(new X509Certificate(newCa).subjectAltName, 'URI:spiffe://prod.example');
  const aside = (await readdir(out)).filter((n) => n.startsWith('ca.replaced-'));
  t.equal(aside.length, 1, 'the old CA is moved aside, not destroyed');
  t.equal(await read(join(out, aside[0], 'tls.key')), caKey);
  t.match(forced.stdout, `previous CA moved to ${join(out, aside[0])}`);
  const wh3 = new X509Certificate(await read(join(out, 'webhook', 'tls.crt')));
  t.ok(wh3.verify(new X509Certificate(newCa).publicKey), 'webhook certificate from the new CA');
  t.equal(await read(join(out, 'webhook', 'ca.crt')), newCa);
});

void t.test('usage errors exit 2, --help exits 0', async (t) => {
  const spawned = await usageRun;
  t.equal(spawned.code, 2, 'a usage error through the real command');
  t.match(spawned.stderr, /--dir is required/);
  const help = await runHere(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^ {2}init --dir DIR/m);
  t.match(help.stdout, /^ {2}inspect FILE/m);
  const initHelp = await runHere(['init', '--help']);
  t.equal(initHelp.code, 0);
  t.match(initHelp.stdout, /^usage: meshtap certs init --dir DIR/, "init's own usage (was the command's)");
  t.match(initHelp.stdout, /^ {2}--dir DIR {12}output directory \(required\)$/m);
  t.notMatch(initHelp.stdout, /inspect/);
  const inspectHelp = await runHere(['inspect', '--help']);
  t.match(inspectHelp.stdout, /^usage: meshtap certs inspect FILE\n/);
  t.notMatch(inspectHelp.stdout, /--dir/);

  const dir = await tempDir(t);
  const aFile = join(await tempDir(t), 'a-file');
  await writeFile(aFile, 'not a directory');
  for (const [argv, message] of [
    // No command: the help, on stderr (as `meshtap` and `meshtap lab` alone).
    [[], /^usage: meshtap certs <command> \[options\]\n/],
    [['rotate'], /unknown command "rotate"/],
    [['init', '--dir', dir, '--ip', '10.0.0'], /--ip: "10.0.0" is not an IPv4 or IPv6 address/],
    [['init', '--dir', dir, '--dns', '*.example.com'], /--dns: "\*\.example\.com" is not a DNS name/],
    [['init', '--dir', dir, '--trust-domain', 'a/b'], /--trust-domain: trust domain "a\/b" is invalid/],
    [['init', '--dir', dir, '--namespace', 'Not_Ok'], /--namespace/],
    [['init', '--dir', dir, '--dns', ''], /--dns: an empty item in ""/],
    [['init', '--dir', dir, '--dns', 'a.example.com,,b.example.com'], /--dns: an empty item in "a\.example\.com,,b\.example\.com"/],
    [['init', '--dir', dir, '--ip', ''], /--ip: an empty item/],
    // Given but empty is "needs a value", as for every flag; only an absent --dir is "required".
    [['init', '--dir', ''], /^meshtap certs init: CLI_ERR_USAGE: --dir needs a value \(the output directory\), got ""\n/],
    [['init', '--dir', ' '], /--dir needs a value/],
    [['init', '--dir', dir, '--trust-domain', ''], /--trust-domain needs a value \(a SPIFFE trust domain\), got ""/],
    [['init', '--dir', dir, '--service', ''], /--service needs a value \(a Kubernetes name\), got ""/],
    [['init', '--dir', dir, '--namespace', ''], /--namespace needs a value/],
    [['inspect', ''], /FILE needs a value \(a PEM file\), got ""/],
    [['init', '--dir', dir, '--bogus'], /bogus/],
    [['init', '--dir', dir, 'extra'], /unexpected argument "extra"/],
    [['inspect'], /exactly one FILE/],
    [['init', '--dir', aFile], /--dir .*a-file exists and is not a directory/],
    // Every bad flag at once, in the order given by the usage, in one message.
    [
      ['init', '--dns', 'a..b', '--ip', '10.0.0', '--trust-domain', 'a/b', '--service', 'Bad_Name', '--namespace', ''],
      /^meshtap certs init: CLI_ERR_USAGE: --dir is required; --dns: "a\.\.b" is not a DNS name .*; no wildcards\); --ip: "10\.0\.0" is not an IPv4 or IPv6 address; --trust-domain: trust domain "a\/b" is invalid[^;]*; --service: "Bad_Name" is not a Kubernetes name[^;]*; --namespace needs a value \(a Kubernetes name\), got ""\n/,
    ],
  ] as const) {
    const r = await runHere([...argv]);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.stderr, message);
  }
  t.same(await readdir(dir), [], 'nothing written on a usage error');
  t.equal((await runHere(['init', '--help'])).code, 0);
});

void t.test('an unusable existing CA is reported, kept, and --force replaces it', async (t) => {
  const dir = await tempDir(t);
  t.equal((await runHere(['init', '--dir', dir])).code, 0);
  const caCert = await read(join(dir, 'ca', 'tls.crt'));
  await rm(join(dir, 'ca', 'tls.key'));
  const r = await runHere(['init', '--dir', dir]);
  t.equal(r.code, 1);
  t.match(r.stderr, /CA_ERR_READ: .*ca.* holds an unusable CA .*tls\.key: file is missing.*--force/);
  t.equal(await read(join(dir, 'ca', 'tls.crt')), caCert, 'left as it was');
  const conflict = await runHere(['init', '--dir', dir, '--force']);
  t.equal(conflict.code, 0, conflict.stderr);
  t.not(await read(join(dir, 'ca', 'tls.crt')), caCert);
});

void t.test('reusing a CA of another trust domain needs --force', async (t) => {
  const dir = await tempDir(t);
  t.equal((await runHere(['init', '--dir', dir, '--trust-domain', 'a.example'])).code, 0);
  const r = await runHere(['init', '--dir', dir, '--trust-domain', 'b.example']);
  t.equal(r.code, 2);
  t.match(r.stderr, /trust domain "a\.example", not "b\.example"; pass --force/);
  t.equal((await runHere(['init', '--dir', dir, '--trust-domain', 'a.example'])).code, 0, 'the same domain is fine');
});

void t.test('meshtap certs inspect', async (t) => {
  const dir = await tempDir(t);
  await runHere(['init', '--dir', dir]);
  const r = await runHere(['inspect', join(dir, 'webhook', 'tls.crt')]);
  t.equal(r.code, 0, r.stderr);
  const x = new X509Certificate(await read(join(dir, 'webhook', 'tls.crt')));
  t.match(r.stdout, 'subject:     CN=meshtap-controller.meshtap-system.svc');
  t.match(r.stdout, 'SANs:        DNS:meshtap-controller, ');
  t.match(r.stdout, `sha256:      ${x.fingerprint256}`);
  t.match(r.stdout, `not after:   ${new Date(x.validTo).toISOString()} (valid, 36`);
  t.match(r.stdout, 'extended key usage: serverAuth');
  const ca = await runHere(['inspect', join(dir, 'ca', 'ca.crt')]);
  t.match(ca.stdout, /certificate 1 of 1 \(CA\)/);
  const missing = await runHere(['inspect', join(dir, 'nope.pem')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /CA_ERR_READ: cannot read .*nope\.pem/);
  const key = await runHere(['inspect', join(dir, 'ca', 'tls.key')]);
  t.equal(key.code, 1);
  t.match(key.stderr, /CA_ERR_BAD_PEM: .*no PEM certificate found/);
});
