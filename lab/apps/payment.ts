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
 * Env: PORT (8080), PAYMENT_FAIL_RATE (0.05), PAYMENT_SLOW_RATE (0.10),
 * PAYMENT_SLOW_MIN_MS (300), PAYMENT_SLOW_MAX_MS (800), PAYMENT_SEED (42).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, HttpError, envInt, envNumber, isRecord, loadConfig, luhn, seededRandom, serve } from './_common.ts';

const config = loadConfig('payment', () => {
  const c = {
    port: envInt('PORT', 8080, { min: 0, max: 65535 }),
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

await serve({
  app: 'payment',
  port: config.port,
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
