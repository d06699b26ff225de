/**
 * Shop app `loadgen`: shoppers. Starts RATE actions per second against the frontend, in a mix
 * that gives meshtap something to show:
 *
 *   browse (list, then one product) · home page · 404s (unknown product, unknown route)
 *   logins (a few with a wrong password) · checkouts with a Luhn-valid test card (a few with
 *   an invalid one → 402; a few with a bad token → 401), after a placed order sometimes a
 *   look at it (ORDER_LOOKUP_RATE) · after a 5xx checkout, sometimes a retry storm:
 *   RETRY_BURST immediate retries at once, no backoff
 *
 * Some actions send `x-api-key` (a secret header), some a `traceparent` (the rest get one from
 * the frontend). One WebSocket stays open to the frontend's order feed (FEED_URL; reopened
 * FEED_RETRY_MS after it closes) and its messages are counted. One summary line every
 * SUMMARY_INTERVAL_S seconds (with `ws_messages`), and a final one on SIGTERM.
 * There is no server: the process is the pod.
 *
 * Env: FRONTEND_URL (http://frontend.shop), RATE (5), SUMMARY_INTERVAL_S (10), LOADGEN_SEED (7),
 * API_KEY (a lab-only value), API_KEY_RATE (0.3), RETRY_STORM_RATE (0.5), RETRY_BURST (6),
 * USERS (alice:wonderland,bob:builder,carol:secret123), REQUEST_TIMEOUT_MS (5000),
 * MAX_INFLIGHT (32), DURATION_S (0 = until stopped), FEED_URL (FRONTEND_URL as ws:// + /feed;
 * "off" for none), FEED_RETRY_MS (2000), ORDER_LOOKUP_RATE (0.5).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { ConfigError, childTraceparent, envInt, envNumber, envString, envUrl, loadConfig, log, seededRandom } from './_common.ts';

const config = loadConfig('loadgen', () => {
  const rawUsers = envString('USERS', 'alice:wonderland,bob:builder,carol:secret123');
  const users = rawUsers.split(',').map((pair) => {
    const i = pair.indexOf(':');
    if (i <= 0) throw new ConfigError(`USERS=${JSON.stringify(rawUsers)}: expected name:password pairs separated by commas`);
    return { user: pair.slice(0, i).trim(), password: pair.slice(i + 1) };
  });
  return {
    frontend: envUrl('FRONTEND_URL', 'http://frontend.shop'),
    rate: envNumber('RATE', 5, { min: 0.01, max: 1000 }),
    summaryS: envNumber('SUMMARY_INTERVAL_S', 10, { min: 0.1, max: 3600 }),
    seed: envInt('LOADGEN_SEED', 7, { min: 0, max: 2 ** 32 - 1 }),
    apiKey: envString('API_KEY', 'mtk_lab_7f3c9a2e41d84b6a0c55e9'),
    apiKeyRate: envNumber('API_KEY_RATE', 0.3, { min: 0, max: 1 }),
    stormRate: envNumber('RETRY_STORM_RATE', 0.5, { min: 0, max: 1 }),
    burst: envInt('RETRY_BURST', 6, { min: 1, max: 100 }),
    users,
    timeoutMs: envInt('REQUEST_TIMEOUT_MS', 5000, { min: 1, max: 120_000 }),
    maxInflight: envInt('MAX_INFLIGHT', 32, { min: 1, max: 10_000 }),
    durationS: envNumber('DURATION_S', 0, { min: 0, max: 1e7 }),
    feed: feedUrl(envString('FEED_URL', ''), envUrl('FRONTEND_URL', 'http://frontend.shop')),
    feedRetryMs: envInt('FEED_RETRY_MS', 2000, { min: 10, max: 600_000 }),
    lookupRate: envNumber('ORDER_LOOKUP_RATE', 0.5, { min: 0, max: 1 }),
  };
});

function feedUrl(raw: string, frontend: string): string | undefined {
  if (raw === 'off') return undefined;
  if (raw === '') return `${frontend.replace(/^http/, 'ws')}/feed`;
  if (!/^wss?:\/\/[^/\s]+/.test(raw) || !URL.canParse(raw)) throw new ConfigError(`FEED_URL=${JSON.stringify(raw)}: expected a ws:// URL or "off"`);
  return raw;
}

/** Well-known test numbers: Luhn-valid (the sidecar masks them), and one that is not. */
const GOOD_CARDS = ['4111 1111 1111 1111', '5555555555554444', '4012-8888-8888-1881'];
const BAD_CARD = '4111 1111 1111 1112';
const PRODUCT_IDS = [1, 2, 3, 4, 5];

