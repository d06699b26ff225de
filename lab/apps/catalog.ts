/**
 * Shop app `catalog`: the product list.
 *
 *   GET /products       → { products: [...] }
 *   GET /products/:id   → a product (ids are numbers), 404 if unknown
 *
 * With REDIS_ADDR (`host:port`) the products live in Redis (seeded at first contact, read with
 * GET), so the mesh also shows Redis traffic. When Redis is unset or unreachable the catalog
 * serves from memory and says so in its log; it retries Redis at most every REDIS_RETRY_MS.
 *
 * Env: PORT (8080), REDIS_ADDR (unset), REDIS_RETRY_MS (5000), REDIS_TIMEOUT_MS (500).
 */
import { HttpError, envHostPort, envInt, loadConfig, numericId, serve } from './_common.ts';
import { redisConnection } from './_redis.ts';

const config = loadConfig('catalog', () => ({
  port: envInt('PORT', 8080, { min: 0, max: 65535 }),
  redis: envHostPort('REDIS_ADDR'),
  retryMs: envInt('REDIS_RETRY_MS', 5000, { min: 0, max: 600_000 }),
  timeoutMs: envInt('REDIS_TIMEOUT_MS', 500, { min: 10, max: 60_000 }),
}));

interface Product {
  id: number;
  name: string;
  priceCents: number;
  currency: 'EUR';
  stock: number;
}

const PRODUCTS: readonly Product[] = [
  { id: 1, name: 'Sidecar mug', priceCents: 1299, currency: 'EUR', stock: 40 },
  { id: 2, name: 'Packet capture poster', priceCents: 2499, currency: 'EUR', stock: 12 },
  { id: 3, name: 'mTLS socks (pair)', priceCents: 899, currency: 'EUR', stock: 100 },
  { id: 4, name: 'Trace-id sticker pack', priceCents: 499, currency: 'EUR', stock: 250 },
  { id: 5, name: 'Kubernetes YAML cookbook', priceCents: 3999, currency: 'EUR', stock: 7 },
];

const memory = new Map(PRODUCTS.map((p) => [p.id, p]));
const redis = redisConnection({
  app: 'catalog',
  addr: config.redis,
  retryMs: config.retryMs,
  timeoutMs: config.timeoutMs,
  memory: 'the in-memory catalog',
  onConnect: async (client) => {
    await client.command('SET', 'catalog:ids', JSON.stringify(PRODUCTS.map((p) => p.id)));
    for (const p of PRODUCTS) await client.command('SET', `catalog:product:${p.id}`, JSON.stringify(p));
    return `seeded ${PRODUCTS.length} products`;
  },
});

async function readProduct(id: number): Promise<Product | undefined> {
  const client = await redis.client();
  if (client) {
    try {
      const raw = await client.command('GET', `catalog:product:${id}`);
      return raw === null ? undefined : (JSON.parse(raw) as Product);
    } catch (err) {
      redis.failed(err);
    }
  }
  return memory.get(id);
}

async function readAll(): Promise<Product[]> {
  const client = await redis.client();
  if (client) {
    try {
      const ids = JSON.parse((await client.command('GET', 'catalog:ids')) ?? '[]') as number[];
      const products = await Promise.all(ids.map((id) => client.command('GET', `catalog:product:${id}`)));
      return products.filter((p): p is string => p !== null).map((p) => JSON.parse(p) as Product);
    } catch (err) {
      redis.failed(err);
    }
  }
  return [...memory.values()];
}

if (config.redis) await redis.client();
else redis.useMemory('REDIS_ADDR is not set');

await serve({
  app: 'catalog',
  port: config.port,
  onShutdown: () => redis.close(),
  routes: [
    { method: 'GET', path: '/products', handler: async () => ({ body: { products: await readAll(), source: redis.mode() ?? 'memory' } }) },
    {
      method: 'GET',
      path: '/products/:id',
      handler: async ({ params }) => {
        const id = numericId(params.id, 'product');
        const product = await readProduct(id);
        if (!product) throw new HttpError(404, `no product ${id}`);
        return { body: product };
      },
    },
  ],
});
