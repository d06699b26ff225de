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
import { Socket } from 'node:net';
import { HttpError, envHostPort, envInt, loadConfig, log, numericId, serve } from './_common.ts';

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

/**
 * Just enough RESP2 for GET and SET: commands go out as arrays of bulk strings; replies are
 * parsed from a buffer and handed to waiting callers in order (Redis answers in order).
 */
class RedisClient {
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve: (v: string | null) => void; reject: (e: Error) => void }> = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    const fail = (err: Error) => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('redis connection closed')));
  }

  static connect(host: string, port: number, timeoutMs: number): Promise<RedisClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.connect(port, host, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new RedisClient(socket));
      });
    });
  }

  command(...args: string[]): Promise<string | null> {
    if (this.closed) return Promise.reject(new Error('redis connection closed'));
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(out);
    });
  }

  close(): void {
    this.closed = true;
    this.socket.end();
  }

  /** Parses as many complete replies as the buffer holds. */
  private drain(): void {
    for (;;) {
      const eol = this.buffer.indexOf('\r\n');
      if (eol < 0) return;
      const type = String.fromCharCode(this.buffer[0]);
      const line = this.buffer.subarray(1, eol).toString('utf8');
      let value: string | null;
      let error: Error | undefined;
      let used = eol + 2;
      if (type === '+' || type === ':') value = line;
      else if (type === '-') {
        value = null;
        error = new Error(`redis: ${line}`);
      } else if (type === '$') {
        const len = Number(line);
        if (len < 0) value = null;
        else {
          if (this.buffer.length < used + len + 2) return;
          value = this.buffer.subarray(used, used + len).toString('utf8');
          used += len + 2;
        }
      } else {
        // GET/SET never answer with anything else; treat it as a broken stream.
        this.socket.destroy(new Error(`redis: unexpected reply type ${JSON.stringify(type)}`));
        return;
      }
      this.buffer = this.buffer.subarray(used);
      const w = this.waiting.shift();
      if (error) w?.reject(error);
      else w?.resolve(value);
    }
  }
}

const memory = new Map(PRODUCTS.map((p) => [p.id, p]));
let redis: RedisClient | undefined;
let lastAttempt = -Infinity;
let mode: 'memory' | 'redis' | undefined;

function useMemory(reason: string): void {
  if (mode !== 'memory') log('catalog', { level: 'warn', msg: `using the in-memory catalog: ${reason}` });
  mode = 'memory';
}

/** The Redis client when Redis is configured and reachable; otherwise undefined (memory is used). */
async function store(): Promise<RedisClient | undefined> {
  if (!config.redis) return undefined;
  if (redis && !redis.closed) return redis;
  if (performance.now() - lastAttempt < config.retryMs) return undefined;
  lastAttempt = performance.now();
  const { host, port } = config.redis;
  try {
    const client = await RedisClient.connect(host, port, config.timeoutMs);
    await client.command('SET', 'catalog:ids', JSON.stringify(PRODUCTS.map((p) => p.id)));
    for (const p of PRODUCTS) await client.command('SET', `catalog:product:${p.id}`, JSON.stringify(p));
    redis = client;
    mode = 'redis';
    log('catalog', { msg: `using Redis at ${host}:${port} (seeded ${PRODUCTS.length} products)` });
    return client;
  } catch (err) {
    useMemory(`Redis at ${host}:${port} unreachable (${(err as Error).message}); retrying every ${config.retryMs} ms`);
    return undefined;
  }
}

async function readProduct(id: number): Promise<Product | undefined> {
  const client = await store();
  if (client) {
    try {
      const raw = await client.command('GET', `catalog:product:${id}`);
      return raw === null ? undefined : (JSON.parse(raw) as Product);
    } catch (err) {
      useMemory(`Redis failed (${(err as Error).message})`);
    }
  }
  return memory.get(id);
}

async function readAll(): Promise<Product[]> {
  const client = await store();
  if (client) {
    try {
      const ids = JSON.parse((await client.command('GET', 'catalog:ids')) ?? '[]') as number[];
      const products = await Promise.all(ids.map((id) => client.command('GET', `catalog:product:${id}`)));
      return products.filter((p): p is string => p !== null).map((p) => JSON.parse(p) as Product);
    } catch (err) {
      useMemory(`Redis failed (${(err as Error).message})`);
    }
  }
  return [...memory.values()];
}

if (config.redis) await store();
else useMemory('REDIS_ADDR is not set');

await serve({
  app: 'catalog',
  port: config.port,
  onShutdown: () => redis?.close(),
  routes: [
    { method: 'GET', path: '/products', handler: async () => ({ body: { products: await readAll(), source: mode ?? 'memory' } }) },
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
