import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { loadNamespacesFile, parseWebhookArgs, startWebhook } from '../../webhook/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'mt-wh-ns-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const nsFile = join(dir, 'namespaces.yaml');
writeFileSync(
  nsFile,
  [
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: meshed\n  labels:\n    meshtap.io/inject: enabled\n',
    'apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Namespace\n    metadata:\n      name: plain\n',
  ].join('---\n'),
);

void t.test('--namespaces is parsed', async (t) => {
  t.match(parseWebhookArgs(['--cert-dir', 'd', '--namespaces', nsFile]), { namespacesFile: nsFile });
  t.equal((parseWebhookArgs(['--cert-dir', 'd']) as { namespacesFile?: string }).namespacesFile, undefined);
});

void t.test('the file answers namespace lookups; an unknown namespace is a failed lookup', async (t) => {
  const client = await loadNamespacesFile(nsFile);
  t.match(await client.getNamespace('meshed'), { metadata: { labels: { 'meshtap.io/inject': 'enabled' } } });
  t.match(await client.getNamespace('plain'), { metadata: { name: 'plain' } });
  await t.rejects(client.getNamespace('nowhere'), { code: 'WH_ERR_CONFIG', message: /nowhere/ });
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n');
  await t.rejects(loadNamespacesFile(bad), { code: 'WH_ERR_CONFIG', message: /Namespace/ });
  await t.rejects(loadNamespacesFile(join(dir, 'missing.yaml')), { code: 'WH_ERR_CONFIG', message: /cannot read --namespaces/ });
});

void t.test('the webhook injects by the labels in the file', async (t) => {
  const ca = createRootCa();
  const certDir = join(dir, 'webhook');
  await writeTlsDir(certDir, issueWebhookCert(ca, { extraIps: ['127.0.0.1'] }));
  const logs: string[] = [];
  const stdout = new Writable({ write: (chunk, _enc, cb) => (logs.push(String(chunk)), cb()) });
  const opts = parseWebhookArgs(['--cert-dir', certDir, '--host', '127.0.0.1', '--port', '0', '--namespaces', nsFile, '--strict-namespace-labels', '--log-level', 'warn']);
  if (opts === 'help') throw new Error('unexpected help');
  const running = await startWebhook(opts, { stdout, env: {} });
  t.teardown(() => running.close());
  const review = async (namespace: string) => {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `u-${namespace}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        operation: 'CREATE',
        namespace,
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace }, spec: { containers: [{ name: 'app', image: 'app' }] } },
      },
    });
    return new Promise<{ response: { patch?: string } }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: running.port, path: '/mutate', method: 'POST', ca: ca.cert, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
  t.type((await review('meshed')).response.patch, 'string', 'labelled namespace: injected');
  t.equal((await review('plain')).response.patch, undefined, 'unlabelled namespace: not injected');
  t.equal((await review('nowhere')).response.patch, undefined, 'unknown namespace with --strict-namespace-labels: not injected');
});
