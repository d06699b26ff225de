/**
 * Shop app `payment`: charges a card.
 *
 *   POST /charge { card: { number, expiry?, holder? }, amount (cents), currency? }
 *     → 201 { chargeId, status: "approved", amount, currency, last4 }
 *     → 402 when the card number fails the Luhn check, 400 on a malformed body
 *     → 503 now and then (PAYMENT_FAIL_RATE), and now and then slow (PAYMENT_SLOW_RATE)
 *
 * The outcomes come from a PRNG seeded with PAYMENT_SEED, so a run is repeatable and tests
 * can force them with rates of 0 or 1.
 *
 * A second listener on PAYMENT_H2_PORT speaks HTTP/2 in cleartext (h2c, prior knowledge, a
 * `node:http2` server), which the gateway asks before every charge:
 *
 *   GET /limits  → 200 { currency, maxAmountCents, methods }
 *   GET /healthz → 200; anything else 404 (JSON, one log line per stream with `proto: "h2c"`)
 *
 * Env: PORT (8080), PAYMENT_H2_PORT (8443; 0 picks a free one, logged as `h2cPort`),
 * PAYMENT_MAX_AMOUNT_CENTS (100000), PAYMENT_FAIL_RATE (0.05), PAYMENT_SLOW_RATE (0.10),
 * PAYMENT_SLOW_MIN_MS (300), PAYMENT_SLOW_MAX_MS (800), PAYMENT_SEED (42).
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, HttpError, envInt, envNumber, isRecord, loadConfig, log, luhn, parseTraceparent, seededRandom, serve } from './_common.ts';

const config = loadConfig('payment', () => {
  const c = {
    port: envInt('PORT', 8080, { min: 0, max: 65535 }),
    h2Port: envInt('PAYMENT_H2_PORT', 8443, { min: 0, max: 65535 }),
    maxAmountCents: envInt('PAYMENT_MAX_AMOUNT_CENTS', 100_000, { min: 1, max: 1e12 }),
    failRate: envNumber('PAYMENT_FAIL_RATE', 0.05, { min: 0, max: 1 }),
    slowRate: envNumber('PAYMENT_SLOW_RATE', 0.1, { min: 0, max: 1 }),
    slowMinMs: envInt('PAYMENT_SLOW_MIN_MS', 300, { min: 0, max: 60_000 }),
    slowMaxMs: envInt('PAYMENT_SLOW_MAX_MS', 800, { min: 0, max: 60_000 }),
    seed: envInt('PAYMENT_SEED', 42, { min: 0, max: 2 ** 32 - 1 }),
  };
  if (c.slowMaxMs < c.slowMinMs) throw new ConfigError(`PAYMENT_SLOW_MAX_MS=${c.slowMaxMs}: expected at least PAYMENT_SLOW_MIN_MS (${c.slowMinMs})`);
  return c;
});

const random = seededRandom(config.seed);
let charges = 0;

// h2c: one JSON answer per stream.
const h2 = http2.createServer();
const sessions = new Set<http2.ServerHttp2Session>();
h2.on('session', (session) => {
  sessions.add(session);
  session.on('close', () => sessions.delete(session));
  session.on('error', () => {});
});
h2.on('stream', (stream, headers) => {
  const started = performance.now();
  const method = String(headers[':method']);
  const path = new URL(String(headers[':path'] ?? '/'), 'http://local').pathname;
  const trace = parseTraceparent(headers.traceparent);
  let status = 404;
  let body: unknown = { error: `no route for ${path}` };
  if (path === '/healthz') {
    status = 200;
    body = { status: 'ok', app: 'payment', proto: 'h2c' };
  } else if (path === '/limits') {
    status = method === 'GET' || method === 'HEAD' ? 200 : 405;
    body = status === 200 ? { currency: 'EUR', maxAmountCents: config.maxAmountCents, methods: ['card'] } : { error: `method ${method} not allowed on ${path}` };
  }
  stream.on('error', () => {});
  // The request body, if any, is not used; reading it lets the stream finish.
  stream.resume();
  const payload = JSON.stringify(body);
  stream.respond({ ':status': status, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  stream.end(payload);
  if (path !== '/healthz') {
    log('payment', { proto: 'h2c', method, path, route: status === 404 ? undefined : path, status, ms: Math.round(performance.now() - started), trace: trace?.traceId ?? null });
  }
});
const h2Port = await new Promise<number>((resolve, reject) => {
  h2.once('error', reject);
  h2.listen(config.h2Port, '0.0.0.0', () => resolve((h2.address() as AddressInfo).port));
});

await serve({
  app: 'payment',
  port: config.port,
  listening: { h2cPort: h2Port },
  onClosing: () => {
    h2.close();
    for (const session of sessions) session.close();
    setTimeout(() => {
      for (const session of sessions) session.destroy();
    }, 2000).unref();
  },
  routes: [
    {
      method: 'POST',
      path: '/charge',
      handler: async ({ body }) => {
        // Draw all three numbers for every request so one outcome does not shift the next ones.
        const failDraw = random();
        const slowDraw = random();
        const delayDraw = random();
        const card = isRecord(body) && isRecord(body.card) ? body.card : undefined;
        const amount = isRecord(body) ? body.amount : undefined;
        if (!card || typeof card.number !== 'string' || typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
          throw new HttpError(400, 'expected { card: { number }, amount } with amount in cents');
        }
        if (slowDraw < config.slowRate) await sleep(config.slowMinMs + Math.round(delayDraw * (config.slowMaxMs - config.slowMinMs)));
        if (failDraw < config.failRate) throw new HttpError(503, 'payment processor unavailable', { retryable: true });
        if (!luhn(card.number)) throw new HttpError(402, 'card declined', { reason: 'invalid_number' });
        const currency = isRecord(body) && typeof body.currency === 'string' ? body.currency : 'EUR';
        return {
          status: 201,
          body: { chargeId: `ch_${(++charges).toString().padStart(6, '0')}`, status: 'approved', amount, currency, last4: card.number.replace(/\D/g, '').slice(-4) },
        };
      },
    },
  ],
});
