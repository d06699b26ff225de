/**
 * The shop's demo apps as real processes on loopback (pinned Node, ports chosen by the OS,
 * upstream URLs pointing at each other), plus a consistency check of the shop scenario YAML.
 * The inventory is a real gRPC server (called with @grpc/grpc-js, reflection included), payment's
 * h2c listener is called with node:http2, the frontend's feed with `ws`, and orders is checked
 * against a real PostgreSQL 15 (lab/apps/postgres.ts) when Debian's server is installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { jwtVerify } from 'jose';
import pg from 'pg';
import t from 'tap';
import WebSocket from 'ws';
import { parseAllDocuments } from 'yaml';
import { loadInventory } from '../../lab/apps/_inventory-proto.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const JWT_SECRET = 'test-secret-for-the-shop-apps-0123456789';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

// ---------------------------------------------------------------------------------------------
// Processes

type LogLine = Record<string, unknown>;

interface App {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  lines: LogLine[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: App[] = [];

t.teardown(() => {
  // Safety net: anything a failed test left behind.
  for (const app of started) if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
});

function spawnApp(name: string, env: Record<string, string>, options: { uid?: number } = {}): App {
  const argv = [process.execPath, join('lab/apps', `${name}.ts`)];
  // As a pod's container runs: another user (PostgreSQL will not run as root).
  const [cmd, ...args] = options.uid !== undefined ? ['setpriv', `--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups', ...argv] : argv;
  const child = spawn(cmd, args, {
    cwd: REPO,
    // A clean environment: only what the app is given (like a pod), and not the test runner's hooks.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app: App = {
    name,
    child,
    port: 0,
    url: '',
    lines: [],
    stderr: [],
    exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        app.lines.push(JSON.parse(line) as LogLine);
      } catch {
        app.lines.push({ raw: line });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => app.stderr.push(chunk));
  started.push(app);
  return app;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const logged = (app: App, pred: (l: LogLine) => boolean) => app.lines.find(pred);

/** Starts a server app and waits for its "listening" line. */
async function startServer(name: string, env: Record<string, string> = {}): Promise<App> {
  const app = spawnApp(name, env);
  const line = await waitFor(`${name} to listen (stderr: ${app.stderr.join('')})`, () => logged(app, (l) => l.msg === 'listening'));
  app.port = Number(line.port);
  app.url = `http://127.0.0.1:${app.port}`;
  return app;
}

/** payment with its h2c listener on a free port too; `h2Url` is that listener. */
async function startPayment(env: Record<string, string> = {}): Promise<App & { h2Url: string }> {
  const app = await startServer('payment', { PAYMENT_H2_PORT: '0', ...env });
  const line = logged(app, (l) => l.msg === 'listening')!;
  return Object.assign(app, { h2Url: `http://127.0.0.1:${Number(line.h2cPort)}` });
}

/** The inventory gRPC server on a free port; `url` is its `host:port` target. */
async function startInventory(env: Record<string, string> = {}): Promise<App> {
  const app = spawnApp('inventory', { GRPC_PORT: '0', ...env });
  const line = await waitFor(`inventory to listen (stderr: ${app.stderr.join('')})`, () => logged(app, (l) => l.msg === 'listening'));
  app.port = Number(line.port);
  app.url = `127.0.0.1:${app.port}`;
  return app;
}

/** A gateway wired to the given upstreams (defaults: the shared stack). */
function gatewayEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AUTH_URL: auth.url,
    CATALOG_URL: catalog.url,
    PAYMENT_URL: payment.url,
    PAYMENT_H2_URL: payment.h2Url,
    ORDERS_URL: orders.url,
    INVENTORY_ADDR: inventory.url,
    ...overrides,
  };
}

