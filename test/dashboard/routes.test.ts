/** registerDashboard: the page, its modules and vendor files, headers, and nothing else. */
import { createHash } from 'node:crypto';
import t from 'tap';
import Fastify from 'fastify';
import { registerDashboard } from '../../collector/dashboard/routes.ts';

async function app(options?: Parameters<typeof registerDashboard>[1]) {
  const a = Fastify({ logger: false });
  registerDashboard(a, options);
  a.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: { code: 'COL_ERR_NOT_FOUND', message: 'no route' } }));
  await a.ready();
  return a;
}

void t.test('the page carries an import map of hashed vendor URLs, and a CSP that allows exactly it', async (t) => {
  const a = await app();
  t.teardown(() => a.close());
  const page = await a.inject({ url: '/' });
  t.equal(page.statusCode, 200);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(page.headers['cache-control'], 'no-cache');
  const map = /<script type="importmap">(.*?)<\/script>/.exec(page.body)?.[1];
  t.ok(map, 'import map inlined');
  const imports = JSON.parse(map!).imports as Record<string, string>;
  t.same(Object.keys(imports).sort(), ['htm', 'preact', 'preact/hooks']);
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, `'sha256-${createHash('sha256').update(map!).digest('base64')}'`);
  t.match(csp, "default-src 'none'");
  t.match(csp, "connect-src 'self'");
  for (const url of Object.values(imports)) {
    t.match(url, /^\.\/vendor\/[a-z-]+\.[0-9a-f]{12}\.mjs$/);
    const res = await a.inject({ url: url.slice(1) });
    t.equal(res.statusCode, 200, url);
    t.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
    t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    t.equal(createHash('sha256').update(res.rawPayload).digest('hex').slice(0, 12), /\.([0-9a-f]{12})\.mjs$/.exec(url)![1], 'the URL names the content');
  }
});

void t.test('app modules and styles with their types; ETag revalidation answers 304', async (t) => {
  const a = await app();
  t.teardown(() => a.close());
  const js = await a.inject({ url: '/app/main.js' });
  t.equal(js.statusCode, 200);
  t.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  t.equal(js.headers['x-content-type-options'], 'nosniff');
  const etag = String(js.headers.etag);
  t.match(etag, /^"[\w-]+"$/);
  const again = await a.inject({ url: '/app/main.js', headers: { 'if-none-match': etag } });
  t.equal(again.statusCode, 304);
  t.equal(again.body, '');
  t.equal((await a.inject({ url: '/app.css' })).headers['content-type'], 'text/css; charset=utf-8');
  t.equal((await a.inject({ url: '/favicon.svg' })).headers['content-type'], 'image/svg+xml');
  t.equal((await a.inject({ url: '/index.html' })).statusCode, 200);
});

void t.test('only listed files: traversal, unknown names and source maps are 404 through the app handler', async (t) => {
  const a = await app();
  t.teardown(() => a.close());
  for (const url of [
    '/app/../routes.ts',
    '/app/%2e%2e/routes.ts',
    '/app/..%2f..%2fpackage.json',
    '/vendor/../../../package.json',
    '/vendor/preact.mjs',
    '/app/nope.js',
    '/app/',
    '/routes.ts',
    '/app/main.js/',
  ]) {
    const res = await a.inject({ url });
    t.equal(res.statusCode, 404, url);
    t.notMatch(res.body, /registerDashboard|"name": "meshtap"/, `${url} leaks nothing`);
  }
});

void t.test('under a prefix: redirect to the trailing slash, everything relative to it', async (t) => {
  const a = await app({ prefix: '/ui/' });
  t.teardown(() => a.close());
  const bare = await a.inject({ url: '/ui' });
  t.equal(bare.statusCode, 301);
  t.equal(bare.headers.location, '/ui/');
  t.equal((await a.inject({ url: '/ui/' })).statusCode, 200);
  t.equal((await a.inject({ url: '/ui/app/main.js' })).statusCode, 200);
  t.equal((await a.inject({ url: '/' })).statusCode, 404);
  t.throws(() => registerDashboard(Fastify(), { prefix: 'ui"><script>' }), { code: 'COL_ERR_DASHBOARD_ASSET' });
});

void t.test('a missing static directory fails at registration with a clear error', async (t) => {
  t.throws(() => registerDashboard(Fastify(), { staticDir: '/nonexistent-dashboard-dir' }), /nonexistent-dashboard-dir/);
});
