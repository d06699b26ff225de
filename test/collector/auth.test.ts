/**
 * Who may read call data: the 401 matrix for token auth, token rotation, a collector started
 * with no auth settings (closed, with a generated 0600 token), `--auth none`, Kubernetes auth
 * against a stand-in API server answering TokenReview and SubjectAccessReview with the API's
 * own JSON (no API server runs here), dashboard sessions and the loopback Host check.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { createRootCa } from '../../certs/root-ca.ts';
import { issueWebhookCert } from '../../certs/webhook-cert.ts';
import { writeTlsDir } from '../../lib/tls/tls-dir.ts';
import { startCollector, type RunningCollector } from '../../collector/collector.ts';
import { resolveCollectorConfig, resolveCollectorOptions } from '../../collector/config.ts';
import { resolveAuthorization } from '../../collector/tap/credentials.ts';
import type { CallRecord } from '../../record/record.ts';
import { fullRecord } from '../proto/record-fixtures.ts';
import { createSinkLogger } from '../../lib/log.ts';
import { waitFor } from './helpers.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request, so the Host header and cookies are exactly what the test says. */
function call(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        // The stream never ends by itself: its first bytes are enough.
        if (path.startsWith('/api/stream')) res.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function record(i: number, src: string, dst: string): CallRecord {
  const r = fullRecord(i);
  return { ...r, id: `call-${i}`, trace_id: `trace-${i % 2}`, src: { ...r.src, namespace: src }, dst: { ...r.dst, namespace: dst } };
}

async function collectorWith(t: Test, options: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<{ c: RunningCollector; logs: string[] }> {
  const logs: string[] = [];
  const c = await startCollector(resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', ...options }), {
    env,
    log: createSinkLogger((level, msg, fields) => logs.push(JSON.stringify({ level, msg, ...fields }))),
  });
  t.teardown(() => c.close({ force: true }));
  await c.store.add([record(1, 'shop', 'shop'), record(2, 'shop', 'payments'), record(3, 'payments', 'payments'), record(4, 'ops', 'ops')]);
  return { c, logs };
}

const DATA_ROUTES = ['/api/calls', '/api/calls/call-1', '/api/servicemap', '/api/offenders', '/api/traces/trace-1', '/api/stream', '/api/session'];

void t.test('token auth: 401 without a valid token on every call-data route; health and metrics open', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, '# viewers\nfirst-token-aaaaaaaaaaaaaaaa\n\nsecond-token-bbbbbbbbbbbbbbb\n');
  const { c, logs } = await collectorWith(t, { auth: 'token', authTokenFile: tokenFile });
  for (const route of DATA_ROUTES) {
    const none = await call(c.httpPort, route);
    t.equal(none.status, 401, `${route}: no token`);
    t.equal(none.headers['www-authenticate'], 'Bearer realm="meshtap"');
    const body = JSON.parse(none.body) as { error: { code: string; message: string } };
    t.equal(body.error.code, 'COL_ERR_UNAUTHENTICATED');
    t.match(body.error.message, /Authorization: Bearer <token>.*token file/, 'the body says how to authenticate');
    t.equal((await call(c.httpPort, route, { authorization: 'Bearer first-token-aaaaaaaaaaaaaaaX' })).status, 401, `${route}: wrong token`);
    t.equal((await call(c.httpPort, route, { authorization: 'Basic Zmlyc3Q=' })).status, 401, `${route}: not a bearer token`);
  }
  const tokenAlone = await call(c.httpPort, '/api/calls', { authorization: 'second-token-bbbbbbbbbbbbbbb' });
  t.equal(tokenAlone.status, 401, 'the token without its scheme');
  const tokenAloneBody = JSON.parse(tokenAlone.body) as { error: { code: string; message: string } };
  t.equal(tokenAloneBody.error.code, 'COL_ERR_UNAUTHENTICATED');
  t.match(tokenAloneBody.error.message, /must be "Authorization: Bearer <token>".*write "Bearer " before it/, 'the 401 says what the header lacks');
  t.notMatch(tokenAloneBody.error.message, /second-token/, 'and does not repeat the header back');
  const ok = { authorization: 'Bearer second-token-bbbbbbbbbbbbbbb' };
  const list = await call(c.httpPort, '/api/calls', ok);
  t.equal(list.status, 200);
  t.equal((JSON.parse(list.body) as { calls: unknown[] }).calls.length, 4, 'a token holder sees every call');
  t.equal((await call(c.httpPort, '/api/calls/call-1', ok)).status, 200);
  t.equal((await call(c.httpPort, '/api/servicemap', ok)).status, 200);
  t.equal((await call(c.httpPort, '/api/offenders', ok)).status, 200);
  t.equal((await call(c.httpPort, '/api/traces/trace-1', ok)).status, 200);
  t.equal((await call(c.httpPort, '/api/stream', ok)).status, 200);
  t.equal((await call(c.httpPort, '/healthz')).status, 200, '/healthz needs no token');
  const metrics = await call(c.httpPort, '/metrics');
  t.equal(metrics.status, 200, '/metrics needs no token');
  t.match(metrics.body, /meshtap_collector_auth_failures_total\{status="401"\} \d+/);
  t.notMatch(logs.join('\n'), /first-token|second-token/, 'no token in the logs');
});

