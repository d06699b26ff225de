/**
 * Shop app `gateway`: the API in front of the services.
 *
 *   POST /api/login          → auth POST /login
 *   GET  /api/products       → catalog GET /products
 *   GET  /api/products/:id   → catalog GET /products/:id
 *   POST /api/checkout       → auth GET /verify (the caller's bearer JWT), catalog (prices),
 *                              inventory Reserve (gRPC, one call per line item),
 *                              payment GET /limits (HTTP/2 h2c), payment POST /charge,
 *                              orders POST /orders → 201 { orderId, … }
 *   GET  /api/orders/:id     → auth GET /verify, orders GET /orders/:id (404 unless it is the
 *                              caller's own order)
 *
 * Every INVENTORY_WATCH_EVERY-th checkout also opens an inventory WatchStock stream for its
 * first item, in the background (the checkout does not wait for it).
 *
 * The inventory and the limits are advisory: a sku the inventory does not stock (NOT_FOUND)
 * is sold anyway, and an inventory or h2c listener that is down, slow or wrong is logged and
 * skipped, never a failed checkout. Only a cart over the payment limit is refused (402).
 *
 * Trace context is propagated to auth, inventory (gRPC metadata), payment (both listeners)
 * and orders but deliberately NOT to catalog, so meshtap shows both a joined trace and a hop
 * that starts a trace of its own.
 *
 * Env: PORT (8080), AUTH_URL (http://auth.shop:8080), CATALOG_URL (http://catalog.shop),
 * PAYMENT_URL (http://payment.shop:8080), PAYMENT_H2_URL (http://payment.shop:8443; "off"
 * skips the limits), ORDERS_URL (http://orders.shop:8080), INVENTORY_ADDR
 * (inventory.shop:50051; "off" skips the inventory), INVENTORY_TIMEOUT_MS (1000),
 * INVENTORY_WATCH_EVERY (20), PAYMENT_H2_TIMEOUT_MS (1000), UPSTREAM_TIMEOUT_MS (3000).
 */
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { type AppRequest, type Reply, type UpstreamReply, HttpError, callJson, childTraceparent, envHostPort, envInt, envString, envUrl, isRecord, loadConfig, log, serve } from './_common.ts';
import { loadInventory, type Reservation, type StockLevel } from './_inventory-proto.ts';

const config = loadConfig('gateway', () => ({
  port: envInt('PORT', 8080, { min: 0, max: 65535 }),
  auth: envUrl('AUTH_URL', 'http://auth.shop:8080'),
  catalog: envUrl('CATALOG_URL', 'http://catalog.shop'),
  payment: envUrl('PAYMENT_URL', 'http://payment.shop:8080'),
  orders: envUrl('ORDERS_URL', 'http://orders.shop:8080'),
  paymentH2: envString('PAYMENT_H2_URL', '') === 'off' ? undefined : envUrl('PAYMENT_H2_URL', 'http://payment.shop:8443'),
  inventory: envString('INVENTORY_ADDR', '') === 'off' ? undefined : (envHostPort('INVENTORY_ADDR') ?? { host: 'inventory.shop', port: 50051 }),
  inventoryTimeoutMs: envInt('INVENTORY_TIMEOUT_MS', 1000, { min: 1, max: 60_000 }),
  watchEvery: envInt('INVENTORY_WATCH_EVERY', 20, { min: 1, max: 1_000_000 }),
  limitsTimeoutMs: envInt('PAYMENT_H2_TIMEOUT_MS', 1000, { min: 1, max: 60_000 }),
  timeoutMs: envInt('UPSTREAM_TIMEOUT_MS', 3000, { min: 1, max: 60_000 }),
}));

/** Logs a degraded dependency once per change of state, not once per checkout. */
const degraded = new Map<string, string>();
function note(what: string, problem: string | undefined): void {
  if (degraded.get(what) === problem) return;
  if (problem === undefined) {
    degraded.delete(what);
    log('gateway', { msg: `${what} is back` });
  } else {
    degraded.set(what, problem);
    log('gateway', { level: 'warn', msg: `${what}: ${problem} (checkouts go on without it)` });
  }
}