async function stop(app: App): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGTERM');
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${app.name} did not exit within 15 s of SIGTERM`)), 15_000).unref());
  return Promise.race([app.exit, timeout]);
}

async function http(url: string, init: { method?: string; headers?: Record<string, string>; json?: unknown } = {}): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
    headers: { ...(init.json === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, ms: performance.now() - t0 };
}

async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// The stack

let auth: App, catalog: App, payment: App & { h2Url: string }, orders: App, inventory: App, gateway: App, frontend: App;

t.before(async () => {
  auth = await startServer('auth', { JWT_SECRET });
  catalog = await startServer('catalog');
  payment = await startPayment({ PAYMENT_FAIL_RATE: '0', PAYMENT_SLOW_RATE: '0' });
  orders = await startServer('orders');
  inventory = await startInventory({ WATCH_INTERVAL_MS: '20' });
  gateway = await startServer('gateway', gatewayEnv());
  frontend = await startServer('frontend', { GATEWAY_URL: gateway.url, FEED_SHIP_DELAY_MS: '50' });
});

void t.test('apps run on the pinned Node', async (t) => {
  t.ok(Number(process.versions.node.split('.')[0]) >= 24, `node ${process.version}`);
});

const card = { number: '4111 1111 1111 1111', expiry: '12/30', holder: 'alice' };

void t.test('every server answers /healthz', async (t) => {
  for (const app of [auth, catalog, payment, orders, gateway, frontend]) {
    const r = await http(`${app.url}/healthz`);
    t.equal(r.status, 200, `${app.name} healthz`);
    t.match(r.body, { status: 'ok', app: app.name });
  }
});

void t.test('product listing through frontend → gateway → catalog', async (t) => {
  const index = await http(`${frontend.url}/`);
  t.equal(index.status, 200);
  t.match(index.body, { shop: String });

  const list = await http(`${frontend.url}/products`);
  t.equal(list.status, 200);
  t.equal(list.body.products.length, 5);
  t.equal(list.body.source, 'memory', 'no REDIS_ADDR: served from memory');
  t.ok(logged(catalog, (l) => typeof l.msg === 'string' && l.msg.includes('in-memory catalog')), 'catalog logs that it uses memory');

  const one = await http(`${frontend.url}/products/3`);
  t.equal(one.status, 200);
  t.match(one.body, { id: 3, name: String, priceCents: Number });

  t.equal((await http(`${frontend.url}/products/999`)).status, 404, 'unknown product → 404 relayed');
  t.equal((await http(`${frontend.url}/products/abc`)).status, 404, 'non-numeric id → 404');
  t.equal((await http(`${frontend.url}/nope`)).status, 404, 'unknown route → 404');
  t.equal((await http(`${frontend.url}/checkout`)).status, 405, 'GET on a POST route → 405');

  // No traceparent sent: the frontend made one, the gateway saw it, the catalog did not.
  const gw = await waitFor('gateway log', () => logged(gateway, (l) => l.route === '/api/products'));
  t.match(gw.trace, /^[0-9a-f]{32}$/, 'frontend created a trace for the gateway hop');
  const cat = await waitFor('catalog log', () => logged(catalog, (l) => l.route === '/products'));
  t.equal(cat.trace, null, 'gateway does not propagate traceparent to catalog');
  t.match(cat, { method: 'GET', path: '/products', status: 200, ms: Number }, 'one log line per request');
});

void t.test('login, JWT and a checkout end to end', async (t) => {
  const wrong = await http(`${frontend.url}/login`, { json: { user: 'alice', password: 'nope' } });
  t.equal(wrong.status, 401, 'wrong password → 401');
  t.equal((await http(`${frontend.url}/login`, { json: { user: 'alice' } })).status, 400, 'malformed login → 400');

  const login = await http(`${frontend.url}/login`, { json: { user: 'alice', password: 'wonderland' } });
  t.equal(login.status, 200);
  const token = login.body.token as string;
  t.match(token, /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/, 'a compact JWS');
  const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(JWT_SECRET), { issuer: 'meshtap-lab-auth', audience: 'meshtap-shop' });
  t.equal(protectedHeader.alg, 'HS256');
  t.equal(payload.sub, 'alice');
  t.ok(payload.exp! > Date.now() / 1000, 'not expired');

  const verify = await http(`${auth.url}/verify`, { headers: { authorization: `Bearer ${token}` } });
  t.match(verify, { status: 200, body: { user: 'alice' } });
  t.equal((await http(`${auth.url}/verify`, { headers: { authorization: `Bearer ${token}x` } })).status, 401, 'tampered token rejected');
  t.equal((await http(`${auth.url}/verify`)).status, 401, 'missing token rejected');

  const cart = { items: [{ id: 1, qty: 2 }, { id: 4, qty: 1 }], card };
  t.equal((await http(`${frontend.url}/checkout`, { json: cart })).status, 401, 'checkout without a token → 401');
  t.equal((await http(`${frontend.url}/checkout`, { json: cart, headers: { authorization: 'Bearer not-a-jwt' } })).status, 401, 'bad token → 401');
  t.equal(
    (await http(`${frontend.url}/checkout`, { json: { items: [{ id: 99, qty: 1 }], card }, headers: { authorization: `Bearer ${token}` } })).status,
    400,
    'unknown product in the cart → 400',
  );

  const traceparent = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
  const headers = { authorization: `Bearer ${token}`, 'x-api-key': 'test-api-key', traceparent };
  const done = await http(`${frontend.url}/checkout`, { json: cart, headers });
  t.equal(done.status, 201, JSON.stringify(done.body));
  t.match(done.body, { orderId: Number, chargeId: /^ch_\d+$/, amount: 2 * 1299 + 499, currency: 'EUR', user: 'alice' });
  t.same(done.body.reserved, ['sku-1', 'sku-4'], 'both items reserved over gRPC');
  t.equal(done.body.limitsChecked, true, 'the payment limits were asked over h2c');
  t.ok(
    await waitFor('the inventory Reserve lines', () => inventory.lines.filter((l) => l.rpc === 'Reserve' && l.code === 'OK').length >= 2 || undefined),
    'inventory served Reserve',
  );
  const limitsLine = await waitFor('payment h2c log', () => logged(payment, (l) => l.proto === 'h2c' && l.path === '/limits' && l.trace === TRACE_ID));
  t.match(limitsLine, { method: 'GET', status: 200 }, 'the gateway asked payment /limits over HTTP/2, in the trace');
  t.equal(orders.lines.find((l) => l.level === 'warn')?.msg, 'PG_ADDR is not set: orders are kept in memory', 'orders warns it uses memory');

  const order = await http(`${orders.url}/orders/${done.body.orderId}`);
  t.equal(order.status, 200);
  t.match(order.body, { id: done.body.orderId, user: 'alice', amount: 3097, chargeId: done.body.chargeId, items: [{ id: 1, qty: 2 }, { id: 4, qty: 1 }], storage: 'memory' });
  t.equal((await http(`${orders.url}/orders/424242`)).status, 404, 'unknown order → 404');
  const mine = await http(`${frontend.url}/orders/${done.body.orderId}`, { headers: { authorization: `Bearer ${token}` } });
  t.match(mine, { status: 200, body: { id: done.body.orderId, user: 'alice' } }, 'the buyer looks the order up through frontend → gateway → orders');
  const bob = (await http(`${auth.url}/login`, { json: { user: 'bob', password: 'builder' } })).body.token as string;
  t.equal((await http(`${frontend.url}/orders/${done.body.orderId}`, { headers: { authorization: `Bearer ${bob}` } })).status, 404, 'someone else\'s order → 404');
  t.equal((await http(`${frontend.url}/orders/${done.body.orderId}`)).status, 401, 'no token → 401');

  // The trace went frontend → gateway → auth, payment, orders; not to catalog.
  for (const [app, route] of [
    [frontend, '/checkout'],
    [gateway, '/api/checkout'],
    [auth, '/verify'],
    [payment, '/charge'],
    [orders, '/orders'],
  ] as const) {
    const line = await waitFor(`${app.name} ${route} log`, () => logged(app, (l) => l.route === route && l.trace === TRACE_ID));
    t.equal(line.status, app === auth ? 200 : 201, `${app.name} joined the trace`);
  }
  t.notOk(logged(catalog, (l) => l.trace === TRACE_ID), 'catalog never saw the trace');
  t.ok(logged(catalog, (l) => l.route === '/products/:id' && l.path === '/products/4'), 'gateway priced the cart from the catalog');
});

void t.test('payment honours forced outcomes and is repeatable', async (t) => {
  const charge = { card, amount: 1000 };
  const failing = await startPayment({ PAYMENT_FAIL_RATE: '1', PAYMENT_SLOW_RATE: '0' });
  const slow = await startPayment({ PAYMENT_FAIL_RATE: '0', PAYMENT_SLOW_RATE: '1', PAYMENT_SLOW_MIN_MS: '1500', PAYMENT_SLOW_MAX_MS: '1600' });
  const a = await startPayment({ PAYMENT_FAIL_RATE: '0.5', PAYMENT_SLOW_RATE: '0', PAYMENT_SEED: '9' });
  const b = await startPayment({ PAYMENT_FAIL_RATE: '0.5', PAYMENT_SLOW_RATE: '0', PAYMENT_SEED: '9' });

  for (let i = 0; i < 3; i++) t.match(await http(`${failing.url}/charge`, { json: charge }), { status: 503, body: { error: String } }, 'fail rate 1 → 503');

  const s = await http(`${slow.url}/charge`, { json: charge });
  t.equal(s.status, 201);
  t.ok(s.ms >= 1490, `slow rate 1 → took ${Math.round(s.ms)} ms (≥ 1500)`);
  const fast = await http(`${payment.url}/charge`, { json: charge });
  t.equal(fast.status, 201);
  t.ok(fast.ms < 1000, `slow rate 0 → took ${Math.round(fast.ms)} ms`);

  t.match(await http(`${payment.url}/charge`, { json: { card: { number: '4111 1111 1111 1112' }, amount: 1000 } }), { status: 402, body: { reason: 'invalid_number' } }, 'non-Luhn card → 402');
  t.equal((await http(`${payment.url}/charge`, { json: { card, amount: -5 } })).status, 400, 'bad amount → 400');
  t.match(await http(`${payment.url}/charge`, { json: charge }), { body: { last4: '1111', status: 'approved' } });

  const seqA: number[] = [];
  const seqB: number[] = [];
  for (let i = 0; i < 16; i++) {
    seqA.push((await http(`${a.url}/charge`, { json: charge })).status);
    seqB.push((await http(`${b.url}/charge`, { json: charge })).status);
  }
  t.same(seqA, seqB, 'same seed → same outcomes');
  t.ok(seqA.includes(201) && seqA.includes(503), `fail rate 0.5 mixes outcomes: ${seqA.join(' ')}`);

  // A failing payment surfaces as a 502 from the gateway, and no order is written.
  const gw = await startServer('gateway', gatewayEnv({ PAYMENT_URL: failing.url, PAYMENT_H2_URL: failing.h2Url }));
  const token = (await http(`${auth.url}/login`, { json: { user: 'bob', password: 'builder' } })).body.token as string;
  const ordersBefore = orders.lines.filter((l) => l.route === '/orders').length;
  const r = await http(`${gw.url}/api/checkout`, { json: { items: [{ id: 2, qty: 1 }], card }, headers: { authorization: `Bearer ${token}` } });
  t.match(r, { status: 502, body: { error: 'payment failed', upstreamStatus: 503 } });
  t.equal(orders.lines.filter((l) => l.route === '/orders').length, ordersBefore, 'no order after a failed charge');

  for (const app of [failing, slow, a, b, gw]) t.same(await stop(app), { code: 0, signal: null }, `${app.name} exits 0 on SIGTERM`);
});

void t.test('an upstream that is down is a 502, not a crash', async (t) => {
  const gw = await startServer('gateway', gatewayEnv({ CATALOG_URL: `http://127.0.0.1:${await closedPort()}` }));
  t.match(await http(`${gw.url}/api/products`), { status: 502, body: { error: /unreachable/ } });
  t.equal((await http(`${gw.url}/healthz`)).status, 200, 'still serving');
  t.same(await stop(gw), { code: 0, signal: null });
});

