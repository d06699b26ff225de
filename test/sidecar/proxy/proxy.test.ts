/**
 * The proxy over loopback: the original destination is injected (no iptables), so these run
 * without root. Forwarding, half-close, resets, backpressure, failures and capture wiring.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import t from 'tap';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createEpochClock } from '../../../sidecar/clock.ts';
import { createSidecarStats, type SidecarStats } from '../../../sidecar/metrics.ts';
import type { OriginalDstResult } from '../../../sidecar/original-dst.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import type { CaptureFactory } from '../../../sidecar/proxy/capture-tap.ts';
import type { ConnectionMeta } from '../../../sidecar/proxy/connection.ts';
import { createInlineCapture } from '../../../sidecar/proxy/inline-capture.ts';
import type { SidecarProxy } from '../../../sidecar/proxy/proxy.ts';
import { loopbackProxy } from './loopback-proxy.ts';

/** The part of a tap test the helpers need. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

interface Harness {
  proxy: SidecarProxy;
  stats: SidecarStats;
  outboundPort: number;
  inboundPort: number;
  exchanges: Array<{ exchange: Exchange; meta: ConnectionMeta }>;
  setTarget(port: number): void;
}

async function startProxy(
  t: Teardown,
  options: { capture?: CaptureFactory | null; originalDst?: () => OriginalDstResult; detectTimeoutMs?: number } = {},
): Promise<Harness> {
  const stats = createSidecarStats();
  const exchanges: Harness['exchanges'] = [];
  let target = 1;
  const clock = createEpochClock();
  const proxy = loopbackProxy({
    clock,
    stats,
    capture:
      options.capture === null
        ? undefined
        : createInlineCapture({
            factory: options.capture ?? createCaptureFactory(),
            clock,
            stats,
            maxBodyBytes: 1024,
            detectTimeoutMs: options.detectTimeoutMs ?? 50,
            onExchange: (exchange, meta) => exchanges.push({ exchange, meta }),
          }),
    targetPort: () => target,
    ...(options.originalDst !== undefined ? { originalDst: options.originalDst } : {}),
  });
  const addresses = await proxy.listen();
  t.teardown(async () => {
    await proxy.stopAccepting();
    await proxy.drain(0);
  });
  return {
    proxy,
    stats,
    outboundPort: addresses.outbound.port,
    inboundPort: addresses.inbound.port,
    exchanges,
    setTarget: (port) => (target = port),
  };
}

async function startServer(t: Teardown, onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Resolves on 'close' whatever errors came first (events.once would reject on 'error'). */
function closed(socket: Socket): Promise<void> {
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

const execFileAsync = promisify(execFile);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

void t.test('bytes cross exactly both ways, for both listeners', async (t) => {
  // The server sends its own random payload after reading the client's to EOF (half-close).
  const serverPayload = randomBytes(3 * 1024 * 1024 + 17);
  const received: string[] = [];
  const { port } = await startServer(t, (socket) => {
    void readAll(socket).then((data) => {
      received.push(sha(data));
      socket.end(serverPayload);
    });
  });
  const h = await startProxy(t);
  h.setTarget(port);
  for (const listener of [h.outboundPort, h.inboundPort]) {
    const clientPayload = randomBytes(2 * 1024 * 1024 + 5);
    const socket = await dial(listener);
    const reply = readAll(socket);
    socket.end(clientPayload);
    t.equal(sha(await reply), sha(serverPayload), 'server → client byte-exact');
    t.equal(received.at(-1), sha(clientPayload), 'client → server byte-exact');
  }
  t.ok(await eventually(() => h.exchanges.length === 2), 'one opaque record per connection');
  t.same(
    h.exchanges.map((e) => [e.meta.observer, e.exchange.protocol, e.exchange.bytes_out, e.exchange.bytes_in]),
    [
      ['outbound', 'tcp', 2 * 1024 * 1024 + 5, serverPayload.length],
      ['inbound', 'tcp', 2 * 1024 * 1024 + 5, serverPayload.length],
    ].map(([o, p, out]) => [o, p, out, serverPayload.length]),
  );
  t.equal(h.stats.outbound.bytesFromServer, serverPayload.length);
  t.equal(h.stats.inbound.bytesFromClient, 2 * 1024 * 1024 + 5);
  t.ok(await eventually(() => h.stats.outbound.active === 0 && h.stats.inbound.active === 0), 'no connection left open');
});

void t.test('inbound connects from the passthrough source, outbound does not', async (t) => {
  const sources: string[] = [];
  const { port } = await startServer(t, (socket) => {
    sources.push(socket.remoteAddress ?? '');
    socket.end();
  });
  const h = await startProxy(t);
  h.setTarget(port);
  for (const listener of [h.outboundPort, h.inboundPort]) {
    const socket = await dial(listener);
    socket.end();
    await readAll(socket);
  }
  t.same(sources, ['127.0.0.1', '127.0.0.6']);
});

void t.test('a half-closed client still gets the answer the server sends after EOF', async (t) => {
  const { port } = await startServer(t, (socket) => {
    void readAll(socket).then((data) => {
      setTimeout(() => socket.end(`got ${data.length} bytes`), 50);
    });
  });
  const h = await startProxy(t);
  h.setTarget(port);
  const socket = await dial(h.outboundPort);
  socket.write('hello ');
  socket.end('world');
  t.equal((await readAll(socket)).toString(), 'got 11 bytes');
});

void t.test('a server reset resets the client', async (t) => {
  const { port } = await startServer(t, (socket) => {
    socket.once('data', () => socket.resetAndDestroy());
  });
  const h = await startProxy(t);
  h.setTarget(port);
  const socket = await dial(h.outboundPort);
  socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNRESET');
  t.ok(await eventually(() => h.exchanges.length === 1));
  t.equal(h.exchanges[0].exchange.protocol, 'http');
  t.equal(h.exchanges[0].exchange.error, 'reset', 'the unanswered request is a reset record');
});

void t.test('a client reset resets the server side', async (t) => {
  let serverError: string | undefined;
  const serverClosed = new Promise<void>((resolve) => {
    void startServer(t, (socket) => {
      socket.on('error', (err: NodeJS.ErrnoException) => (serverError = err.code));
      socket.on('close', () => resolve());
      socket.write('x'.repeat(1000));
    }).then(async ({ port }) => {
      const h = await startProxy(t);
      h.setTarget(port);
      const socket = await dial(h.outboundPort);
      await once(socket, 'data');
      socket.resetAndDestroy();
    });
  });
  await serverClosed;
  t.equal(serverError, 'ECONNRESET');
});

/** A loopback port nothing listens on: one a server just gave back. */
async function freedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  return port;
}