const random = seededRandom(config.seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
const chance = (p: number) => random() < p;

interface Counters {
  actions: number;
  requests: number;
  ok: number;
  clientErrors: number;
  serverErrors: number;
  networkErrors: number;
  retries: number;
  storms: number;
  skipped: number;
  wsMessages: number;
}
const zero = (): Counters => ({ actions: 0, requests: 0, ok: 0, clientErrors: 0, serverErrors: 0, networkErrors: 0, retries: 0, storms: 0, skipped: 0, wsMessages: 0 });
const total = zero();
let window = zero();
let latencies: number[] = [];
let windowStart = performance.now();
let lastError: string | undefined;

function count(key: keyof Counters, n = 1): void {
  total[key] += n;
  window[key] += n;
}

interface Ctx {
  traceparent?: string;
  apiKey?: string;
}

/** One HTTP call; the status, or 0 when it never got one. */
async function call(ctx: Ctx, method: string, path: string, opts: { json?: unknown; token?: string } = {}): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'user-agent': 'meshtap-loadgen/1', accept: 'application/json' };
  if (ctx.traceparent) headers.traceparent = ctx.traceparent;
  if (ctx.apiKey) headers['x-api-key'] = ctx.apiKey;
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  count('requests');
  const started = performance.now();
  try {
    const res = await fetch(`${config.frontend}${path}`, {
      method,
      headers,
      body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    const text = await res.text();
    latencies.push(performance.now() - started);
    count(res.status < 400 ? 'ok' : res.status < 500 ? 'clientErrors' : 'serverErrors');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: res.status, body };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    count('networkErrors');
    lastError = `${method} ${path}: ${e.cause?.message ?? e.message}`;
    return { status: 0, body: undefined };
  }
}

const tokens = new Map<string, string>();

async function login(ctx: Ctx, user: { user: string; password: string }, wrongPassword = false): Promise<string | undefined> {
  const r = await call(ctx, 'POST', '/login', { json: { user: user.user, password: wrongPassword ? `${user.password}-nope` : user.password } });
  const token = typeof r.body === 'object' && r.body !== null ? (r.body as { token?: unknown }).token : undefined;
  if (r.status === 200 && typeof token === 'string') {
    tokens.set(user.user, token);
    return token;
  }
  return undefined;
}

async function checkout(ctx: Ctx, opts: { badToken?: boolean; badCard?: boolean } = {}): Promise<void> {
  const user = pick(config.users);
  let token = opts.badToken ? 'not-a-jwt' : (tokens.get(user.user) ?? (await login(ctx, user)));
  if (!token) return;
  const cart = {
    items: Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ id: pick(PRODUCT_IDS), qty: 1 + Math.floor(random() * 2) })),
    card: { number: opts.badCard ? BAD_CARD : pick(GOOD_CARDS), expiry: '12/30', holder: user.user },
  };
  let r = await call(ctx, 'POST', '/checkout', { json: cart, token });
  if (r.status === 401 && !opts.badToken) {
    // Expired token: log in again once.
    tokens.delete(user.user);
    token = await login(ctx, user);
    if (token) r = await call(ctx, 'POST', '/checkout', { json: cart, token });
  }
  const orderId = typeof r.body === 'object' && r.body !== null ? (r.body as { orderId?: unknown }).orderId : undefined;
  if (r.status === 201 && typeof orderId === 'number' && chance(config.lookupRate)) await call(ctx, 'GET', `/orders/${orderId}`, { token });
  if (r.status >= 500 && chance(config.stormRate)) {
    // A badly written client: everyone retries at once, no backoff.
    count('storms');
    count('retries', config.burst);
    await Promise.all(Array.from({ length: config.burst }, () => call(ctx, 'POST', '/checkout', { json: cart, token })));
  }
}