// ---------------------------------------------------------------------------------------------
// gRPC, HTTP/2, WebSocket, PostgreSQL

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;

void t.test('inventory: Reserve, NOT_FOUND, WatchStock and server reflection over gRPC', async (t) => {
  const inv = await startInventory({ INVENTORY_STOCK: 'sku-1:3,sku-2:10', WATCH_UPDATES: '4', WATCH_INTERVAL_MS: '10' });
  const { Inventory } = loadInventory();
  const client = new Inventory(inv.url, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Reserve(req: unknown, cb: Callback<{ id: string; remaining: number }>): void;
    WatchStock(req: unknown): grpc.ClientReadableStream<{ sku: string; level: number }>;
  };
  t.teardown(() => client.close());
  const reserve = (req: unknown) =>
    new Promise<{ err: grpc.ServiceError | null; res?: { id: string; remaining: number } }>((resolve) => client.Reserve(req, (err, res) => resolve({ err, res })));

  const first = await reserve({ sku: 'sku-1', quantity: 2 });
  t.equal(first.err, null);
  t.match(first.res, { id: /^rsv_\d{6}$/, remaining: 1 }, 'Reserve answers a Reservation');
  t.match(await reserve({ sku: 'sku-1', quantity: 2 }), { err: null, res: { remaining: 1 } }, 'a shelf that runs low is restocked');
  const missing = await reserve({ sku: 'sku-5', quantity: 1 });
  t.equal(missing.err?.code, grpc.status.NOT_FOUND, 'an unknown sku is NOT_FOUND');
  t.match(missing.err?.details, /sku-5/);
  t.equal((await reserve({ sku: 'sku-2', quantity: 0 })).err?.code, grpc.status.INVALID_ARGUMENT, 'quantity 0 is INVALID_ARGUMENT');

  const watch = async (sku: string) => {
    const levels: number[] = [];
    const stream = client.WatchStock({ sku });
    stream.on('data', (m: { sku: string; level: number }) => levels.push(m.level));
    stream.on('error', () => {}); // the status says it
    const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    return { levels, status };
  };
  const watched = await watch('sku-2');
  t.equal(watched.status.code, grpc.status.OK, 'WatchStock ends OK');
  t.same(watched.levels, [10, 10, 10, 10], 'WATCH_UPDATES messages of the level');
  const unknown = await watch('nope');
  t.equal(unknown.status.code, grpc.status.NOT_FOUND, 'WatchStock of an unknown sku is NOT_FOUND');
  t.same(unknown.levels, []);

  // Server reflection: list the services, then fetch the descriptor of shop.Inventory.
  const reflectionProto = fileURLToPath(import.meta.resolve('@grpc/reflection').replace(/src\/index\.js$/, 'proto/grpc/reflection/v1/reflection.proto'));
  const def = protoLoader.loadSync(reflectionProto, { keepCase: true });
  const Reflection = ((grpc.loadPackageDefinition(def).grpc as grpc.GrpcObject).reflection as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const rc = new (Reflection.ServerReflection as grpc.ServiceClientConstructor)(inv.url, grpc.credentials.createInsecure());
  t.teardown(() => rc.close());
  const answers = await new Promise<any[]>((resolve, reject) => {
    const out: any[] = [];
    const stream = (rc as any).ServerReflectionInfo() as grpc.ClientDuplexStream<unknown, any>;
    stream.on('data', (d: any) => out.push(d));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
    stream.write({ list_services: '' });
    stream.write({ file_containing_symbol: 'shop.Inventory' });
    stream.end();
  });
  t.ok(
    answers[0]?.list_services_response?.service.some((s: { name: string }) => s.name === 'shop.Inventory'),
    `reflection lists shop.Inventory (${JSON.stringify(answers[0]?.list_services_response)})`,
  );
  const fd = Buffer.from(answers[1]?.file_descriptor_response?.file_descriptor_proto?.[0] ?? []);
  t.ok(fd.includes('WatchStock') && fd.includes('ReserveRequest'), 'reflection returns the file descriptor with both methods');

  t.ok(logged(inv, (l) => l.rpc === 'Reserve' && l.code === 'NOT_FOUND' && l.sku === 'sku-5'), 'one log line per RPC, with its code');
  t.ok(logged(inv, (l) => l.rpc === 'WatchStock' && l.code === 'OK' && l.messages === 4));
  t.same(await stop(inv), { code: 0, signal: null }, 'inventory exits 0 on SIGTERM');
});

void t.test('the gateway: NOT_FOUND skus are sold, WatchStock now and then, and a missing inventory or h2c listener is skipped', async (t) => {
  const token = (await http(`${auth.url}/login`, { json: { user: 'carol', password: 'secret123' } })).body.token as string;
  const checkout = (gw: App, items: unknown[]) => http(`${gw.url}/api/checkout`, { json: { items, card }, headers: { authorization: `Bearer ${token}` } });

  const inv = await startInventory({ WATCH_INTERVAL_MS: '10' });
  const watching = await startServer('gateway', gatewayEnv({ INVENTORY_ADDR: inv.url, INVENTORY_WATCH_EVERY: '2' }));
  const one = await checkout(watching, [{ id: 5, qty: 1 }, { id: 2, qty: 1 }]);
  t.equal(one.status, 201, JSON.stringify(one.body));
  t.same(one.body.reserved, ['sku-2']);
  t.same(one.body.notStocked, ['sku-5'], 'sku-5 is NOT_FOUND at the inventory and sold anyway');
  t.equal((await checkout(watching, [{ id: 3, qty: 1 }])).status, 201);
  const done = await waitFor('the WatchStock stream of the 2nd checkout', () => logged(watching, (l) => l.msg === 'WatchStock done'));
  t.match(done, { sku: 'sku-3', messages: 5 }, 'the gateway read the whole stream');
  t.ok(logged(inv, (l) => l.rpc === 'WatchStock' && l.sku === 'sku-3' && l.code === 'OK'));

  const down = await startServer('gateway', gatewayEnv({ INVENTORY_ADDR: `127.0.0.1:${await closedPort()}`, PAYMENT_H2_URL: `http://127.0.0.1:${await closedPort()}` }));
  const r = await checkout(down, [{ id: 1, qty: 1 }]);
  t.equal(r.status, 201, `checkout goes on: ${JSON.stringify(r.body)}`);
  t.match(r.body, { reserved: [], limitsChecked: false });
  t.ok(logged(down, (l) => l.level === 'warn' && /^inventory: Reserve failed: UNAVAILABLE/.test(String(l.msg))), 'says the inventory is unavailable');
  t.ok(logged(down, (l) => l.level === 'warn' && /^payment limits over h2c:/.test(String(l.msg))), 'says the h2c listener is unavailable');
  t.equal((await checkout(down, [{ id: 1, qty: 1 }])).status, 201);
  t.equal(down.lines.filter((l) => l.level === 'warn').length, 2, 'a degraded dependency is logged once, not per checkout');

  // The h2c limit is enforced when it answers.
  const strict = await startPayment({ PAYMENT_FAIL_RATE: '0', PAYMENT_SLOW_RATE: '0', PAYMENT_MAX_AMOUNT_CENTS: '1000' });
  const limited = await startServer('gateway', gatewayEnv({ PAYMENT_URL: strict.url, PAYMENT_H2_URL: strict.h2Url }));
  t.match(await checkout(limited, [{ id: 5, qty: 1 }]), { status: 402, body: { error: 'amount over the payment limit', maxAmountCents: 1000 } });
  t.notOk(logged(strict, (l) => l.route === '/charge'), 'nothing charged over the limit');

  // payment's h2c listener itself, with node:http2: several streams on one session.
  const session = http2.connect(payment.h2Url);
  const get = (path: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = session.request({ ':method': 'GET', ':path': path });
      let status = 0;
      let text = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => resolve({ status, body: JSON.parse(text) }));
      req.on('error', reject);
    });
  const [limits, health, nope] = await Promise.all([get('/limits'), get('/healthz'), get('/nope')]);
  session.close();
  t.match(limits, { status: 200, body: { currency: 'EUR', maxAmountCents: 100000 } });
  t.match(health, { status: 200, body: { proto: 'h2c' } });
  t.equal(nope.status, 404);

  for (const app of [watching, down, limited, strict, inv]) t.same(await stop(app), { code: 0, signal: null }, `${app.name} exits 0`);
});