void t.test('token auth: a route spelled with percent-escapes is still behind the token', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, 'only-token-cccccccccccccccccc\n');
  const { c, logs } = await collectorWith(t, { auth: 'token', authTokenFile: tokenFile });
  // The router decodes these to /api/... and /mcp; each must answer 401 like its plain spelling.
  const spellings = ['/%61pi/calls', '/%61pi/calls/call-1', '/%61pi/calls/nope', '/%61pi/servicemap', '/%61pi/traces/trace-1', '/%61pi/stream', '/%61pi/session', '/api/%63alls', '/%61%70%69/coverage'];
  for (const path of spellings) {
    const none = await call(c.httpPort, path);
    t.equal(none.status, 401, `${path}: no token`);
    t.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, 'COL_ERR_UNAUTHENTICATED', `${path}: the 401's code`);
  }
  const session = await call(c.httpPort, '/%61pi/session', { authorization: 'Bearer not-the-token-ddddddddddd' }, 'POST');
  t.equal(session.status, 401, 'no session is opened for a wrong token');
  t.equal(session.headers['set-cookie'], undefined, 'and no cookie is set');
  t.equal((await call(c.httpPort, '/%61pi/session', {}, 'DELETE')).status, 401);
  for (const path of ['/%6dcp', '/mc%70']) {
    const mcp = await new Promise<Reply>((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      const req = httpRequest({ host: '127.0.0.1', port: c.httpPort, path, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    t.equal(mcp.status, 401, `POST ${path}: no token`);
    t.notMatch(mcp.body, /search_calls/, `POST ${path}: no tool list`);
  }
  const ok = await call(c.httpPort, '/%61pi/calls', { authorization: 'Bearer only-token-cccccccccccccccccc' });
  t.equal(ok.status, 200, 'with the token the escaped spelling is the same route');
  t.equal((JSON.parse(ok.body) as { calls: unknown[] }).calls.length, 4);
  t.notMatch(logs.join('\n'), /no viewer/, 'no route ran without a viewer');
});

void t.test('token auth: the file is reloaded when it changes', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, 'old-token-cccccccccccccccccccc\n');
  const { c } = await collectorWith(t, { auth: 'token', authTokenFile: tokenFile });
  t.equal((await call(c.httpPort, '/api/calls', { authorization: 'Bearer old-token-cccccccccccccccccccc' })).status, 200);
  writeFileSync(tokenFile, 'new-token-dddddddddddddddddddd\n');
  const later = new Date(Date.now() + 5000);
  utimesSync(tokenFile, later, later);
  await waitFor('the new token', async () => (await call(c.httpPort, '/api/calls', { authorization: 'Bearer new-token-dddddddddddddddddddd' })).status === 200, 10_000);
  t.equal((await call(c.httpPort, '/api/calls', { authorization: 'Bearer old-token-cccccccccccccccccccc' })).status, 401, 'the removed token no longer works');
});