async function action(): Promise<void> {
  const ctx: Ctx = {
    ...(chance(0.5) ? { traceparent: childTraceparent(undefined) } : {}),
    ...(chance(config.apiKeyRate) ? { apiKey: config.apiKey } : {}),
  };
  const roll = random() * 100;
  if (roll < 5) await call(ctx, 'GET', '/');
  else if (roll < 45) {
    await call(ctx, 'GET', '/products');
    await call(ctx, 'GET', `/products/${pick(PRODUCT_IDS)}`);
  } else if (roll < 52) await call(ctx, 'GET', `/products/${900 + Math.floor(random() * 100)}`);
  else if (roll < 55) await call(ctx, 'GET', pick(['/admin', '/wp-login.php', '/api/v0/products']));
  else if (roll < 65) await login(ctx, pick(config.users), chance(0.15));
  else if (roll < 92) await checkout(ctx, { badCard: chance(0.08) });
  else await checkout(ctx, { badToken: true });
}

function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

function summary(final = false): void {
  const seconds = (performance.now() - windowStart) / 1000;
  const c = final ? total : window;
  log('loadgen', {
    msg: final ? 'final summary' : 'summary',
    window_s: final ? undefined : Math.round(seconds * 10) / 10,
    actions: c.actions,
    requests: c.requests,
    rps: final ? undefined : Math.round((c.requests / Math.max(seconds, 0.001)) * 10) / 10,
    ok: c.ok,
    '4xx': c.clientErrors,
    '5xx': c.serverErrors,
    network_errors: c.networkErrors,
    retries: c.retries,
    storms: c.storms,
    skipped: c.skipped,
    ws_messages: c.wsMessages,
    ws_open: feedSocket?.readyState === WebSocket.OPEN,
    p50_ms: final ? undefined : percentile(latencies, 50),
    p95_ms: final ? undefined : percentile(latencies, 95),
    inflight,
    last_error: lastError,
  });
  window = zero();
  latencies = [];
  lastError = undefined;
  windowStart = performance.now();
}

// ---------------------------------------------------------------------------------------------
// The order feed: one WebSocket, kept open

let feedSocket: WebSocket | undefined;
let feedRetry: NodeJS.Timeout | undefined;
let feedProblem: string | undefined;

function openFeed(): void {
  if (!config.feed || stopping) return;
  const ws = new WebSocket(config.feed, { headers: { 'user-agent': 'meshtap-loadgen/1' }, handshakeTimeout: config.timeoutMs });
  feedSocket = ws;
  ws.on('open', () => {
    feedProblem = undefined;
    log('loadgen', { msg: 'feed open', url: config.feed });
  });
  // Order status messages, counted (not checked: the feed is for meshtap to see).
  ws.on('message', () => count('wsMessages'));
  ws.on('error', (err) => {
    const problem = err.message;
    if (problem !== feedProblem) log('loadgen', { level: 'warn', msg: 'feed error', url: config.feed, error: problem });
    feedProblem = problem;
  });
  ws.on('close', (code) => {
    if (feedSocket === ws) feedSocket = undefined;
    if (stopping) return;
    if (code !== 1006 || feedProblem === undefined) log('loadgen', { msg: 'feed closed', code });
    feedRetry = setTimeout(openFeed, config.feedRetryMs);
  });
}

let inflight = 0;
let stopping = false;
const idle: Array<() => void> = [];

const ticker = setInterval(() => {
  if (inflight >= config.maxInflight) {
    count('skipped');
    return;
  }
  count('actions');
  inflight++;
  action()
    .catch((err: unknown) => log('loadgen', { level: 'error', msg: 'action failed', error: String(err) }))
    .finally(() => {
      inflight--;
      if (inflight === 0) for (const f of idle.splice(0)) f();
    });
}, 1000 / config.rate);
const reporter = setInterval(() => summary(), config.summaryS * 1000);

async function stop(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  clearInterval(reporter);
  clearTimeout(feedRetry);
  log('loadgen', { msg: 'stopping', reason, inflight });
  const feedClosed = feedSocket && feedSocket.readyState !== WebSocket.CLOSED ? new Promise<void>((r) => feedSocket!.once('close', () => r())) : Promise.resolve();
  feedSocket?.close(1000, 'loadgen stopping');
  if (inflight > 0) await Promise.race([new Promise<void>((r) => idle.push(r)), sleep(3000)]);
  await Promise.race([feedClosed, sleep(1000)]);
  summary(true);
  process.exit(0);
}

process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
if (config.durationS > 0) setTimeout(() => void stop('duration'), config.durationS * 1000).unref();
log('loadgen', { msg: 'started', frontend: config.frontend, feed: config.feed ?? null, rate: config.rate, seed: config.seed });
openFeed();