void t.test('frontend feed: order status over a WebSocket', async (t) => {
  const feedUrl = `${frontend.url.replace('http', 'ws')}/feed`;
  const messages: any[] = [];
  const ws = new WebSocket(feedUrl);
  ws.on('message', (d) => messages.push(JSON.parse(String(d))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const token = (await http(`${frontend.url}/login`, { json: { user: 'bob', password: 'builder' } })).body.token as string;
  const placed = await http(`${frontend.url}/checkout`, { json: { items: [{ id: 3, qty: 1 }], card }, headers: { authorization: `Bearer ${token}` } });
  t.equal(placed.status, 201);
  await waitFor('paid and shipped', () => messages.filter((m) => m.order === placed.body.orderId).length >= 2 || undefined);
  t.same(
    messages.filter((m) => m.order === placed.body.orderId),
    [
      { order: placed.body.orderId, status: 'paid' },
      { order: placed.body.orderId, status: 'shipped' },
    ],
    'paid, then shipped',
  );
  t.equal((await http(`${frontend.url}/checkout`, { json: { items: [{ id: 3, qty: 1 }], card }, headers: { authorization: 'Bearer nope' } })).status, 401);
  await new Promise((r) => setTimeout(r, 150));
  t.equal(messages.length, 2, 'a failed checkout sends nothing');
  t.ok(logged(frontend, (l) => l.route === '/feed' && l.status === 101), 'the upgrade is logged');
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.close(1000);
  t.equal(await closed, 1000);

  const other = new WebSocket(`${frontend.url.replace('http', 'ws')}/elsewhere`);
  const refused = await new Promise<string>((resolve) => other.once('error', (e) => resolve(e.message)));
  t.match(refused, /404/, 'another path is not a WebSocket');
});

void t.test('loadgen keeps the feed open and counts its messages', async (t) => {
  const lg = spawnApp('loadgen', { FRONTEND_URL: frontend.url, RATE: '40', SUMMARY_INTERVAL_S: '0.5', RETRY_STORM_RATE: '0' });
  await waitFor('the feed to open', () => logged(lg, (l) => l.msg === 'feed open'), 10_000);
  const withMessages = await waitFor('a summary with feed messages', () => logged(lg, (l) => l.msg === 'summary' && Number(l.ws_messages) > 0), 15_000);
  t.match(withMessages, { ws_open: true, ws_messages: Number });
  t.same(await stop(lg), { code: 0, signal: null });
  const final = logged(lg, (l) => l.msg === 'final summary')!;
  t.ok(Number(final.ws_messages) >= Number(withMessages.ws_messages), `final ws_messages ${final.ws_messages}`);
  await waitFor('the frontend to see the feed close', () => logged(frontend, (l) => l.msg === 'feed client left' && l.code === 1000));
  t.ok(logged(frontend, (l) => l.route === '/orders/:id' && l.status === 200), 'shoppers look their orders up');
});

void t.test('orders falls back to memory when PostgreSQL is unreachable', async (t) => {
  const o = await startServer('orders', { PG_ADDR: `127.0.0.1:${await closedPort()}`, PG_RETRIES: '2', PG_RETRY_MS: '20' });
  const created = await http(`${o.url}/orders`, { json: { user: 'alice', items: [], amount: 100, chargeId: 'ch_x' } });
  t.match(created, { status: 201, body: { id: 1001, storage: 'memory' } }, 'the first request waited for the decision');
  const warn = logged(o, (l) => l.level === 'warn');
  t.match(warn?.msg, /^PostgreSQL at 127\.0\.0\.1:\d+ unreachable after 3 attempts .*: orders are kept in memory$/);
  t.equal((await http(`${o.url}/orders`, { json: { user: 'alice', items: [], amount: 1.5, chargeId: 'ch_x' } })).status, 400, 'amounts are integer cents');
  t.same(await stop(o), { code: 0, signal: null });
});

const PG_BIN = '/usr/lib/postgresql/15/bin';
const pgInstalled = ['initdb', 'postgres', 'pg_isready'].every((p) => existsSync(join(PG_BIN, p)));

void t.test('orders persists through a real PostgreSQL (lab/apps/postgres.ts)', { skip: pgInstalled ? false : `PostgreSQL 15 is not installed in ${PG_BIN}` }, async (t) => {
  const port = await closedPort();
  const password = 'test-orders-pw';
  // PostgreSQL refuses root: run it as a pod's app user does.
  const db = spawnApp('postgres', { PG_PORT: String(port), PG_PASSWORD: password, TMPDIR: '/tmp' }, process.getuid?.() === 0 ? { uid: 1000 } : {});
  const dirLine = await waitFor('initdb', () => logged(db, (l) => l.msg === 'initdb'), 10_000);
  const dir = String(dirLine.dir);
  t.ok(existsSync(dir), `a fresh temporary directory ${dir}`);
  await waitFor(`postgres to accept connections (${db.stderr.join('')})`, () => logged(db, (l) => l.msg === 'starting'), 30_000);

  const env = { PG_ADDR: `127.0.0.1:${port}`, PG_PASSWORD: password, PG_RETRY_MS: '200' };
  const o = await startServer('orders', env);
  const created = await http(`${o.url}/orders`, { json: { user: 'carol', items: [{ id: 2, qty: 3 }], amount: 7497, chargeId: 'ch_pg' } });
  t.match(created, { status: 201, body: { id: 1001, storage: 'postgres' } }, 'stored in PostgreSQL');
  t.ok(logged(o, (l) => typeof l.msg === 'string' && l.msg.startsWith(`using PostgreSQL at 127.0.0.1:${port}`)), 'logs that it uses PostgreSQL');
  t.match(await http(`${o.url}/orders/1001`), { status: 200, body: { id: 1001, user: 'carol', items: [{ id: 2, qty: 3 }], amount: 7497, chargeId: 'ch_pg', storage: 'postgres' } });
  t.equal((await http(`${o.url}/orders/999`)).status, 404);
  t.same(await stop(o), { code: 0, signal: null });

  // The row is really there, for another client, with the shop's own credentials (SCRAM over TCP).
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'shop', password, database: 'shop' });
  await client.connect();
  const rows = (await client.query('SELECT id, username, amount_cents FROM orders ORDER BY id')).rows;
  t.same(rows, [{ id: '1001', username: 'carol', amount_cents: '7497' }]);
  await client.end();
  const wrong = new pg.Client({ host: '127.0.0.1', port, user: 'shop', password: 'wrong', database: 'shop' });
  await t.rejects(wrong.connect(), /password authentication failed/, 'a wrong password is refused');

  // A new orders process finds the earlier order and continues the ids.
  const again = await startServer('orders', env);
  t.match(await http(`${again.url}/orders/1001`), { status: 200, body: { user: 'carol' } }, 'the order outlived its process');
  t.match(await http(`${again.url}/orders`, { json: { user: 'bob', items: [], amount: 1, chargeId: 'ch_2' } }), { status: 201, body: { id: 1002 } });
  t.same(await stop(again), { code: 0, signal: null });

  t.same(await stop(db), { code: 0, signal: null }, 'postgres exits 0 on SIGTERM');
  t.notOk(existsSync(dir), 'and removes its temporary directory');
});

