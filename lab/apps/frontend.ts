/**
 * Shop app `frontend`: what the shoppers (the load generator, the legacy client) call.
 *
 *   GET  /               → a small index of the shop's endpoints
 *   GET  /products       → gateway GET /api/products
 *   GET  /products/:id   → gateway GET /api/products/:id
 *   POST /login          → gateway POST /api/login
 *   POST /checkout       → gateway POST /api/checkout (forwards authorization and x-api-key)
 *   GET  /orders/:id     → gateway GET /api/orders/:id (the caller's own order; authorization)
 *   GET  /feed           → a WebSocket (the `ws` package): order status as text messages,
 *                          `{"order": id, "status": "paid"}` for every order placed through
 *                          this frontend, then `{"order": id, "status": "shipped"}`
 *                          FEED_SHIP_DELAY_MS later; a ping every FEED_PING_S seconds
 *
 * Every call to the gateway carries a `traceparent`: a child of the caller's, or a new trace.
 *
 * Env: PORT (8080), GATEWAY_URL (http://gateway.shop:8080), UPSTREAM_TIMEOUT_MS (5000),
 * FEED_SHIP_DELAY_MS (1500), FEED_PING_S (15).
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { type AppRequest, callJson, childTraceparent, envInt, envUrl, isRecord, loadConfig, log, serve } from './_common.ts';

const config = loadConfig('frontend', () => ({
  port: envInt('PORT', 8080, { min: 0, max: 65535 }),
  gateway: envUrl('GATEWAY_URL', 'http://gateway.shop:8080'),
  timeoutMs: envInt('UPSTREAM_TIMEOUT_MS', 5000, { min: 1, max: 60_000 }),
  shipDelayMs: envInt('FEED_SHIP_DELAY_MS', 1500, { min: 0, max: 600_000 }),
  pingS: envInt('FEED_PING_S', 15, { min: 1, max: 3600 }),
}));

// ---------------------------------------------------------------------------------------------
// The order feed

const feed = new WebSocketServer({ noServer: true });
const timers = new Set<NodeJS.Timeout>();
let sent = 0;

function broadcast(message: { order: unknown; status: 'paid' | 'shipped' }): void {
  const text = JSON.stringify(message);
  for (const client of feed.clients) {
    if (client.readyState === client.OPEN) {
      client.send(text);
      sent++;
    }
  }
}

function orderPlaced(order: unknown): void {
  broadcast({ order, status: 'paid' });
  const timer = setTimeout(() => {
    timers.delete(timer);
    broadcast({ order, status: 'shipped' });
  }, config.shipDelayMs);
  timers.add(timer);
}

const alive = new WeakMap<WebSocket, boolean>();
feed.on('connection', (ws, req) => {
  alive.set(ws, true);
  ws.on('pong', () => alive.set(ws, true));
  ws.on('error', () => {});
  ws.on('close', (code) => log('frontend', { msg: 'feed client left', code, clients: feed.clients.size }));
  log('frontend', { msg: 'feed client joined', from: req.socket.remoteAddress, clients: feed.clients.size });
});
// Pings keep idle connections open and find the dead ones.
const pinger = setInterval(() => {
  for (const ws of feed.clients) {
    if (alive.get(ws) === false) {
      ws.terminate();
      continue;
    }
    alive.set(ws, false);
    ws.ping();
  }
}, config.pingS * 1000);
pinger.unref();

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
  onUpgrade: (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (path !== '/feed' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      log('frontend', { method: req.method, path, status: 404, upgrade: req.headers.upgrade ?? null });
      return;
    }
    feed.handleUpgrade(req, socket, head, (ws) => {
      log('frontend', { method: req.method, path, route: '/feed', status: 101 });
      feed.emit('connection', ws, req);
    });
  },
  onClosing: () => {
    clearInterval(pinger);
    for (const timer of timers) clearTimeout(timer);
    for (const ws of feed.clients) ws.close(1001, 'frontend stopping');
    setTimeout(() => {
      for (const ws of feed.clients) ws.terminate();
    }, 1000).unref();
    log('frontend', { msg: 'feed closed', messagesSent: sent });
  },
  routes: [
    {
      method: 'GET',
      path: '/',
      handler: () => ({
        body: {
          shop: 'meshtap demo shop',
          endpoints: ['GET /products', 'GET /products/:id', 'POST /login {user,password}', 'POST /checkout {items,card} (authorization: Bearer)', 'GET /orders/:id (authorization: Bearer)', 'GET /feed (WebSocket: order status)'],
        },
      }),
    },
    { method: 'GET', path: '/products', handler: (req) => toGateway(req, '/api/products') },
    { method: 'GET', path: '/products/:id', handler: (req) => toGateway(req, `/api/products/${encodeURIComponent(req.params.id)}`) },
    { method: 'POST', path: '/login', handler: (req) => toGateway(req, '/api/login', req.body ?? {}) },
    { method: 'GET', path: '/orders/:id', handler: (req) => toGateway(req, `/api/orders/${encodeURIComponent(req.params.id)}`) },
    {
      method: 'POST',
      path: '/checkout',
      handler: async (req) => {
        const r = await toGateway(req, '/api/checkout', req.body ?? {});
        if (r.status === 201 && isRecord(r.body) && r.body.orderId !== undefined) orderPlaced(r.body.orderId);
        return r;
      },
    },
  ],
});
