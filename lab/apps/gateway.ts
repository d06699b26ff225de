/**
 * Shop app `gateway`: the API in front of the services.
 *
 *   POST /api/login          → auth POST /login
 *   GET  /api/products       → catalog GET /products
 *   GET  /api/products/:id   → catalog GET /products/:id
 *   POST /api/checkout       → auth GET /verify (the caller's bearer JWT), catalog (prices),
 *                              payment POST /charge, orders POST /orders → 201 { orderId, … }
 *
 * Trace context is propagated to auth, payment and orders but deliberately NOT to catalog, so
 * meshtap shows both a joined trace and a hop that starts a trace of its own.
 *
 * Env: PORT (8080), AUTH_URL (http://auth.shop:8080), CATALOG_URL (http://catalog.shop),
 * PAYMENT_URL (http://payment.shop:8080), ORDERS_URL (http://orders.shop:8080),
 * UPSTREAM_TIMEOUT_MS (3000).
 */
import { type AppRequest, type Reply, type UpstreamReply, HttpError, callJson, childTraceparent, envInt, envUrl, isRecord, loadConfig, serve } from './_common.ts';

const config = loadConfig('gateway', () => ({
  port: envInt('PORT', 8080, { min: 0, max: 65535 }),
  auth: envUrl('AUTH_URL', 'http://auth.shop:8080'),
  catalog: envUrl('CATALOG_URL', 'http://catalog.shop'),
  payment: envUrl('PAYMENT_URL', 'http://payment.shop:8080'),
  orders: envUrl('ORDERS_URL', 'http://orders.shop:8080'),
  timeoutMs: envInt('UPSTREAM_TIMEOUT_MS', 3000, { min: 1, max: 60_000 }),
}));

const relay = (r: UpstreamReply): Reply => ({ status: r.status, body: r.body });

/** Headers for a hop that carries the trace on. */
const traced = (req: AppRequest, extra: Record<string, string | undefined> = {}) => ({ traceparent: childTraceparent(req.trace), ...extra });

interface LineItem {
  id: number;
  qty: number;
}

function lineItems(body: unknown): LineItem[] {
  const items = isRecord(body) ? body.items : undefined;
  if (!Array.isArray(items) || items.length === 0) throw new HttpError(400, 'expected items: [{ id, qty }]');
  return items.map((it) => {
    if (!isRecord(it) || !Number.isInteger(it.id) || !Number.isInteger(it.qty ?? 1) || ((it.qty as number | undefined) ?? 1) < 1) {
      throw new HttpError(400, 'each item needs an integer id and a positive qty');
    }
    return { id: it.id as number, qty: (it.qty as number | undefined) ?? 1 };
  });
}

async function checkout(req: AppRequest): Promise<Reply> {
  const opts = { timeoutMs: config.timeoutMs };
  const verified = await callJson(`${config.auth}/verify`, { ...opts, headers: traced(req, { authorization: req.headers.authorization }) });
  if (verified.status !== 200 || !isRecord(verified.body)) return relay(verified);
  const user = String(verified.body.user);

  const items = lineItems(req.body);
  const card = isRecord(req.body) ? req.body.card : undefined;
  if (!isRecord(card) || typeof card.number !== 'string') throw new HttpError(400, 'expected card: { number }');

  // Prices come from the catalog, never from the client; no traceparent on this hop.
  let amount = 0;
  for (const item of items) {
    const product = await callJson(`${config.catalog}/products/${item.id}`, opts);
    if (product.status === 404) throw new HttpError(400, `unknown product ${item.id}`);
    if (product.status !== 200 || !isRecord(product.body)) throw new HttpError(502, 'catalog failed', { upstreamStatus: product.status });
    amount += Number(product.body.priceCents) * item.qty;
  }

  const charge = await callJson(`${config.payment}/charge`, { ...opts, headers: traced(req), json: { card, amount, currency: 'EUR', reference: `cart-${user}-${Date.now()}` } });
  if (charge.status >= 500) throw new HttpError(502, 'payment failed', { upstreamStatus: charge.status, retryable: true });
  if (charge.status !== 201 || !isRecord(charge.body)) return relay(charge);

  const order = await callJson(`${config.orders}/orders`, { ...opts, headers: traced(req), json: { user, items, amount, chargeId: charge.body.chargeId } });
  if (order.status !== 201 || !isRecord(order.body)) throw new HttpError(502, 'orders failed', { upstreamStatus: order.status });
  return { status: 201, body: { orderId: order.body.id, chargeId: charge.body.chargeId, amount, currency: 'EUR', user } };
}

await serve({
  app: 'gateway',
  port: config.port,
  routes: [
    {
      method: 'POST',
      path: '/api/login',
      handler: async (req) => relay(await callJson(`${config.auth}/login`, { timeoutMs: config.timeoutMs, headers: traced(req), json: req.body ?? {} })),
    },
    { method: 'GET', path: '/api/products', handler: async () => relay(await callJson(`${config.catalog}/products`, { timeoutMs: config.timeoutMs })) },
    {
      method: 'GET',
      path: '/api/products/:id',
      handler: async ({ params }) => relay(await callJson(`${config.catalog}/products/${encodeURIComponent(params.id)}`, { timeoutMs: config.timeoutMs })),
    },
    { method: 'POST', path: '/api/checkout', handler: checkout },
  ],
});