void t.test('bad config exits 2 and names the variable', async (t) => {
  for (const [name, env, variable] of [
    ['payment', { PORT: 'abc' }, 'PORT'],
    ['payment', { PAYMENT_FAIL_RATE: '2' }, 'PAYMENT_FAIL_RATE'],
    ['gateway', { AUTH_URL: 'auth.shop' }, 'AUTH_URL'],
    ['catalog', { REDIS_ADDR: 'redis' }, 'REDIS_ADDR'],
    ['loadgen', { RATE: '0' }, 'RATE'],
    ['loadgen', { FEED_URL: 'http://frontend.shop/feed' }, 'FEED_URL'],
    ['gateway', { INVENTORY_ADDR: 'inventory.shop' }, 'INVENTORY_ADDR'],
    ['inventory', { INVENTORY_STOCK: 'sku-1' }, 'INVENTORY_STOCK'],
    ['postgres', { PG_USER: 'Robert"); DROP' }, 'PG_USER'],
    ['orders', { PG_RETRIES: '-1' }, 'PG_RETRIES'],
  ] as const) {
    const app = spawnApp(name, env);
    const { code } = await app.exit;
    t.equal(code, 2, `${name} with bad ${variable} exits 2`);
    t.match(app.stderr.join(''), variable, `the message names ${variable}`);
  }
});