void t.test('auth settings: flags, env, and clear errors', async (t) => {
  t.equal(resolveCollectorConfig({}, {}).auth, 'auto', 'no settings: auto (token outside a cluster, kubernetes inside)');
  t.equal(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_AUTH: 'none' }).auth, 'none');
  t.match(resolveCollectorConfig({}, { MESHTAP_COLLECTOR_AUTH_TOKEN_FILE: '/etc/t' }), { auth: 'token', authTokenFile: '/etc/t' });
  t.equal(resolveCollectorConfig({ auth: 'kubernetes' }, { MESHTAP_COLLECTOR_AUTH: 'none' }).auth, 'kubernetes', 'the flag wins');
  t.throws(() => resolveCollectorConfig({ auth: 'open' }, {}), { code: 'CLI_ERR_USAGE', message: /--auth must be kubernetes, token, none or auto, got "open"/ });
  t.throws(() => resolveCollectorConfig({ auth: 'none', 'auth-token-file': '/t' }, {}), { message: /--auth-token-file is for --auth token/ });
  const dir = tempDir(t);
  await t.rejects(
    startCollector(resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', auth: 'token', authTokenFile: join(dir, 'missing') })),
    { code: 'COL_ERR_AUTH_CONFIG', message: /cannot read the token file/ },
  );
  writeFileSync(join(dir, 'empty'), '\n# nothing\n');
  await t.rejects(
    startCollector(resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', auth: 'token', authTokenFile: join(dir, 'empty') })),
    { code: 'COL_ERR_AUTH_CONFIG', message: /holds no token/ },
  );
  // A token that could never be sent (two words) stops the start; the message names the line, never the token.
  for (const [text, message] of [
    ['# readers\nvalid-token-eeeeeeeeeeeeeeeee\ntok with space xxxxxxxxxx\n', /line 3 holds spaces or control characters: a token is one word/],
    ['tab\tseparated-token-ffffffffff\n', /line 1 holds spaces or control characters/],
  ] as const) {
    writeFileSync(join(dir, 'bad'), text);
    const err = await startCollector(resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', auth: 'token', authTokenFile: join(dir, 'bad') })).then(
      (c) => c.close({ force: true }).then(() => undefined),
      (e: unknown) => e as Error & { code?: string },
    );
    t.equal(err?.code, 'COL_ERR_AUTH_CONFIG', JSON.stringify(text));
    t.match(err?.message, message);
    t.notMatch(err?.message, /tok with|separated/, 'the token itself is not in the message');
  }
});

void t.test('a token shorter than 16 characters is taken, with a warning naming its line and never the token', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, '# test readers\nshort\nlong-enough-token-gggggggggg\n');
  const { c, logs } = await collectorWith(t, { auth: 'token', authTokenFile: tokenFile });
  t.equal((await call(c.httpPort, '/api/calls', { authorization: 'Bearer short' })).status, 200, 'the short token works');
  t.equal((await call(c.httpPort, '/api/calls', { authorization: 'Bearer long-enough-token-gggggggggg' })).status, 200);
  t.equal((await call(c.httpPort, '/api/calls', { authorization: 'Bearer shorT' })).status, 401);
  const warning = logs.find((l) => /"level":"warn".*shorter than 16 characters \(line 2\)/.test(l));
  t.ok(warning, 'warned at start, naming the line');
  t.notMatch(warning ?? '', /"short"|Bearer/, 'not the token');
  const quiet = join(dir, 'quiet');
  writeFileSync(quiet, 'long-enough-token-gggggggggg\n');
  const strong = await collectorWith(t, { auth: 'token', authTokenFile: quiet });
  t.notOk(strong.logs.some((l) => /shorter than/.test(l)), 'no warning for long tokens');
});

