/**
 * Shop app `orders`: stores orders.
 *
 *   POST /orders { user, items, amount, chargeId } → 201 { id }
 *   GET  /orders/:id                                → the order, 404 if unknown
 *
 * Orders are kept in memory only. PostgreSQL is not wired: PG_ADDR is accepted (so a scenario
 * may set it) but only logged, and the app says at start that it is using memory.
 *
 * Env: PORT (8080), PG_ADDR (unset; not used), ORDER_ID_START (1001).
 */
import { HttpError, envHostPort, envInt, isRecord, loadConfig, log, numericId, serve } from './_common.ts';

const config = loadConfig('orders', () => ({
  port: envInt('PORT', 8080, { min: 0, max: 65535 }),
  pg: envHostPort('PG_ADDR'),
  firstId: envInt('ORDER_ID_START', 1001, { min: 1, max: 1e12 }),
}));

interface Order {
  id: number;
  user: string;
  items: unknown[];
  amount: number;
  chargeId: string;
  createdAt: string;
}

const orders = new Map<number, Order>();
let nextId = config.firstId;

log('orders', {
  level: config.pg ? 'warn' : 'info',
  msg: config.pg ? `PG_ADDR=${config.pg.host}:${config.pg.port} is set, but PostgreSQL is not wired: orders are kept in memory` : 'orders are kept in memory',
});

await serve({
  app: 'orders',
  port: config.port,
  routes: [
    {
      method: 'POST',
      path: '/orders',
      handler: ({ body }) => {
        if (!isRecord(body) || typeof body.user !== 'string' || !Array.isArray(body.items) || typeof body.amount !== 'number' || typeof body.chargeId !== 'string') {
          throw new HttpError(400, 'expected { user, items, amount, chargeId }');
        }
        const order: Order = { id: nextId++, user: body.user, items: body.items, amount: body.amount, chargeId: body.chargeId, createdAt: new Date().toISOString() };
        orders.set(order.id, order);
        return { status: 201, body: { id: order.id } };
      },
    },
    {
      method: 'GET',
      path: '/orders/:id',
      handler: ({ params }) => {
        const order = orders.get(numericId(params.id, 'order'));
        if (!order) throw new HttpError(404, `no order ${params.id}`);
        return { body: order };
      },
    },
  ],
});