void t.test('an unreachable upstream resets the client and leaves a record', async (t) => {
  const closedPort = await freedPort();
  const h = await startProxy(t);
  h.setTarget(closedPort);
  const socket = connect({ host: '127.0.0.1', port: h.outboundPort });
  socket.write('GET / HTTP/1.1\r\n\r\n');
  const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNRESET');
  t.ok(await eventually(() => h.exchanges.length === 1));
  t.equal(h.exchanges[0].exchange.error, 'upstream_unreachable');
  t.equal(h.exchanges[0].exchange.error_detail, 'ECONNREFUSED');
  // The request that was sent is in the record: which call failed, not only that one did.
  t.match(h.exchanges[0].exchange, { protocol: 'http', method: 'GET', path: '/', bytes_in: 0 });
  t.equal(h.exchanges[0].exchange.status_code, undefined, 'no answer');
  t.equal(h.stats.outbound.upstreamConnectFailures, 1);
});

void t.test('an unreachable upstream with bytes that make no call leaves one record with its protocol and bytes', async (t) => {
  const closedPort = await freedPort();
  const h = await startProxy(t);
  h.setTarget(closedPort);
  const socket = connect({ host: '127.0.0.1', port: h.outboundPort });
  socket.write('GET /half');
  await once(socket, 'error');
  t.ok(await eventually(() => h.exchanges.length === 1));
  t.match(h.exchanges[0].exchange, { error: 'upstream_unreachable', error_detail: 'ECONNREFUSED', bytes_in: 0 });
  t.equal(h.exchanges.length, 1, 'one record');
});

void t.test('a failed original-destination lookup closes the connection and is counted', async (t) => {
  const h = await startProxy(t, { originalDst: () => ({ ok: false, reason: 'getsockopt', errno: 2 }) });
  await closed(connect({ host: '127.0.0.1', port: h.inboundPort }));
  t.same(h.stats.inbound.originalDstFailures, { getsockopt: 1 });
});