void t.test('meshtap collector with no auth settings is closed: it generates a 0600 token and says where', async (t) => {
  const home = tempDir(t);
  const child = spawn(process.execPath, [join(repo, 'bin/meshtap.ts'), 'collector', '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--store', 'memory'], {
    cwd: repo,
    env: { PATH: process.env.PATH, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor('the listening line', () => out.includes('collector listening'), 30_000);
  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const generated = lines.find((l) => l.msg === 'generated an API token');
  t.ok(generated, 'the token generation is logged');
  const tokenFile = generated!.tokenFile as string;
  t.equal(tokenFile, join(home, '.meshtap', 'collector-token'));
  t.equal(statSync(tokenFile).mode & 0o777, 0o600, 'the token file is 0600');
  const listening = lines.find((l) => l.msg === 'collector listening')!;
  t.equal(listening.auth, 'token');
  const token = readFileSync(tokenFile, 'utf8').trim();
  t.notOk(out.includes(token), 'the token itself is not logged');
  t.equal((await call(listening.httpPort as number, '/api/calls')).status, 401, 'closed by default');
  t.equal((await call(listening.httpPort as number, '/api/calls', { authorization: `Bearer ${token}` })).status, 200);
});

void t.test('--auth none is open, and warned about', async (t) => {
  const { c, logs } = await collectorWith(t, { auth: 'none' });
  t.equal((await call(c.httpPort, '/api/calls')).status, 200);
  t.ok(logs.some((l) => /"level":"warn".*the collector API is open/.test(l)), 'a warning at start');
});

void t.test('plaintext gRPC ingest is accepted, and warned about; an mTLS one is not warned about', async (t) => {
  const plain = await collectorWith(t, { auth: 'none' });
  t.equal(plain.c.ingestSecurity, 'plaintext');
  t.ok(plain.logs.some((l) => /"level":"warn".*gRPC ingest is plaintext.*--tls-cert-dir/.test(l)), 'a warning at start naming the fix');
  const dir = join(tempDir(t), 'collector-tls');
  await writeTlsDir(dir, issueWebhookCert(createRootCa({ trustDomain: 'cluster.local' }), { service: 'meshtap-collector', namespace: 'meshtap-system' }));
  const mtls = await collectorWith(t, { auth: 'none', tlsCertDir: dir });
  t.equal(mtls.c.ingestSecurity, 'mtls');
  t.notOk(mtls.logs.some((l) => /plaintext/.test(l)), 'no plaintext warning');
});

/** A stand-in API server: TokenReview and SubjectAccessReview with the API's own JSON shapes. */
async function fakeKubeApi(t: Test, users: Record<string, { username: string; groups: string[] }>, allowed: Record<string, string[]>) {
  const reviews = { token: 0, access: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const doc = JSON.parse(body || '{}') as any;
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST' && req.url?.startsWith('/apis/authentication.k8s.io/v1/tokenreviews')) {
        reviews.token++;
        const user = users[doc.spec.token as string];
        res.end(JSON.stringify({
          kind: 'TokenReview',
          apiVersion: 'authentication.k8s.io/v1',
          metadata: { creationTimestamp: null },
          spec: doc.spec,
          status: user ? { authenticated: true, user: { username: user.username, uid: `uid-${user.username}`, groups: user.groups }, audiences: ['https://kubernetes.default.svc'] } : { user: {}, error: 'invalid bearer token' },
        }));
        return;
      }
      if (req.method === 'POST' && req.url?.startsWith('/apis/authorization.k8s.io/v1/subjectaccessreviews')) {
        reviews.access++;
        const a = doc.spec.resourceAttributes;
        const ok = a.group === 'meshtap.io' && a.resource === 'calls' && a.verb === 'get' && (allowed[doc.spec.user] ?? []).includes(a.namespace ?? '*');
        res.end(JSON.stringify({
          kind: 'SubjectAccessReview',
          apiVersion: 'authorization.k8s.io/v1',
          metadata: { creationTimestamp: null },
          spec: doc.spec,
          status: ok ? { allowed: true, reason: 'RBAC: allowed by RoleBinding "calls-viewer"' } : { allowed: false },
        }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const dir = tempDir(t);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: test',
    'clusters:', '- name: test', '  cluster:', `    server: http://127.0.0.1:${port}`, '    insecure-skip-tls-verify: true',
    'users:', '- name: collector', '  user:', '    token: collector-sa-token',
    'contexts:', '- name: test', '  context:', '    cluster: test', '    user: collector',
  ].join('\n'));
  return { kubeconfig, reviews };
}

void t.test('kubernetes auth: TokenReview, then per-namespace visibility from SubjectAccessReviews', async (t) => {
  const api = await fakeKubeApi(
    t,
    { 'alice-token': { username: 'alice', groups: ['system:authenticated'] }, 'root-token': { username: 'admin', groups: ['system:masters'] } },
    { alice: ['shop'], admin: ['*'] },
  );
  const { c } = await collectorWith(t, { auth: 'kubernetes', kubeconfig: api.kubeconfig });
  const ids = async (token: string, path = '/api/calls') => {
    const r = await call(c.httpPort, path, { authorization: `Bearer ${token}` });
    t.equal(r.status, 200, `${path} as ${token}`);
    return (JSON.parse(r.body) as { calls: Array<{ id: string }> }).calls.map((x) => x.id).sort();
  };
  t.same(await ids('root-token'), ['call-1', 'call-2', 'call-3', 'call-4'], 'cluster-wide permission sees all');
  t.same(await ids('alice-token'), ['call-1', 'call-2'], 'shop viewer: calls with an end in shop (call-2 goes shop → payments)');
  t.equal((await call(c.httpPort, '/api/calls/call-3', { authorization: 'Bearer alice-token' })).status, 404, 'an invisible call does not exist for the viewer');
  t.equal((await call(c.httpPort, '/api/calls/call-2', { authorization: 'Bearer alice-token' })).status, 200);
  const map = JSON.parse((await call(c.httpPort, '/api/servicemap?since=99999d', { authorization: 'Bearer alice-token' })).body) as { edges: unknown[]; nodes?: Array<{ namespace?: string }> };
  t.ok(Array.isArray(map.edges), 'the service map answers');
  t.notMatch(JSON.stringify(map), /"ops"/, 'the map holds nothing from a namespace the viewer cannot see');
  const bad = await call(c.httpPort, '/api/calls', { authorization: 'Bearer stolen-token' });
  t.equal(bad.status, 401);
  t.match(JSON.parse(bad.body).error.message, /not valid for this cluster.*meshtap-viewer/);
  const before = { ...api.reviews };
  await ids('alice-token');
  t.same(api.reviews, before, 'decisions are cached: a second page costs no review');
});

void t.test('kubernetes auth: an unreachable API server answers 503, not open and not a crash', async (t) => {
  const dir = tempDir(t);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: x\n  cluster:\n    server: http://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: u\n');
  const { c } = await collectorWith(t, { auth: 'kubernetes', kubeconfig });
  const r = await call(c.httpPort, '/api/calls', { authorization: 'Bearer any' });
  t.equal(r.status, 503);
  t.equal(JSON.parse(r.body).error.code, 'COL_ERR_AUTH_UNAVAILABLE');
  t.equal((await call(c.httpPort, '/healthz')).status, 200);
});

void t.test('dashboard sessions: the token becomes an HttpOnly SameSite=Strict cookie', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, 'browser-token-eeeeeeeeeeeeeeeee\n');
  const { c } = await collectorWith(t, { auth: 'token', authTokenFile: tokenFile });
  t.equal((await call(c.httpPort, '/api/session', {}, 'POST')).status, 401, 'no session without the token');
  const opened = await call(c.httpPort, '/api/session', { authorization: 'Bearer browser-token-eeeeeeeeeeeeeeeee' }, 'POST');
  t.equal(opened.status, 200);
  const cookie = String(opened.headers['set-cookie']);
  t.match(cookie, /^meshtap_session=[A-Za-z0-9_-]{40,}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
  t.notMatch(cookie, /browser-token/, 'the cookie is not the token');
  const session = cookie.split(';')[0];
  t.equal((await call(c.httpPort, '/api/calls', { cookie: session })).status, 200, 'the cookie reads calls');
  t.equal((await call(c.httpPort, '/api/stream', { cookie: session })).status, 200, 'and the live stream');
  t.equal((await call(c.httpPort, '/api/calls', { cookie: 'meshtap_session=forged' })).status, 401, 'a made-up session is refused');
  t.equal((await call(c.httpPort, '/api/session', { cookie: session }, 'DELETE')).status, 200);
  t.equal((await call(c.httpPort, '/api/calls', { cookie: session })).status, 401, 'logged out');
});

void t.test('signing out ends the live streams the session opened, not only its later requests', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, 'browser-token-ffffffffffffffffff\n');
  const { c } = await collectorWith(t, { auth: 'token', authTokenFile: tokenFile });
  const open = async (): Promise<string> => String((await call(c.httpPort, '/api/session', { authorization: 'Bearer browser-token-ffffffffffffffffff' }, 'POST')).headers['set-cookie']).split(';')[0];
  const mine = await open();
  const other = await open();
  /** A stream held open: resolves `ended` when the collector ends it. */
  const stream = (headers: Record<string, string>) =>
    new Promise<{ ended: Promise<void>; stop: () => void }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: c.httpPort, path: '/api/stream', headers }, (res) => {
        t.equal(res.statusCode, 200);
        res.resume();
        resolve({ ended: new Promise((done) => res.on('close', () => done())), stop: () => res.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
  const a = await stream({ cookie: mine });
  const b = await stream({ cookie: other });
  const bearerStream = await stream({ authorization: 'Bearer browser-token-ffffffffffffffffff' });
  t.teardown(() => [a, b, bearerStream].forEach((s) => s.stop()));
  await waitFor('three streams', () => c.hub.clients().length === 3);
  let aEnded = false;
  void a.ended.then(() => (aEnded = true));
  t.equal((await call(c.httpPort, '/api/session', { cookie: mine }, 'DELETE')).status, 200);
  await waitFor('the signed-out session\'s stream to end', () => aEnded, 5000);
  t.equal(c.hub.clients().length, 2, 'the other session\'s stream and the bearer stream stay');
  t.equal((await call(c.httpPort, '/api/stream', { cookie: mine })).status, 401, 'and it cannot reopen');
});

void t.test('an API bound to loopback serves only loopback Host names (DNS rebinding)', async (t) => {
  const { c } = await collectorWith(t, { auth: 'none', httpHost: '127.0.0.1', host: '127.0.0.1' });
  t.equal((await call(c.httpPort, '/healthz', { host: `localhost:${c.httpPort}` })).status, 200);
  t.equal((await call(c.httpPort, '/healthz', { host: `127.0.0.1:${c.httpPort}` })).status, 200);
  const evil = await call(c.httpPort, '/api/calls', { host: `rebind.example:${c.httpPort}` });
  t.equal(evil.status, 403);
  t.equal(JSON.parse(evil.body).error.code, 'COL_ERR_HOST');
  // Only a name or address with an optional port: what follows a loopback name does not ride along.
  for (const host of [`localhost:80@rebind.example`, `127.0.0.1:${c.httpPort}/x`, `localhost:${c.httpPort}:1`, `[::1`, `localhost :80`]) {
    t.equal((await call(c.httpPort, '/healthz', { host })).status, 403, host);
  }
  t.equal((await call(c.httpPort, '/healthz', { host: `[::1]:${c.httpPort}` })).status, 200);
  t.equal((await call(c.httpPort, '/healthz', { host: 'LOCALHOST' })).status, 200);
});

void t.test('meshtap tap finds its credentials: explicit, the lab\'s for the lab\'s URL, else the kubeconfig user', async (t) => {
  const lab = () => ({ url: 'http://127.0.0.1:8080', token: 'lab-token' });
  const kube = async () => 'Bearer kube-user-token';
  const url = new URL('http://127.0.0.1:8080/');
  t.equal(await resolveAuthorization(url, { token: 'given', env: {}, lab, kubeconfigAuthorization: kube }), 'Bearer given');
  t.equal(await resolveAuthorization(url, { env: { MESHTAP_COLLECTOR_TOKEN: 'from-env' }, lab, kubeconfigAuthorization: kube }), 'Bearer from-env');
  t.equal(await resolveAuthorization(url, { env: {}, lab, kubeconfigAuthorization: kube }), 'Bearer lab-token');
  t.equal(await resolveAuthorization(new URL('http://127.0.0.1:9999/'), { env: {}, lab, kubeconfigAuthorization: kube }), 'Bearer kube-user-token', 'another collector: not the lab\'s token');
  t.equal(await resolveAuthorization(url, { env: {}, lab: () => undefined, kubeconfigAuthorization: async () => undefined }), undefined);
});