void t.test('catalog uses Redis when reachable and falls back to memory', async (t) => {
  // A tiny RESP server: arrays of bulk strings in, GET/SET out.
  const store = new Map<string, string>();
  const commands: string[][] = [];
  const sockets = new Set<Socket>();
  const fake = createNetServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const text = buf.toString('latin1');
        const m = /^\*(\d+)\r\n/.exec(text);
        if (!m) return;
        let at = m[0].length;
        const args: string[] = [];
        for (let i = 0; i < Number(m[1]); i++) {
          const h = /^\$(\d+)\r\n/.exec(text.slice(at));
          if (!h) return;
          const len = Number(h[1]);
          if (buf.length < at + h[0].length + len + 2) return;
          args.push(buf.subarray(at + h[0].length, at + h[0].length + len).toString('utf8'));
          at += h[0].length + len + 2;
        }
        buf = buf.subarray(at);
        commands.push(args);
        if (args[0] === 'SET') {
          store.set(args[1], args[2]);
          sock.write('+OK\r\n');
        } else if (args[0] === 'GET') {
          const v = store.get(args[1]);
          sock.write(v === undefined ? '$-1\r\n' : `$${Buffer.byteLength(v)}\r\n${v}\r\n`);
        } else sock.write(`-ERR unknown command '${args[0]}'\r\n`);
      }
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    fake.close();
  });
  const redisPort = (fake.address() as { port: number }).port;

  const cat = await startServer('catalog', { REDIS_ADDR: `127.0.0.1:${redisPort}`, REDIS_RETRY_MS: '0' });
  t.ok(logged(cat, (l) => typeof l.msg === 'string' && l.msg.startsWith('using Redis')), 'logs that it uses Redis');
  t.equal(store.size, 6, 'seeded the ids and 5 products');
  const list = await http(`${cat.url}/products`);
  t.match(list, { status: 200, body: { source: 'redis' } });
  t.equal(list.body.products.length, 5);
  t.match(await http(`${cat.url}/products/2`), { status: 200, body: { id: 2 } });
  t.ok(commands.some((c) => c[0] === 'GET' && c[1] === 'catalog:product:2'), 'read the product with GET');
  t.equal((await http(`${cat.url}/products/77`)).status, 404, 'a missing key is a 404');

  // Redis goes away: the next request still works, from memory, and says so once.
  await new Promise<void>((r) => {
    fake.close(() => r());
    for (const s of sockets) s.destroy();
  });
  await new Promise((r) => setTimeout(r, 100));
  const after = await http(`${cat.url}/products/2`);
  t.match(after, { status: 200, body: { id: 2 } }, 'served from memory after Redis went away');
  t.ok(await waitFor('fallback log', () => logged(cat, (l) => typeof l.msg === 'string' && l.msg.includes('in-memory catalog'))), 'logs the fallback');

  const unreachable = await startServer('catalog', { REDIS_ADDR: `127.0.0.1:${await closedPort()}` });
  t.match(await http(`${unreachable.url}/products`), { status: 200, body: { source: 'memory' } });
  t.ok(logged(unreachable, (l) => typeof l.msg === 'string' && /in-memory catalog: Redis at .* unreachable/.test(l.msg)), 'says Redis is unreachable');

  t.same(await stop(cat), { code: 0, signal: null });
  t.same(await stop(unreachable), { code: 0, signal: null });
});

