/**
 * Shop app `frontend`: what the shoppers (the load generator, the legacy client) call.
 *
 *   GET  /               → a small index of the shop's endpoints
 *   GET  /products       → gateway GET /api/products
 *   GET  /products/:id   → gateway GET /api/products/:id
 *   POST /login          → gateway POST /api/login
 *   POST /checkout       → gateway POST /api/checkout (forwards authorization and x-api-key)
 *
 * Every call to the gateway carries a `traceparent`: a child of the caller's, or a new trace.
 *
 * Env: PORT (8080), GATEWAY_URL (http://gateway.shop:8080), UPSTREAM_TIMEOUT_MS (5000).
 */
import { type AppRequest, callJson, childTraceparent, envInt, envUrl, loadConfig, serve } from './_common.ts';

const config = loadConfig('frontend', () => ({
  port: envInt('PORT', 8080, { min: 0, max: 65535 }),
  gateway: envUrl('GATEWAY_URL', 'http://gateway.shop:8080'),
  timeoutMs: envInt('UPSTREAM_TIMEOUT_MS', 5000, { min: 1, max: 60_000 }),
}));

async function toGateway(req: AppRequest, path: string, json?: unknown) {
  const headers = {
    traceparent: childTraceparent(req.trace),
    authorization: req.headers.authorization,
    'x-api-key': typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : undefined,
  };
  const r = await callJson(`${config.gateway}${path}`, { headers, json, timeoutMs: config.timeoutMs });
  return { status: r.status, body: r.body };
}

await serve({
  app: 'frontend',
  port: config.port,
  routes: [
    {
      method: 'GET',
      path: '/',
      handler: () => ({
        body: {
          shop: 'meshtap demo shop',
          endpoints: ['GET /products', 'GET /products/:id', 'POST /login {user,password}', 'POST /checkout {items,card} (authorization: Bearer)'],
        },
      }),
    },
    { method: 'GET', path: '/products', handler: (req) => toGateway(req, '/api/products') },
    { method: 'GET', path: '/products/:id', handler: (req) => toGateway(req, `/api/products/${encodeURIComponent(req.params.id)}`) },
    { method: 'POST', path: '/login', handler: (req) => toGateway(req, '/api/login', req.body ?? {}) },
    { method: 'POST', path: '/checkout', handler: (req) => toGateway(req, '/api/checkout', req.body ?? {}) },
  ],
});
