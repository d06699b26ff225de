/** `meshtap dashboard`'s flags: refused before any cluster is asked. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { run } from '../../collector/dashboard/cli.ts';

const io = {
  stdin: process.stdin,
  stdout: { write: () => true } as unknown as NodeJS.WritableStream,
  stderr: { write: () => true } as unknown as NodeJS.WritableStream,
  // Never reached by these cases; if one were, it would fail on this rather than use a real cluster.
  env: { KUBECONFIG: '/nonexistent/kubeconfig' },
};

void t.test('--pod-port 0 is refused: a pod\'s port is a real one', async (t) => {
  await t.rejects(run(['--pod-port', '0'], io), { code: 'CLI_ERR_USAGE', message: '--pod-port must be a port number 1-65535, got "0"' });
  await t.rejects(run(['--pod-port', '65536'], io), { code: 'CLI_ERR_USAGE', message: /--pod-port must be a port number 1-65535/ });
});

void t.test('empty values are usage errors naming the flag, not the defaults', async (t) => {
  for (const flag of ['--pod-port', '--port', '--namespace', '--selector', '--kubeconfig', '--context']) {
    await t.rejects(run([flag, ''], io), { code: 'CLI_ERR_USAGE', message: new RegExp(`^${flag} needs a value`) }, `${flag} ''`);
  }
});

void t.test('valid ports get as far as the kubeconfig', async (t) => {
  await t.rejects(run(['--pod-port', '8080', '--port', '0'], io), { code: 'CLI_ERR_USAGE', message: 'the kubeconfig /nonexistent/kubeconfig cannot be used: /nonexistent/kubeconfig: no such file' });
});

void t.test('no kubeconfig anywhere: a usage error saying where one was looked for, not the client\'s localhost:8080 fallback', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'meshtap-dash-home-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  await t.rejects(run(['--port', '0'], { ...io, env: { HOME: home } }), {
    code: 'CLI_ERR_USAGE',
    message: `a kubeconfig is needed: give --kubeconfig FILE or KUBECONFIG, or create ${join(home, '.kube', 'config')} (there is none), or run it inside the cluster`,
  });
});

void t.test('an API server that cannot be reached: a coded error naming the namespace and the server', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-dash-kc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A loopback port nothing listens on: the connection is refused at once.
  const closed = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${closed}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: test-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
  );
  await t.rejects(run(['--port', '0', '--kubeconfig', file], io), {
    code: 'COL_ERR_DASHBOARD_CLUSTER',
    message: new RegExp(`^cannot list the collector pods in meshtap-system \\(cluster https://127\\.0\\.0\\.1:${closed}\\): `),
  });
});