void t.test('auth keeps sessions in a real Redis: login SETs, verify GETs, logout DELs', async (t) => {
  const port = await closedPort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  t.teardown(() => {
    server.kill('SIGKILL');
  });
  const cli = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = spawn('redis-cli', ['-p', String(port), ...args]);
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', () => resolve(out.trim()));
    });
  for (let i = 0; (await cli('PING')) !== 'PONG'; i++) {
    if (i > 100) throw new Error('redis-server did not answer');
    await new Promise((r) => setTimeout(r, 100));
  }

  const a = await startServer('auth', { JWT_SECRET, REDIS_ADDR: `127.0.0.1:${port}` });
  t.ok(logged(a, (l) => typeof l.msg === 'string' && l.msg.startsWith('using Redis')), 'logs that it uses Redis');
  const token = (await http(`${a.url}/login`, { json: { user: 'carol', password: 'secret123' } })).body.token as string;
  const { payload } = await jwtVerify(token, new TextEncoder().encode(JWT_SECRET));
  t.equal(await cli('GET', `session:${String(payload.jti)}`), 'carol', 'the session is in Redis under the token id');
  const ttl = Number(await cli('TTL', `session:${String(payload.jti)}`));
  t.ok(ttl > 800 && ttl <= 900, `it expires with the token (ttl ${ttl})`);
  const bearerOf = { authorization: `Bearer ${token}` };
  t.match(await http(`${a.url}/verify`, { headers: bearerOf }), { status: 200, body: { user: 'carol' } });
  t.equal((await http(`${a.url}/logout`, { method: 'POST', headers: bearerOf })).status, 204, 'logout');
  t.equal(await cli('EXISTS', `session:${String(payload.jti)}`), '0', 'the session is gone from Redis');
  t.match(await http(`${a.url}/verify`, { headers: bearerOf }), { status: 401, body: { error: 'session ended' } }, 'a valid JWT whose session ended is refused');

  // An ended session in Redis ends the token for every auth replica, not just the one that saw the logout.
  const second = (await http(`${a.url}/login`, { json: { user: 'bob', password: 'builder' } })).body.token as string;
  const id = String((await jwtVerify(second, new TextEncoder().encode(JWT_SECRET))).payload.jti);
  await cli('DEL', `session:${id}`);
  t.equal((await http(`${a.url}/verify`, { headers: { authorization: `Bearer ${second}` } })).status, 401, 'a session deleted in Redis is over');
  t.same(await stop(a), { code: 0, signal: null });

  // Without Redis (the shared auth of this file), sessions live in memory with the same rules.
  const mem = (await http(`${auth.url}/login`, { json: { user: 'alice', password: 'wonderland' } })).body.token as string;
  const memAuth = { authorization: `Bearer ${mem}` };
  t.equal((await http(`${auth.url}/verify`, { headers: memAuth })).status, 200);
  t.equal((await http(`${auth.url}/logout`, { method: 'POST', headers: memAuth })).status, 204);
  t.equal((await http(`${auth.url}/verify`, { headers: memAuth })).status, 401, 'logged out in memory too');
});

void t.test('loadgen drives a realistic mix and reports', async (t) => {
  // Its own gateway/frontend with a payment that always fails, so retry storms happen.
  const failing = await startPayment({ PAYMENT_FAIL_RATE: '1', PAYMENT_SLOW_RATE: '0' });
  const gw = await startServer('gateway', gatewayEnv({ PAYMENT_URL: failing.url, PAYMENT_H2_URL: failing.h2Url }));
  const fe = await startServer('frontend', { GATEWAY_URL: gw.url });
  // A checkout whose upstreams all time out takes the gateway's timeouts in sum (inventory,
  // payment limits, charge: about 5 s): the generator waits longer than that, so a loaded
  // machine's slow checkout is not counted as a network error.
  const lg = spawnApp('loadgen', { FRONTEND_URL: fe.url, RATE: '80', SUMMARY_INTERVAL_S: '0.5', RETRY_STORM_RATE: '1', RETRY_BURST: '4', API_KEY_RATE: '0.5', REQUEST_TIMEOUT_MS: '15000' });
  const first = await waitFor('a loadgen summary', () => logged(lg, (l) => l.msg === 'summary' && Number(l.requests) > 0), 10_000);
  t.match(first, { actions: Number, rps: Number, ok: Number, p50_ms: Number }, 'periodic summary line');
  // Enough actions that every kind in the mix has shown up (the rarest is ~3%).
  const actions = () => lg.lines.filter((l) => l.msg === 'summary').reduce((n, l) => n + Number(l.actions), 0);
  await waitFor('200 actions', () => actions() >= 200 || undefined, 15_000);

  t.same(await stop(lg), { code: 0, signal: null }, 'loadgen exits 0 on SIGTERM');
  const final = logged(lg, (l) => l.msg === 'final summary');
  t.ok(final, 'final summary on stop');
  t.comment(`loadgen: ${JSON.stringify(final)}`);
  t.ok(Number(final!.ok) > 0, `ok: ${final!.ok}`);
  t.ok(Number(final!['4xx']) > 0, `4xx: ${final!['4xx']}`);
  t.ok(Number(final!['5xx']) > 0, `5xx: ${final!['5xx']}`);
  t.ok(Number(final!.storms) > 0 && Number(final!.retries) === 4 * Number(final!.storms), `storms: ${final!.storms}, retries: ${final!.retries}`);
  // The demo apps answer every request; on a loaded 2-core machine a rare keep-alive race or
  // timeout of the generator's own fetch is not the apps failing. Errors in the runs' last
  // windows are named in the summaries' last_error.
  const errors = lg.lines.filter((l) => l.last_error !== undefined).map((l) => String(l.last_error));
  t.ok(Number(final!.network_errors) <= Math.max(1, Number(final!.requests) / 100), `network errors are rare: ${final!.network_errors} of ${final!.requests} (${errors.join('; ') || 'none'})`);

  t.ok(logged(fe, (l) => l.route === '/products/:id' && l.status === 404), 'asked for unknown products');
  t.ok(logged(fe, (l) => l.route === undefined && l.status === 404), 'asked for unknown routes');
  t.ok(logged(fe, (l) => l.route === '/login' && l.status === 200), 'logged in');
  t.ok(logged(fe, (l) => l.route === '/checkout' && l.status === 502), 'checkouts hit the failing payment');
  t.ok(logged(fe, (l) => typeof l.trace === 'string') && logged(gw, (l) => l.route === '/api/checkout'), 'traffic reached the gateway');
  t.ok(failing.lines.filter((l) => l.route === '/charge').length >= 5, 'payment saw the retries');

  for (const app of [fe, gw, failing]) t.same(await stop(app), { code: 0, signal: null }, `${app.name} exits 0`);
});

void t.test('legacy-client calls round-robin and stops on SIGTERM', async (t) => {
  const lc = spawnApp('legacy-client', { TARGET_URLS: `${frontend.url}/products,${catalog.url}/products/1`, INTERVAL_MS: '50' });
  await waitFor('calls to both targets', () => {
    const urls = new Set(lc.lines.filter((l) => l.status === 200).map((l) => l.url));
    return urls.size === 2 || undefined;
  });
  t.ok(logged(catalog, (l) => l.path === '/products/1' && l.trace === null), 'catalog was called directly, without a trace');
  t.same(await stop(lc), { code: 0, signal: null }, 'exits 0');
});