void t.test('a connection to the listener itself is refused instead of looping', async (t) => {
  let port = 0;
  const h = await startProxy(t, { originalDst: () => ({ ok: true, dst: { ip: '127.0.0.1', port } }) });
  port = h.outboundPort;
  await closed(connect({ host: '127.0.0.1', port: h.outboundPort }));
  t.same(h.stats.outbound.originalDstFailures, { not_redirected: 1 });
  t.equal(h.proxy.activeConnections, 0);
});

void t.test('a server that speaks first is forwarded at once', async (t) => {
  const { port } = await startServer(t, (socket) => {
    socket.write('220 banner\r\n');
    socket.on('end', () => socket.end('221 bye\r\n'));
    socket.resume();
  });
  const h = await startProxy(t, { detectTimeoutMs: 5000 });
  h.setTarget(port);
  const started = performance.now();
  const socket = await dial(h.outboundPort);
  const [banner] = (await once(socket, 'data')) as [Buffer];
  const ms = performance.now() - started;
  t.equal(banner.toString(), '220 banner\r\n');
  t.ok(ms < 2500, `banner after ${ms.toFixed(1)} ms, not after the 5 s detect timeout`);
  const rest = readAll(socket);
  socket.end('QUIT\r\n');
  t.equal((await rest).toString(), '221 bye\r\n');
  t.ok(await eventually(() => h.exchanges.length === 1));
  t.equal(h.exchanges[0].exchange.protocol, 'tcp');
});

