/**
 * The application of the system tests' server pod, run as an ordinary uid inside the pod's
 * namespace. Argument: a JSON object of ports. Prints `{"ready":true}` once all are listening.
 *
 * HTTP (`http` port, and `httpExcluded`, the same handler on a port the rules exclude):
 *   /echo            answers with the request body (and its content-type)
 *   /bytes?n=N       N pseudo-random bytes; header x-sha256 has their digest
 *   /sha256          reads the body, answers {"sha256": hex, "size": n}
 *   /slow?ms=N       answers "slow ok" after N ms
 *   /stream?chunks=N&ms=M   N chunks of 64 KiB, one every M ms (a response to cut short)
 *   /reset           resets the connection instead of answering
 *   /flaky/<key>?fail=N      503 for the first N requests (default 2) with that key, then 200
 *   /ratelimited/<key>?after=S   429 with `Retry-After: S` (default 1) for the first request with
 *                    that key, then 200
 *   /resolve?name=N  looks N up (A records, the pod's resolver) and answers with the addresses
 * TCP:
 *   halfClose        reads until the client's FIN, then answers "<size> <sha256>" and ends
 *   banner           writes "220 meshtap-test ready\r\n" at once (server-first), echoes lines,
 *                    answers "221 bye\r\n" and ends after the client's FIN
 */
import { createHash } from 'node:crypto';
import { resolve4 } from 'node:dns/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';

interface Ports {
  http: number;
  httpExcluded: number;
  halfClose: number;
  banner: number;
}

const ports = JSON.parse(process.argv[2] ?? '{}') as Ports;

/** Deterministic bytes from a seed: the test recomputes nothing, it compares digests. */
function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Requests seen per key of /flaky/ and /ratelimited/: each test uses keys of its own. */
const seenKeys = new Map<string, number>();

/** The n-th request (from 1) with this key. */
function nth(key: string): number {
  const n = (seenKeys.get(key) ?? 0) + 1;
  seenKeys.set(key, n);
  return n;
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://app');
  if (url.pathname.startsWith('/flaky/')) {
    await readBody(req);
    const n = nth(url.pathname);
    if (n <= Number(url.searchParams.get('fail') ?? '2')) return plain(res, 503, `try again (${n})\n`);
    return plain(res, 200, `ok after ${n}\n`);
  }
  if (url.pathname.startsWith('/ratelimited/')) {
    await readBody(req);
    const after = url.searchParams.get('after') ?? '1';
    if (nth(url.pathname) === 1) return plain(res, 429, 'slow down\n', { 'retry-after': after });
    return plain(res, 200, 'ok\n');
  }
  switch (url.pathname) {
    case '/resolve': {
      await readBody(req);
      const addresses = await resolve4(url.searchParams.get('name') ?? '').catch((err: Error) => [`error: ${err.message}`]);
      return plain(res, 200, `${addresses.sort().join(',')}\n`);
    }
    case '/echo': {
      const body = await readBody(req);
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length });
      res.end(body);
      return;
    }
    case '/bytes': {
      const n = Number(url.searchParams.get('n') ?? '0');
      const body = pseudoRandom(n, Number(url.searchParams.get('seed') ?? '7'));
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
        'x-sha256': createHash('sha256').update(body).digest('hex'),
      });
      res.end(body);
      return;
    }
    case '/sha256': {
      const body = await readBody(req);
      const answer = JSON.stringify({ sha256: createHash('sha256').update(body).digest('hex'), size: body.length });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
      return;
    }
    case '/slow': {
      await readBody(req);
      await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms') ?? '100')));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 7 });
      res.end('slow ok');
      return;
    }
    case '/stream': {
      await readBody(req);
      const chunks = Number(url.searchParams.get('chunks') ?? '50');
      const ms = Number(url.searchParams.get('ms') ?? '20');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': chunks * chunk.length });
      for (let i = 0; i < chunks && !res.destroyed; i++) {
        res.write(chunk);
        await new Promise((r) => setTimeout(r, ms));
      }
      res.end();
      return;
    }
    case '/reset': {
      await readBody(req);
      req.socket.resetAndDestroy();
      return;
    }
    default: {
      await readBody(req);
      const body = `no route ${url.pathname}\n`;
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  }
}

function httpServer() {
  const server = createHttpServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

const halfClose = createTcpServer({ allowHalfOpen: true }, (socket) => {
  const hash = createHash('sha256');
  let size = 0;
  socket.on('error', () => undefined);
  socket.on('data', (c: Buffer) => {
    size += c.length;
    hash.update(c);
  });
  socket.on('end', () => socket.end(`${size} ${hash.digest('hex')}`));
});

const banner = createTcpServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => undefined);
  socket.write('220 meshtap-test ready\r\n');
  socket.on('data', (c: Buffer) => socket.write(c));
  socket.on('end', () => socket.end('221 bye\r\n'));
});

const listening = [
  [httpServer(), ports.http],
  [httpServer(), ports.httpExcluded],
  [halfClose, ports.halfClose],
  [banner, ports.banner],
] as const;

let pending = listening.length;
for (const [server, port] of listening) {
  server.listen({ host: '0.0.0.0', port }, () => {
    if (--pending === 0) process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  });
}
process.on('SIGTERM', () => process.exit(0));