void t.test('every process exits cleanly on SIGTERM and nothing is left running', async (t) => {
  for (const app of [frontend, gateway, auth, catalog, payment, orders, inventory]) {
    t.same(await stop(app), { code: 0, signal: null }, `${app.name} exits 0`);
  }
  for (const app of started) {
    t.not(app.child.exitCode, null, `${app.name} (${app.child.pid}) has exited`);
    t.throws(() => process.kill(app.child.pid!, 0), { code: 'ESRCH' }, `pid ${app.child.pid} is gone`);
  }
  t.ok(frontend.lines.some((l) => l.msg === 'stopping' && l.signal === 'SIGTERM'), 'logged the stop');
});

// ---------------------------------------------------------------------------------------------
// The scenario YAML

void t.test('the shop scenario is consistent', async (t) => {
  const dir = join(REPO, 'lab/scenarios/shop');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  t.ok(existsSync(join(dir, 'README.md')), 'has a README');
  const objects: Array<{ file: string; obj: any }> = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      t.same(doc.errors, [], `${file} parses`);
      const obj = doc.toJS();
      if (obj) objects.push({ file, obj });
    }
  }
  const of = (kind: string) => objects.filter((o) => o.obj.kind === kind);
  const namespaces = new Map(of('Namespace').map(({ obj }) => [obj.metadata.name, obj.metadata.labels ?? {}]));
  t.same(namespaces.get('shop'), { 'meshtap.io/inject': 'enabled' }, 'shop is opted in');
  t.ok(namespaces.has('legacy'), 'legacy exists');
  t.notOk(namespaces.get('legacy')?.['meshtap.io/inject'], 'legacy is not opted in');

  const workloads = [...of('Deployment'), ...of('Pod')];
  const byName = new Map(workloads.map(({ obj }) => [obj.metadata.name, obj]));
  for (const name of ['frontend', 'gateway', 'auth', 'catalog', 'payment', 'orders', 'inventory', 'loadgen', 'legacy-client', 'redis', 'postgres']) t.ok(byName.has(name), `${name} is deployed`);
  t.equal(byName.get('legacy-client')?.metadata.namespace, 'legacy');

  const template = (obj: any) => (obj.kind === 'Deployment' ? obj.spec.template : obj);
  for (const { file, obj } of workloads) {
    const where = `${file}: ${obj.kind} ${obj.metadata.name}`;
    t.ok(namespaces.has(obj.metadata.namespace), `${where}: namespace declared`);
    const labels = template(obj).metadata.labels;
    t.equal(labels.app, obj.metadata.name, `${where}: app label`);
    if (obj.kind === 'Deployment') {
      t.equal(obj.spec.replicas, 1, `${where}: one replica`);
      t.same(obj.spec.selector.matchLabels, { app: obj.metadata.name }, `${where}: selector matches template labels`);
    }
    for (const c of template(obj).spec.containers) {
      t.ok(Array.isArray(c.command) && c.command.length > 0, `${where}: has a command`);
      if (c.command[0] === 'node') {
        t.equal(c.command[1], `lab/apps/${obj.metadata.name}.ts`, `${where}: runs its own app`);
        t.ok(existsSync(join(REPO, c.command[1])), `${where}: ${c.command[1]} exists`);
      } else t.equal(c.command[0], 'redis-server', `${where}: the only non-node command is redis-server`);
      for (const e of c.env ?? []) t.type(e.value, 'string', `${where}: env ${e.name} is a plain string`);
      const env = Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value]));
      const probe = c.readinessProbe;
      if (env.PORT !== undefined) {
        t.equal(env.PORT, '8080', `${where}: PORT`);
        t.match(probe, { httpGet: { path: '/healthz', port: 8080 } }, `${where}: readiness probe`);
        t.same(c.ports[0], { name: 'http', containerPort: 8080 }, `${where}: container port`);
      }
      // Upstream URLs name services that exist, on a port they expose, in full <svc>.<ns> form.
      for (const [k, v] of Object.entries(env) as Array<[string, string]>) {
        for (const target of k.endsWith('_URL') || k === 'TARGET_URLS' ? v.split(',') : k.endsWith('_ADDR') ? [`tcp://${v}`] : []) {
          const u = new URL(target);
          const [svc, ns] = u.hostname.split('.');
          const service = of('Service').find(({ obj: s }) => s.metadata.name === svc && s.metadata.namespace === ns);
          t.ok(service, `${where}: ${k} names service ${svc}.${ns}`);
          const port = Number(u.port || 80);
          t.ok(service?.obj.spec.ports.some((p: any) => p.port === port), `${where}: ${k} uses a port service ${svc} exposes (${port})`);
        }
      }
    }
  }

  t.equal(of('Service').length, 9, 'nine services');
  // The optional datastores: redis by its command, postgres (run by node) by its annotation.
  const pgTemplate = template(byName.get('postgres'));
  t.match(pgTemplate.metadata.annotations?.['lab.meshtap.io/requires'], /\/usr\/lib\/postgresql\/15\/bin\/postgres/, 'postgres names the binary it needs');
  t.match(pgTemplate.spec.containers[0].readinessProbe, { exec: { command: [/pg_isready$/] } });
  t.match(template(byName.get('inventory')).spec.containers[0], { ports: [{ name: 'grpc', containerPort: 50051 }] });
  for (const { file, obj } of of('Service')) {
    const where = `${file}: Service ${obj.metadata.name}`;
    const targets = workloads.filter(
      ({ obj: w }) => w.metadata.namespace === obj.metadata.namespace && Object.entries(obj.spec.selector).every(([k, v]) => template(w).metadata.labels[k] === v),
    );
    t.equal(targets.length, 1, `${where}: selects exactly one workload`);
    const containers = targets[0] ? template(targets[0].obj).spec.containers : [];
    for (const p of obj.spec.ports) {
      const ok = containers.some((c: any) => (c.ports ?? []).some((cp: any) => (typeof p.targetPort === 'number' ? cp.containerPort === p.targetPort : cp.name === p.targetPort)));
      t.ok(ok, `${where}: port ${p.port} → targetPort ${p.targetPort} exists on the pod`);
    }
  }
  t.ok(of('Service').some(({ obj }) => obj.spec.ports.some((p: any) => p.port !== p.targetPort)), 'some service maps port → a different targetPort');
});
