/**
 * `meshtap dashboard`'s proxying half against a real collector with token auth: every request
 * reaches the collector with the credentials the proxy adds (never the browser's), the page,
 * the API and the live stream pass, and failures are clear. The port-forward half needs an API
 * server and a pod, which do not exist here; its command fails clearly without a kubeconfig.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startCollector } from '../../collector/collector.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCredentialProxy } from '../../collector/dashboard/credential-proxy.ts';
import { run } from '../../collector/dashboard/cli.ts';
import { fullRecord } from '../proto/record-fixtures.ts';

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (url.includes('/api/stream')) res.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

void t.test('the credential proxy adds the user\'s credentials to every request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-dash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens'), 'user-token-ffffffffffffffffffff\n');
  const collector = await startCollector(resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', auth: 'token', authTokenFile: join(dir, 'tokens') }));
  t.teardown(() => collector.close({ force: true }));
  await collector.store.add([fullRecord(1)]);
  let asked = 0;
  const proxy = await startCredentialProxy({
    target: `http://127.0.0.1:${collector.httpPort}`,
    authorization: async () => {
      asked++;
      return 'Bearer user-token-ffffffffffffffffffff';
    },
  });
  t.teardown(() => proxy.close());
  t.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await get(proxy.url);
  t.equal(page.status, 200);
  t.match(page.type, /text\/html/);
  const calls = await get(`${proxy.url}api/calls`, { authorization: 'Bearer something-the-browser-made-up', cookie: 'meshtap_session=x' });
  t.equal(calls.status, 200, 'the browser\'s own Authorization and cookie are replaced by the user\'s credentials');
  t.same((JSON.parse(calls.body) as { calls: Array<{ id: string }> }).calls.map((c) => c.id), ['rec-1']);
  const stream = await get(`${proxy.url}api/stream`);
  t.equal(stream.status, 200, 'the live stream passes');
  t.ok(asked >= 3, 'credentials are asked for on every request (tokens expire)');
  t.equal((await get(proxy.url, { host: 'rebind.example' })).status, 403, 'only loopback Host names');

  const anonymous = await startCredentialProxy({ target: `http://127.0.0.1:${collector.httpPort}`, authorization: async () => undefined });
  t.teardown(() => anonymous.close());
  t.equal((await get(`${anonymous.url}api/calls`)).status, 401, 'without credentials the collector refuses');

  const failing = await startCredentialProxy({ target: `http://127.0.0.1:${collector.httpPort}`, authorization: async () => Promise.reject(new Error('exec plugin failed')) });
  t.teardown(() => failing.close());
  const f = await get(`${failing.url}api/calls`);
  t.equal(f.status, 502);
  t.match(JSON.parse(f.body).error.message, /kubeconfig: exec plugin failed/);
});

void t.test('a collector that does not answer through the port-forward is a clear 502', async (t) => {
  const proxy = await startCredentialProxy({ target: 'http://127.0.0.1:1', authorization: async () => 'Bearer x', onError: () => {} });
  t.teardown(() => proxy.close());
  const r = await get(`${proxy.url}api/calls`);
  t.equal(r.status, 502);
  t.match(JSON.parse(r.body).error.message, /did not answer through the port-forward/);
});

void t.test('meshtap dashboard without a kubeconfig says so', async (t) => {
  const out: string[] = [];
  const io = {
    stdin: process.stdin,
    stdout: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream,
    env: { KUBECONFIG: '/nonexistent/kubeconfig' },
  };
  await t.rejects(run([], io), { code: 'CLI_ERR_USAGE', message: 'the kubeconfig /nonexistent/kubeconfig cannot be used: /nonexistent/kubeconfig: no such file' });
  t.equal(await run(['--help'], io), 0);
  t.match(out.join(''), /usage: meshtap dashboard/);
  await t.rejects(run(['--port', 'x'], io), { code: 'CLI_ERR_USAGE' });
});