void t.test('HTTP/1 through the proxy: records with method, path, status', async (t) => {
  const { port } = await startServer(t, (socket) => {
    let buffered = '';
    socket.on('data', (c: Buffer) => {
      buffered += c.toString();
      while (buffered.includes('\r\n\r\n')) {
        const [head] = buffered.split('\r\n\r\n', 1);
        buffered = buffered.slice(head.length + 4);
        const path = head.split(' ')[1];
        const body = `you asked for ${path}`;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\n\r\n${body}`);
      }
    });
    socket.on('end', () => socket.end());
  });
  const h = await startProxy(t);
  h.setTarget(port);
  const socket = await dial(h.inboundPort);
  const reply = readAll(socket);
  socket.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n');
  await eventually(() => h.exchanges.length === 2);
  socket.end();
  const text = (await reply).toString();
  t.match(text, /you asked for \/a[\s\S]*you asked for \/b/);
  t.ok(await eventually(() => h.exchanges.length === 2));
  t.same(
    h.exchanges.map((e) => [e.exchange.ordinal, e.exchange.method, e.exchange.path, e.exchange.status_code, Buffer.from(e.exchange.response?.body ?? []).toString()]),
    [
      [0, 'GET', '/a', 200, 'you asked for /a'],
      [1, 'GET', '/b', 200, 'you asked for /b'],
    ],
  );
  t.same(h.stats.inbound.connectionsByProtocol, { http: 1 });
});

void t.test('a request with 70 KB of headers: curl gets the server\'s 431, the record has it too', async (t) => {
  // The sidecar's head limit (64 KiB) stops parsing the request; the server reads the whole
  // head, answers 431 and closes, and the record waits for that answer.
  const answer = 'HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large';
  const { port } = await startServer(t, (socket) => {
    let seen = '';
    socket.on('data', (c: Buffer) => {
      seen += c.toString('latin1');
      if (seen.includes('\r\n\r\n')) socket.end(answer);
    });
  });
  const h = await startProxy(t);
  h.setTarget(port);
  const out = await execFileAsync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Big: ${'b'.repeat(70_000)}`, `http://127.0.0.1:${h.inboundPort}/orders?id=7`]);
  t.equal(out.stdout, '431', 'the client got the server\'s answer');
  t.ok(await eventually(() => h.exchanges.length === 1));
  const e = h.exchanges[0].exchange;
  t.match(e, { method: 'GET', path: '/orders?id=7', status_code: 431, error: 'parse', error_detail: /HEAD_TOO_LARGE/ });
  t.equal(e.bytes_in, answer.length, 'the answer\'s bytes are counted');
  t.ok(e.bytes_out > 70_000, 'so are the request\'s');
});

void t.test('a memcached-style text protocol (opens like an inline Redis command) is recorded as opaque tcp', async (t) => {
  const { port } = await startServer(t, (socket) => {
    socket.on('data', (c: Buffer) => {
      if (c.toString().startsWith('set ')) socket.write('STORED\r\n');
      else socket.end('VALUE k 0 3\r\nbar\r\nEND\r\n');
    });
  });
  const h = await startProxy(t);
  h.setTarget(port);
  const socket = await dial(h.inboundPort);
  const reply = readAll(socket);
  socket.write('set k 0 0 3\r\nbar\r\n');
  await new Promise((r) => setTimeout(r, 50));
  socket.end('get k\r\n');
  t.equal((await reply).toString(), 'STORED\r\nVALUE k 0 3\r\nbar\r\nEND\r\n');
  t.ok(await eventually(() => h.exchanges.length === 1));
  t.match(h.exchanges[0].exchange, { protocol: 'tcp', bytes_out: 'set k 0 0 3\r\nbar\r\nget k\r\n'.length, bytes_in: 'STORED\r\nVALUE k 0 3\r\nbar\r\nEND\r\n'.length });
  t.equal(h.exchanges[0].exchange.error, undefined);
  t.same(h.stats.parserErrors, createSidecarStats().parserErrors, 'no parse error counted');
});

void t.test('a parser that throws never breaks the connection', async (t) => {
  const real = createCaptureFactory();
  const faulty: CaptureFactory = {
    detect: real.detect,
    createSession: (protocol, ctx) => {
      const session = real.createSession(protocol, ctx);
      return {
        ...session,
        serverData: () => {
          throw new Error('parser bug');
        },
      };
    },
  };
  const payload = randomBytes(256 * 1024);
  const { port } = await startServer(t, (socket) => {
    socket.once('data', () => socket.end(payload));
  });
  const h = await startProxy(t, { capture: faulty });
  h.setTarget(port);
  const socket = await dial(h.outboundPort);
  const reply = readAll(socket);
  socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  t.equal(sha(await reply), sha(payload));
  socket.end();
  t.equal(h.stats.parserErrors.exception, 1);
});

void t.test('a slow reader pauses the upstream instead of buffering everything', async (t) => {
  const total = 96 * 1024 * 1024;
  let written = 0;
  const { port } = await startServer(t, (socket) => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const pump = () => {
      while (written < total) {
        written += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  const h = await startProxy(t, { capture: null });
  h.setTarget(port);
  const socket = await dial(h.outboundPort);
  socket.pause();
  await new Promise((r) => setTimeout(r, 500));
  t.ok(h.stats.outbound.bytesFromServer < total / 2, `proxy read ${h.stats.outbound.bytesFromServer} of ${total} bytes while the client did not read`);
  t.ok(written < total, 'the server was held back too');
  let got = 0;
  socket.on('data', (c: Buffer) => (got += c.length));
  socket.resume();
  await once(socket, 'end');
  socket.end();
  t.equal(got, total, 'everything arrives once the client reads');
  t.same(h.stats.outbound.connectionsByProtocol, {}, 'capture off: not counted until closed');
  t.ok(await eventually(() => h.stats.outbound.connectionsByProtocol.uncaptured === 1));
});

void t.test('drain waits for open connections, then ends the rest', async (t) => {
  const { port } = await startServer(t, () => undefined);
  const h = await startProxy(t);
  h.setTarget(port);
  const socket = await dial(h.outboundPort);
  const socketClosed = closed(socket);
  socket.on('end', () => socket.end());
  socket.resume();
  socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  await eventually(() => h.proxy.activeConnections === 1);
  await h.proxy.stopAccepting();
  const refused = connect({ host: '127.0.0.1', port: h.outboundPort });
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'no new connections while draining');
  const started = Date.now();
  t.equal(await h.proxy.drain(200), 1, 'one connection ended at the deadline');
  t.ok(Date.now() - started >= 190);
  await socketClosed;
  t.ok(await eventually(() => h.exchanges.length === 1));
  t.equal(h.exchanges[0].exchange.error, 'unpaired', 'the open request was flushed');
});

void t.test('drain returns at once when nothing is open', async (t) => {
  const h = await startProxy(t);
  await h.proxy.stopAccepting();
  const started = Date.now();
  t.equal(await h.proxy.drain(5000), 0);
  t.ok(Date.now() - started < 2500, 'not at the 5 s deadline');
});