// ---------------------------------------------------------------------------------------------
// Inventory over gRPC (a real @grpc/grpc-js client; one channel, calls multiplexed on it)

const { Inventory } = loadInventory();
// Reconnects are retried within seconds: grpc-js's own backoff grows to 120 s, so an inventory
// that came up late (pods start in any order, slowly on a busy machine) could stay unreached for
// minutes while every Reserve failed fast with UNAVAILABLE.
const RECONNECT = { 'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 2000 };
const inventory = config.inventory ? new Inventory(`${config.inventory.host}:${config.inventory.port}`, grpc.credentials.createInsecure(), RECONNECT) : undefined;
const sku = (productId: number) => `sku-${productId}`;

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;

interface ReserveOutcome {
  sku: string;
  reserved: boolean;
  remaining?: number;
  code?: string;
}

function reserve(item: LineItem, traceparent: string): Promise<ReserveOutcome> {
  const s = sku(item.id);
  if (!inventory) return Promise.resolve({ sku: s, reserved: false, code: 'SKIPPED' });
  const md = new grpc.Metadata();
  md.set('traceparent', traceparent);
  const call = (inventory as unknown as { Reserve: Unary<{ sku: string; quantity: number }, Reservation> }).Reserve.bind(inventory);
  return new Promise((resolve) => {
    call({ sku: s, quantity: item.qty }, md, { deadline: Date.now() + config.inventoryTimeoutMs }, (err, res) => {
      if (!err && res) {
        note('inventory', undefined);
        resolve({ sku: s, reserved: true, remaining: res.remaining });
      } else if (err?.code === grpc.status.NOT_FOUND) {
        // Not stocked (made to order): sold anyway.
        note('inventory', undefined);
        resolve({ sku: s, reserved: false, code: 'NOT_FOUND' });
      } else {
        note('inventory', `Reserve failed: ${grpc.status[err?.code ?? grpc.status.UNKNOWN]} ${err?.details ?? ''}`.trim());
        resolve({ sku: s, reserved: false, code: grpc.status[err?.code ?? grpc.status.UNKNOWN] });
      }
    });
  });
}

/** A server stream read to its end in the background; errors are logged, never thrown. */
function watchStock(productId: number, traceparent: string): void {
  if (!inventory) return;
  const md = new grpc.Metadata();
  md.set('traceparent', traceparent);
  const started = performance.now();
  const stream = (inventory as unknown as { WatchStock: (req: { sku: string }, md: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<StockLevel> }).WatchStock(
    { sku: sku(productId) },
    md,
    { deadline: Date.now() + 5000 },
  );
  const levels: number[] = [];
  stream.on('data', (m: StockLevel) => levels.push(m.level));
  stream.on('error', (err: grpc.ServiceError) => log('gateway', { msg: 'WatchStock failed', sku: sku(productId), code: grpc.status[err.code], messages: levels.length }));
  stream.on('end', () => log('gateway', { msg: 'WatchStock done', sku: sku(productId), messages: levels.length, levels, ms: Math.round(performance.now() - started) }));
}

// ---------------------------------------------------------------------------------------------
// Payment limits over HTTP/2 cleartext (node:http2; one session, a stream per request)

let h2: http2.ClientHttp2Session | undefined;

function h2Session(): http2.ClientHttp2Session {
  if (h2 && !h2.closed && !h2.destroyed) return h2;
  const session = http2.connect(config.paymentH2!);
  session.on('error', () => {});
  // A session the server closes (GOAWAY) or that fails is replaced on the next request.
  const forget = () => {
    if (h2 === session) h2 = undefined;
  };
  session.on('close', forget);
  session.on('goaway', forget);
  session.unref();
  h2 = session;
  return session;
}

/** payment's GET /limits, or undefined (logged) when the h2c listener does not answer well. */
function paymentLimits(traceparent: string): Promise<{ maxAmountCents: number } | undefined> {
  if (!config.paymentH2) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let done = false;
    const finish = (value: { maxAmountCents: number } | undefined, problem?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      note('payment limits over h2c', problem);
      resolve(value);
    };
    const timer = setTimeout(() => {
      stream?.close(http2.constants.NGHTTP2_CANCEL);
      // A connection that never answered is not reused.
      h2?.destroy();
      finish(undefined, `no answer within ${config.limitsTimeoutMs} ms`);
    }, config.limitsTimeoutMs);
    let stream: http2.ClientHttp2Stream | undefined;
    try {
      stream = h2Session().request({ ':method': 'GET', ':path': '/limits', accept: 'application/json', traceparent });
    } catch (err) {
      finish(undefined, (err as Error).message);
      return;
    }
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => finish(undefined, err.message));
    stream.on('close', () => {
      if (status !== 200) return finish(undefined, status === 0 ? 'stream closed without an answer' : `status ${status}`);
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (isRecord(body) && typeof body.maxAmountCents === 'number') return finish({ maxAmountCents: body.maxAmountCents });
      } catch {
        // fall through
      }
      finish(undefined, 'unexpected answer');
    });
  });
}

let checkouts = 0;

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

  // Stock, over gRPC: one Reserve per line item, concurrently on one connection.
  const reservations = await Promise.all(items.map((item) => reserve(item, childTraceparent(req.trace))));
  if (++checkouts % config.watchEvery === 0) watchStock(items[0].id, childTraceparent(req.trace));

  // The payment's limits, over h2c, before charging.
  const limits = await paymentLimits(childTraceparent(req.trace));
  if (limits && amount > limits.maxAmountCents) throw new HttpError(402, 'amount over the payment limit', { amount, maxAmountCents: limits.maxAmountCents });

  const charge = await callJson(`${config.payment}/charge`, { ...opts, headers: traced(req), json: { card, amount, currency: 'EUR', reference: `cart-${user}-${Date.now()}` } });
  if (charge.status >= 500) throw new HttpError(502, 'payment failed', { upstreamStatus: charge.status, retryable: true });
  if (charge.status !== 201 || !isRecord(charge.body)) return relay(charge);

  const order = await callJson(`${config.orders}/orders`, { ...opts, headers: traced(req), json: { user, items, amount, chargeId: charge.body.chargeId } });
  if (order.status !== 201 || !isRecord(order.body)) throw new HttpError(502, 'orders failed', { upstreamStatus: order.status });
  return {
    status: 201,
    body: {
      orderId: order.body.id,
      chargeId: charge.body.chargeId,
      amount,
      currency: 'EUR',
      user,
      reserved: reservations.filter((r) => r.reserved).map((r) => r.sku),
      notStocked: reservations.filter((r) => r.code === 'NOT_FOUND').map((r) => r.sku),
      limitsChecked: limits !== undefined,
    },
  };
}

async function orderOf(req: AppRequest): Promise<Reply> {
  const opts = { timeoutMs: config.timeoutMs };
  const verified = await callJson(`${config.auth}/verify`, { ...opts, headers: traced(req, { authorization: req.headers.authorization }) });
  if (verified.status !== 200 || !isRecord(verified.body)) return relay(verified);
  const order = await callJson(`${config.orders}/orders/${encodeURIComponent(req.params.id)}`, { ...opts, headers: traced(req) });
  // Someone else's order is as unknown as a missing one.
  if (order.status === 200 && isRecord(order.body) && order.body.user !== verified.body.user) throw new HttpError(404, `no order ${req.params.id}`);
  return relay(order);
}

await serve({
  app: 'gateway',
  port: config.port,
  onShutdown: () => {
    inventory?.close();
    h2?.close();
  },
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
    { method: 'GET', path: '/api/orders/:id', handler: orderOf },
  ],
});
